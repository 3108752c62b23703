"""Every principal against every output: nothing leaks, and REST and the websocket agree.

Principals: anonymous, a responder, two administrations (Kenya, Uganda), two offices (Addis
Ababa, which serves Kenya, and Bangkok), BDT and the operator. Alerts of each scope, a Private
Cancel of a Public alert, a Public Update of a Private alert, and an assistance request linking
a Private alert. Each carries a secret marker; every output each principal can read (alert
item, list, `/cap`, `/impact`, Atom, request item and list, the websocket replayed from 0 over
a real socket, the contact-point registry and its items) is searched for every marker, and must
hold exactly those it may see. The people of a contact point (Addis Ababa's here) are seen by
the operator, BDT and that office only."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import KAMPALA
from tests.service.events.test_stream import Served, next_event, sent_at, serve

KEN = "alerts@meteo.go.ke"
UGA = "alerts@unma.go.ug"
PRINCIPALS = ("anonymous", "responder", "kenya", "uganda", "addis", "bangkok", "bdt", "operator")
ITU = {"addis", "bangkok", "bdt", "operator"}  # granted Restricted alerts
EVERYONE = set(PRINCIPALS)


@pytest.fixture
async def served(database_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    async with serve(database_url, tmp_path / "var") as running:
        yield running


def marker(name: str) -> str:
    """A string that appears nowhere but where the test put it."""
    return f"SECRET{name}{secrets.token_hex(6)}"


async def post(served: Served, token: str, body: bytes) -> dict[str, Any]:
    """POST a CAP message, expecting 201."""
    return await served.post(body, token)


async def test_every_principal_sees_in_every_output_exactly_what_it_may(served: Served, cap_message) -> None:
    tokens: dict[str, str | None] = {
        "anonymous": None,
        "responder": await served.token("responder"),
        "kenya": await served.token("administration", country="KEN", senders=[KEN]),
        "uganda": await served.token("administration", country="UGA", senders=[UGA]),
        "addis": await served.token("office", office="ro-addis-ababa"),
        "bangkok": await served.token("office", office="ro-bangkok"),
        "bdt": await served.token("bdt"),
        "operator": await served.token("operator"),
    }
    kenya, uganda = tokens["kenya"], tokens["uganda"]
    assert kenya and uganda
    m = {name: marker(name) for name in ("PUB", "RES", "PRIV", "CANCEL", "UPD", "UGA", "REQ", "PEOPLE")}
    operator = {"Authorization": f"Bearer {tokens['operator']}"}
    addis_office = (await served.http.get("/api/v1/contact-points/ro-addis-ababa", headers=operator)).json()
    addis_office.update(people=[{"name": m["PEOPLE"], "role": "head of office"}], head=m["PEOPLE"])
    changed = await served.http.put(
        "/api/v1/contact-points/ro-addis-ababa", json=addis_office, headers=operator
    )
    assert changed.status_code == 200, changed.text

    def alert(identifier: str, n: int, **kw: Any) -> bytes:
        return cap_message(identifier, sent=sent_at(n), **kw)

    public = await post(served, kenya, alert("M-PUB", 1, headline=m["PUB"]))
    restricted = await post(
        served, kenya, alert("M-RES", 2, scope="Restricted", restriction="ITU", headline=m["RES"])
    )
    private = await post(
        served, kenya, alert("M-PRIV", 3, scope="Private", addresses=["ro-addis-ababa"], headline=m["PRIV"])
    )
    cancelled = await post(served, kenya, alert("M-PUB2", 4))
    # A Private Cancel of a Public alert: everyone sees "cancelled", only its addressees by what.
    cancel = await post(
        served,
        kenya,
        alert(
            f"M-{m['CANCEL']}",
            5,
            msg_type="Cancel",
            scope="Private",
            addresses=["ro-addis-ababa"],
            references=[(KEN, "M-PUB2", sent_at(4))],
            headline=m["CANCEL"],
        ),
    )
    # A Public Update of the Private alert: its references name the Private one, whose id is
    # told only to who may see it.
    update = await post(
        served,
        kenya,
        alert("M-UPD", 6, msg_type="Update", references=[(KEN, "M-PRIV", sent_at(3))], headline=m["UPD"]),
    )
    ugandan = await post(
        served,
        uganda,
        alert(
            "M-UGA", 7, sender=UGA, scope="Restricted", restriction="ITU", polygon=KAMPALA, headline=m["UGA"]
        ),
    )
    filed = await served.http.post(
        "/api/v1/requests",
        json={
            "kind": "equipment",
            "title": f"Terminals for Garissa {m['REQ']}",
            "description": "Backhaul down after the floods.",
            "items": [{"item": "Inmarsat BGAN terminal", "quantity": 10}],
            "urgency": "immediate",
            "related_alerts": [private["id"], public["id"]],
            "contact": {"name": "Jane Wanjiru"},
        },
        headers={"Authorization": f"Bearer {kenya}"},
    )
    assert filed.status_code == 201, filed.text
    request = filed.json()
    recipients = {r["contact"]["id"] for r in request["routing"]["recipients"]}
    assert "ro-addis-ababa" in recipients and "ro-bangkok" not in recipients
    sentinel = await post(served, kenya, alert("M-END", 9))

    may_see = {
        "PUB": EVERYONE,
        "RES": ITU | {"kenya"},
        "PRIV": {"kenya", "addis"},
        "CANCEL": {"kenya", "addis"},
        "UPD": EVERYONE,
        "UGA": ITU | {"uganda"},
        "REQ": {"kenya", "addis", "bdt", "operator"},
        "PEOPLE": {"addis", "bdt", "operator"},
    }
    alerts = {
        "PUB": public["id"],
        "RES": restricted["id"],
        "PRIV": private["id"],
        "PUB2": cancelled["id"],
        "CANCEL": cancel["id"],
        "UPD": update["id"],
        "UGA": ugandan["id"],
        "END": sentinel["id"],
    }
    alert_may_see = {**may_see, "PUB2": EVERYONE, "END": EVERYONE}
    atom = (await served.http.get("/api/v1/feeds/alerts.atom")).text

    for who in PRINCIPALS:
        token = tokens[who]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        texts: dict[str, str] = {}
        readable: set[str] = set()
        details: dict[str, dict[str, Any]] = {}
        for name, alert_id in alerts.items():
            for suffix in ("", "/cap", "/impact"):
                response = await served.http.get(f"/api/v1/alerts/{alert_id}{suffix}", headers=headers)
                assert response.status_code in (200, 404), (who, name, suffix, response.text)
                texts[f"alert {name}{suffix}"] = response.text
                if response.status_code == 200:
                    readable.add(name)
                    if not suffix:
                        details[name] = response.json()
        expected_alerts = {name for name in alerts if who in alert_may_see[name]}
        assert readable == expected_alerts, who
        texts["list"] = (await served.http.get("/api/v1/alerts", headers=headers)).text
        listed = {f["id"] for f in json.loads(texts["list"])["features"]}
        # Active alerts and updates only: the cancelled, the superseded and the Cancel itself not.
        active = {"PUB", "RES", "UPD", "UGA", "END"} & expected_alerts
        assert listed == {alerts[n] for n in active}, who
        texts["atom"] = atom
        request_item = await served.http.get(f"/api/v1/requests/{request['id']}", headers=headers)
        request_list = await served.http.get("/api/v1/requests", headers=headers)
        texts["request"], texts["requests"] = request_item.text, request_list.text
        registry = await served.http.get("/api/v1/contact-points", headers=headers)
        office = await served.http.get("/api/v1/contact-points/ro-addis-ababa", headers=headers)
        texts["contact points"], texts["contact point"] = registry.text, office.text
        assert (registry.status_code, office.status_code) == (
            (401, 401) if who == "anonymous" else (200, 200)
        )
        if who == "anonymous":
            assert (request_item.status_code, request_list.status_code) == (401, 401)
        elif who in may_see["REQ"]:
            assert request_item.status_code == 200
            related = {r["alert_id"] for r in request_item.json()["related_alerts"]}
            # The Private alert is linked for who may see it, and for no one else.
            assert related == ({private["id"], public["id"]} if who in may_see["PRIV"] else {public["id"]}), (
                who
            )
            [listed_request] = request_list.json()["requests"]
            assert listed_request["related_alerts"] == request_item.json()["related_alerts"]
        else:
            assert request_item.status_code == 404 and request_list.json()["requests"] == []

        # The Update's reference to the Private alert: its id only to who may see it.
        [reference] = details["UPD"]["references"]
        assert reference["alert_id"] == (private["id"] if who in may_see["PRIV"] else None), who
        # The Private Cancel's identity in the cancelled alert's history.
        cancelled_step = next(s for s in details["PUB2"]["history"] if s["action"] == "cancelled")
        assert details["PUB2"]["state"] == "cancelled"
        assert cancelled_step["by"] == (cancel["id"] if who in may_see["CANCEL"] else None), who

        received = await replay(served, token, until=sentinel["id"])
        texts["websocket"] = json.dumps(received)
        if token is None:
            assert received == []
        else:
            # The websocket tells of exactly the alerts REST lets this principal read...
            about = {e["alert_id"] for e in received if "alert_id" in e}
            assert about == {alerts[n] for n in expected_alerts}, who
            # ...of the request if and only if REST shows it...
            told_request = any(e.get("request_id") == request["id"] for e in received)
            assert told_request == (who in may_see["REQ"]), who
            # ...and of what cancelled the Public alert as REST history does.
            [event] = [
                e for e in received if e["type"] == "alert.cancelled" and e["alert_id"] == alerts["PUB2"]
            ]
            assert event["by"] == cancelled_step["by"], who
            assert ("by_identifier" in event) == (who in may_see["CANCEL"]), who

        for name, secret in m.items():
            found = sorted(where for where, text in texts.items() if secret in text)
            if who in may_see[name]:
                assert found, (who, name)
            else:
                assert found == [], (who, name, found)


async def replay(served: Served, token: str | None, *, until: int) -> list[dict[str, Any]]:
    """Every event the stream replays from 0 to this principal, up to the sentinel alert."""
    if token is None:
        # No token, no stream: refused at the handshake or closed (4401) before any event.
        with pytest.raises((ConnectionClosed, InvalidStatus)):
            async with served.subscribe(None, since=0) as ws:
                await next_event(ws)
        return []
    received: list[dict[str, Any]] = []
    async with served.subscribe(token, since=0) as ws:
        while True:
            event = await next_event(ws)
            received.append(event)
            if event.get("alert_id") == until and event["type"] == "alert.received":
                return received
