"""service.visibility: the one decision of who sees an alert, a request and an event; its SQL
clauses keep what its predicates allow."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from service.alerts.view import AlertView, select_views
from service.assistance.store import load_request
from service.auth import Principal, principal_for_token
from service.db.models import AssistanceRequestRecord
from service.visibility import (
    RequestParties,
    alert_clause,
    may_see_alert,
    may_see_event,
    may_see_request,
    request_clause,
)
from tests.conftest import ServiceUnderTest

KEN = "alerts@meteo.go.ke"
KENYA_REQUEST = RequestParties(requester_id=7, country="KEN", contacts=("ro-addis-ababa", "bdt"))


def principal(role: str, **kwargs: Any) -> Principal:
    return Principal(id=kwargs.pop("id", 100), role=role, **kwargs)


@dataclass
class Event:
    type: str
    scope: str = "Restricted"
    poster_id: int | None = None
    sender: str | None = None
    addresses: list[str] | None = None
    parties: RequestParties | None = None


def test_a_request_is_seen_by_its_administration_recipients_bdt_and_operator() -> None:
    seen = {
        "kenya": principal("administration", country="KEN"),
        "filer": principal("bdt", id=7),
        "addis (any case)": principal("office", office="RO-Addis-Ababa"),
        "bdt": principal("bdt"),
        "operator": principal("operator"),
    }
    unseen = {
        "bangkok": principal("office", office="ro-bangkok"),
        "uganda": principal("administration", country="UGA"),
        "responder": principal("responder"),
    }
    assert all(may_see_request(p, KENYA_REQUEST) for p in seen.values())
    assert not any(may_see_request(p, KENYA_REQUEST) for p in unseen.values())


def test_a_request_event_follows_the_request_and_an_alert_event_its_scope() -> None:
    bangkok, addis = principal("office", office="ro-bangkok"), principal("office", office="ro-addis-ababa")
    created = Event("request.created", parties=KENYA_REQUEST)
    assert may_see_event(addis, created) and not may_see_event(bangkok, created)
    # Written without parties (before they were recorded): the coordinators only.
    legacy = Event("request.status")
    assert not may_see_event(addis, legacy) and may_see_event(principal("bdt"), legacy)
    # Alert events: CAP scope, as for the alert itself.
    restricted = Event("alert.received", poster_id=1, sender=KEN, addresses=[])
    assert may_see_event(bangkok, restricted)
    assert not may_see_event(principal("administration", country="UGA"), restricted)
    assert may_see_event(principal("responder"), Event("network.status", scope="Public"))


async def test_the_sql_clauses_keep_exactly_what_the_predicates_allow(
    service: ServiceUnderTest, cap_message: Callable[..., bytes]
) -> None:
    kenya = await service.token("administration", country="KEN", senders=[KEN])
    tokens = {
        "kenya": kenya,
        "uganda": await service.token("administration", country="UGA"),
        "addis": await service.token("office", office="ro-addis-ababa"),
        "bangkok": await service.token("office", office="RO-BANGKOK"),
        "bdt": await service.token("bdt"),
        "responder": await service.token("responder"),
        "operator": await service.token("operator"),
    }
    auth = {"Authorization": f"Bearer {kenya}"}
    for n, (scope, extra) in enumerate(
        [
            ("Public", {}),
            ("Restricted", {"restriction": "ITU only"}),
            ("Private", {"addresses": ["ro-bangkok"]}),
            ("Private", {"addresses": ["UGA"]}),
        ]
    ):
        message = cap_message(f"VIS-{n}", scope=scope, **extra)
        posted = await service.client.post("/api/v1/alerts", content=message, headers=auth)
        assert posted.status_code == 201, posted.text
    request = {
        "kind": "equipment",
        "title": "Terminals",
        "description": "Backhaul down.",
        "urgency": "high",
        "items": [{"item": "VSAT", "quantity": 2}],
        "contact": {"name": "J"},
    }
    for who, country in (("kenya", None), ("operator", "HTI")):
        body = {**request, **({"country": country} if country else {})}
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        filed = await service.client.post("/api/v1/requests", json=body, headers=headers)
        assert filed.status_code == 201, filed.text

    def compare(conn: Any) -> None:
        views = [AlertView(*row) for row in conn.execute(select_views())]
        requests = conn.execute(select(AssistanceRequestRecord.id)).scalars().all()
        for name, token in [*tokens.items(), ("anonymous", None)]:
            who = principal_for_token(conn, token) if token else None
            clause = alert_clause(who)
            cut = select_views() if clause is None else select_views().where(clause)
            kept = {row.id for row in conn.execute(cut)}
            allowed = {v.id for v in views if may_see_alert(who, v)}
            assert allowed <= kept, name
            if who is None or who.role == "responder":
                assert kept == allowed, name
            if who is None:
                continue
            table = AssistanceRequestRecord.__table__
            where = request_clause(who)
            query = select(table.c.id) if where is None else select(table.c.id).where(where)
            listed = set(conn.execute(query).scalars())
            stored = [load_request(conn, request_id) for request_id in requests]
            assert listed == {s.row.id for s in stored if s and may_see_request(who, s.parties)}, name

    await service.runtime.db.read(compare)
