"""The README stands alone and says what the code does: its roles table against the decisions in
service/auth.py, service/visibility.py and the routes; its layer table against the layer kinds;
no pointer to documents a clone does not have."""

from __future__ import annotations

import pytest

from service.assistance.store import ACKNOWLEDGE, FILE, MOVE
from service.auth import (
    ADMINISTRATION,
    BDT,
    OFFICE,
    OPERATOR,
    RESPONDER,
    ROLES,
    Principal,
    may_modify,
    may_post_as,
)
from service.deliveries.contacts import may_manage
from service.layers.files import LAYER_KINDS
from service.network.reports import may_report
from service.visibility import SEE_EVERY_REQUEST, MessageFacts, is_contact, may_see_alert, may_see_sources
from tests.conftest import ServiceUnderTest
from tests.test_quickstart import README, readme_block

# One principal of each role, as the decisions see it (ids 1-5; the alerts below are another's).
PRINCIPALS = {
    ADMINISTRATION: Principal(1, ADMINISTRATION, country="KEN", senders=frozenset({"cap@meteo.go.ke"})),
    OFFICE: Principal(2, OFFICE, office="ro-addis-ababa"),
    BDT: Principal(3, BDT),
    RESPONDER: Principal(4, RESPONDER),
    OPERATOR: Principal(5, OPERATOR),
}
SOMEONE_ELSES = MessageFacts(scope="Restricted", poster_id=99, sender="other@example.org", addresses=())

# Each column of the table, and the decision of the code it states (True: the cell says "yes").
DECISIONS = {
    "posts CAP alerts": lambda p: may_post_as(p, "cap@meteo.go.ke"),
    "updates, cancels, acks its own alerts": lambda p: may_modify(p, sender="x@y", poster_id=p.id),
    "sees Restricted alerts": lambda p: may_see_alert(p, SOMEONE_ELSES),
    "files assistance requests": lambda p: p.role in FILE.roles,
    "acknowledges requests": lambda p: p.role in ACKNOWLEDGE.roles,
    "moves requests along": lambda p: p.role in MOVE.roles,
    "sees every request": lambda p: p.role in SEE_EVERY_REQUEST,
    "reports network status": may_report,
    "registers feeds": may_see_sources,
}
# Columns that depend on the registry as a running service holds it (seeded with the national
# contact points of every Member State).
REGISTRY_DECISIONS = {
    "acknowledges alerts routed to it": is_contact,
    "sets webhooks and e-mail of a contact point": may_manage,
}


def roles_table() -> dict[str, dict[str, str]]:
    """role -> column -> cell, from the README."""
    lines = [line for line in readme_block("roles").splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(header, cells, strict=True))
    return rows


def says_yes(cell: str) -> bool:
    word = cell.split(",")[0].split(" ")[0]
    assert word in ("yes", "no"), f"a cell starts with yes or no: {cell!r}"
    return word == "yes"


def test_the_roles_table_has_every_role() -> None:
    assert sorted(roles_table()) == sorted(ROLES)


@pytest.mark.parametrize("column", sorted(DECISIONS))
def test_each_column_of_the_roles_table_is_what_the_code_decides(column: str) -> None:
    table = roles_table()
    stated = {role: says_yes(table[role][column]) for role in ROLES}
    decided = {role: bool(DECISIONS[column](PRINCIPALS[role])) for role in ROLES}
    assert stated == decided


@pytest.mark.parametrize("column", sorted(REGISTRY_DECISIONS))
async def test_registry_columns_are_what_the_code_decides_on_the_seeded_registry(
    service: ServiceUnderTest, column: str
) -> None:
    table = roles_table()
    contacts = list(service.runtime.contacts)
    stated = {role: says_yes(table[role][column]) for role in ROLES}
    decided = {role: any(REGISTRY_DECISIONS[column](PRINCIPALS[role], c) for c in contacts) for role in ROLES}
    assert stated == decided


async def test_operator_only_actions_are_as_the_table_says(service: ServiceUnderTest) -> None:
    table = roles_table()
    tokens = {
        ADMINISTRATION: await service.token(ADMINISTRATION, country="KEN", senders=["cap@meteo.go.ke"]),
        OFFICE: await service.token(OFFICE, office="ro-addis-ababa"),
        BDT: await service.token(BDT),
        RESPONDER: await service.token(RESPONDER),
        OPERATOR: await service.token(OPERATOR),
    }
    for role, token in tokens.items():
        headers = {"Authorization": f"Bearer {token}"}
        issued = await service.client.post("/api/v1/tokens", json={"role": "responder"}, headers=headers)
        reloaded = await service.client.post("/api/v1/layers/reload", headers=headers)
        office = {"id": f"ao-{role}", "kind": "area_office", "name": "A test office", "region": "Africa"}
        added = await service.client.post("/api/v1/contact-points", json=office, headers=headers)
        allowed = says_yes(table[role]["issues tokens, reloads layers, edits contact points"])
        answers = (issued.status_code, reloaded.status_code, added.status_code)
        assert answers == ((201, 200, 201) if allowed else (403, 403, 403)), (role, added.text)


def test_the_layer_table_names_each_kind_with_its_licence() -> None:
    text = README.read_text(encoding="utf-8")
    for kind in LAYER_KINDS.values():
        licence = kind.licence.split(":")[0]
        assert f"| `{kind.name}` |" in text and licence in text, kind.name
        row = next(line for line in text.splitlines() if line.startswith(f"| `{kind.name}` |"))
        assert row.rstrip(" |").endswith(licence), row


def test_the_readme_stands_alone() -> None:
    text = README.read_text(encoding="utf-8")
    assert "ARCHITECTURE.md" not in text and "shared/docs" not in text
    for heading in ("## Quickstart", "## Where the data lives", "## Roles", "## Command line"):
        assert heading in text
    assert "TAMPERE_DATA_DIR" in text and "--data-dir" in text and ". .venv/bin/activate" in text
