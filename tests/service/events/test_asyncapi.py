"""GET /asyncapi.json tells the truth: the service is driven through every event type it emits
(EVENT_TYPES), a subscriber receives them over a real websocket and a webhook receives them over
HTTP, and each message validates against the payload schema the document gives for its type;
the heartbeat too (on the stream only)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
from sqlalchemy import delete

from service.alerts.recipients import escalate_due as escalate_alerts_due
from service.assistance.store import escalate_due
from service.db.models import Sender
from service.events.asyncapi import message_name
from service.events.log import EVENT_TYPES
from service.layers.files import import_layer
from tests.conftest import NAIROBI, make_cap
from tests.service.deliveries.conftest import Receiver
from tests.service.events.test_stream import Served, serve

SAMPLES = Path(__file__).resolve().parents[3] / "docs" / "samples"
SENDER = "cap@meteo.go.ke"
# A small square over Mombasa (CAP lat,lon pairs): Kenya, away from the Nairobi outage below.
MOMBASA = "-4.10,39.60 -4.10,39.72 -3.98,39.72 -3.98,39.60 -4.10,39.60"


def _date_time(value: object) -> bool:
    """RFC 3339 date-time with an offset (what `format: date-time` promises)."""
    if not isinstance(value, str):
        return True
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    return "T" in value and parsed.tzinfo is not None


FORMATS = jsonschema.FormatChecker(formats=())
FORMATS.checks("date-time")(_date_time)


def resolve(document: dict[str, Any], ref: str) -> Any:
    """Follow a local JSON pointer ($ref) in the document (RFC 6901)."""
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def refs_in(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [node["$ref"]] if "$ref" in node else [r for v in node.values() for r in refs_in(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs_in(v)]
    return []


async def test_the_document_names_every_event_type_with_payload_and_audience(
    database_url: str, tmp_path: Path
) -> None:
    async with serve(database_url, tmp_path / "var") as served:
        answer = await served.http.get("/asyncapi.json")
    assert answer.status_code == 200
    document = answer.json()
    assert document["asyncapi"] == "3.0.0"
    assert document["channels"]["events"]["address"] == "/api/v1/events"
    messages = document["components"]["messages"]
    assert sorted(m["name"] for m in messages.values()) == sorted(
        [*EVENT_TYPES, "heartbeat", "ack", "ack.result", "error"]
    )
    for message in messages.values():
        assert message["payload"]["properties"]["type"] == {"const": message["name"]}
        assert message["x-audience"] and message["summary"]
        jsonschema.Draft202012Validator.check_schema(message["payload"])
    # Every reference points somewhere, and both operations carry every event type.
    for ref in refs_in(document):
        assert resolve(document, ref) is not None, ref
    for operation in ("receiveEvents", "deliverWebhooks"):
        named = {resolve(document, m["$ref"])["$ref"] for m in document["operations"][operation]["messages"]}
        assert {f"#/components/messages/{message_name(t)}" for t in EVENT_TYPES} <= named


async def _drive_every_event_type(served: Served, data_dir: Path) -> tuple[str, int]:
    """Make the service emit each type of EVENT_TYPES once at least, as users and time would;
    the office token it used, and an alert routed to that office it has not acknowledged."""
    http = served.http
    operator = await served.token("operator")
    kenya = await served.token("administration", country="KEN", senders=[SENDER])
    office = await served.token("office", office="ro-addis-ababa")
    now = datetime.now(UTC).replace(microsecond=0)

    def cap(identifier: str, **kwargs: Any) -> bytes:
        return make_cap(identifier, sender=SENDER, sent=kwargs.pop("sent", now), **kwargs)

    def ref(identifier: str, sent: datetime = now) -> tuple[str, str, datetime]:
        return (SENDER, identifier, sent)

    # alert.received, alert.updated, alert.cancelled, alert.acknowledged, alert.error
    first = await served.post(cap("AA-1"), kenya)
    # alert.routing.acknowledged: the office it is routed to acknowledges it.
    acknowledged = await http.post(
        f"/api/v1/alerts/{first['id']}/ack", headers={"Authorization": f"Bearer {office}"}
    )
    assert acknowledged.status_code == 200, acknowledged.text
    # A minor alert, routed to the office alone until its networks go down (below).
    minor = await served.post(cap("AA-11", severity="Minor", event="Rain"), kenya)
    await served.post(cap("AA-2", msg_type="Update", references=[ref("AA-1")]), kenya)
    await served.post(cap("AA-3"), kenya)
    await served.post(cap("AA-4", msg_type="Cancel", references=[ref("AA-3")]), kenya)
    fifth = await served.post(cap("AA-5"), kenya)
    await served.post(cap("AA-6", msg_type="Ack", references=[ref("AA-5")], with_info=False), kenya)
    await served.post(cap("AA-7", msg_type="Error", references=[ref("AA-5")], with_info=False), kenya)
    # alert.expired: a late relay, already past its <expires> when it arrives.
    late = now - timedelta(hours=3)
    await served.post(cap("AA-8", sent=late, expires=late + timedelta(hours=1)), kenya)
    # alert.reference-refused: a Cancel waits for the alert it names; by the time that alert
    # arrives (relayed by the operator), the sender is no longer registered to Kenya.
    await served.post(cap("AA-9", msg_type="Cancel", references=[ref("AA-10")]), kenya)
    runtime = served.app.state.runtime
    await runtime.db.write(lambda conn: conn.execute(delete(Sender.__table__)))
    await served.post(cap("AA-10"), operator)
    # alert.impact: a cell layer arrives under the active alerts over Nairobi.
    await asyncio.to_thread(import_layer, "opencellid", SAMPLES / "opencellid-nairobi.csv", data_dir)
    reloaded = await http.post("/api/v1/layers/reload", headers={"Authorization": f"Bearer {operator}"})
    assert reloaded.status_code == 200, reloaded.text
    # network.status (and a second alert.impact, from the report)
    report = {"state": "down", "area": {"type": "Polygon", "coordinates": [_ring(NAIROBI)]}}
    reported = await http.post(
        "/api/v1/network-status", json=report, headers={"Authorization": f"Bearer {operator}"}
    )
    assert reported.status_code == 201, reported.text
    # alert.routing.added: with every site of its area down, the minor alert now goes to BDT too.
    rerouted = (await http.get(f"/api/v1/alerts/{minor['id']}")).json()
    assert len(rerouted["routing"]) > len(minor["routing"]), (minor["routing"], rerouted["routing"])
    # contact_point.changed: the operator renames an office.
    operator_auth = {"Authorization": f"Bearer {operator}"}
    dakar = (await http.get("/api/v1/contact-points/ao-dakar", headers=operator_auth)).json()
    changed = await http.put(
        "/api/v1/contact-points/ao-dakar",
        json={**dakar, "name": "ITU Area Office, Dakar"},
        headers=operator_auth,
    )
    assert changed.status_code == 200, changed.text
    # request.created, request.acknowledged, request.status, request.escalated
    filing = {
        "kind": "equipment",
        "title": "Satellite terminals",
        "description": "Base stations along the river are flooded.",
        "urgency": "immediate",
        "items": [{"item": "satellite terminal", "quantity": 2}],
        "contact": {"name": "Duty officer"},
    }
    filed = await http.post("/api/v1/requests", json={**filing, "country": "KEN"}, headers=operator_auth)
    assert filed.status_code == 201, filed.text
    request_id = filed.json()["id"]
    office_auth = {"Authorization": f"Bearer {office}"}
    acked = await http.post(f"/api/v1/requests/{request_id}/ack", json={"note": "on it"}, headers=office_auth)
    assert acked.status_code == 200, acked.text
    moved = await http.post(
        f"/api/v1/requests/{request_id}/status",
        json={"state": "in-progress", "note": "terminals shipped"},
        headers=office_auth,
    )
    assert moved.status_code == 200, moved.text
    unanswered = await http.post("/api/v1/requests", json={**filing, "country": "KEN"}, headers=operator_auth)
    assert unanswered.status_code == 201
    # A minor alert over Mombasa (relayed: Kenya lost its sender above), routed to the office
    # alone, that nobody acknowledges.
    await served.post(cap("AA-12", severity="Minor", event="Rain", polygon=MOMBASA), operator)
    # Time passes beyond every acknowledgement deadline: the sweeps escalate requests and alerts.
    later = datetime.now(UTC) + timedelta(days=2)
    assert await runtime.db.write(lambda conn: escalate_due(conn, now=later)) >= 1
    # Alerts: six hours on, past the flash deadline, before the default lifetime (48 h) ends them.
    sooner = datetime.now(UTC) + timedelta(hours=6)
    assert (
        await runtime.db.write(lambda conn: escalate_alerts_due(conn, now=sooner, registry=runtime.contacts))
        >= 1
    )
    return office, fifth["id"]


def _ring(polygon: str) -> list[list[float]]:
    """A CAP polygon (lat,lon pairs) as a GeoJSON ring (lon, lat)."""
    return [[float(p.split(",")[1]), float(p.split(",")[0])] for p in polygon.split()]


# Webhooks to a receiver on loopback, retried quickly.
WEBHOOK_SETTINGS = {
    "webhook_allow_private_addresses": True,
    "webhook_max_backoff_seconds": 0.4,
    "delivery_poll_seconds": 0.1,
    "events_heartbeat_seconds": 0.3,
}


async def test_every_event_the_service_emits_matches_the_document(database_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    hooks = Receiver()
    await hooks.up()
    try:
        async with serve(database_url, data_dir, **WEBHOOK_SETTINGS) as served:
            document = (await served.http.get("/asyncapi.json")).json()
            operator = await served.token("operator")
            # BDT's webhook, for every event type: BDT sees every request and every Public alert.
            hook = await served.http.post(
                "/api/v1/contact-points/bdt/webhooks",
                json={"url": hooks.url, "events": list(EVENT_TYPES)},
                headers={"Authorization": f"Bearer {operator}"},
            )
            assert hook.status_code == 201, hook.text
            received: list[dict[str, Any]] = []
            async with served.subscribe(operator) as ws:
                office, unacknowledged = await _drive_every_event_type(served, data_dir)
                # Read until every type has come, and one heartbeat once the stream is idle.
                wanted = {*EVENT_TYPES, "heartbeat"}
                try:
                    async with asyncio.timeout(30):
                        while not wanted <= {m["type"] for m in received}:
                            received.append(json.loads(await ws.recv()))
                except TimeoutError:
                    missing = sorted(wanted - {m["type"] for m in received})
                    raise AssertionError(f"the stream never sent {missing}") from None
            try:
                async with asyncio.timeout(30):
                    while not set(EVENT_TYPES) <= {json.loads(r.body)["type"] for r in hooks.received}:
                        await asyncio.sleep(0.1)
            except TimeoutError:
                missing = sorted(set(EVENT_TYPES) - {json.loads(r.body)["type"] for r in hooks.received})
                raise AssertionError(f"the webhook never received {missing}") from None
            # The office's commands on its own stream, and the replies: taken, refused, not a command.
            async with served.subscribe(office) as desk:
                acks = [{"type": "ack", "alert": unacknowledged}, {"type": "ack", "alert": 999_999}]
                for command in [*acks, {"type": "nope"}]:
                    await desk.send(json.dumps(command))
                for command in acks:
                    jsonschema.validate(command, document["components"]["messages"]["ack"]["payload"])
                replies: list[dict[str, Any]] = []
                async with asyncio.timeout(10):
                    while len([r for r in replies if r["id"] is None and r["type"] != "heartbeat"]) < 3:
                        replies.append(json.loads(await desk.recv()))
            answered = [(r["type"], r["status"]) for r in replies if r["type"] in ("ack.result", "error")]
            assert answered == [("ack.result", 200), ("ack.result", 404), ("error", 400)], answered
            received += replies
    finally:
        await hooks.down()
    delivered = [json.loads(r.body) for r in hooks.received]
    assert "heartbeat" not in {m["type"] for m in delivered}
    seen = {m["type"] for m in received}
    assert set(EVENT_TYPES) <= seen, f"never emitted: {sorted(set(EVENT_TYPES) - seen)}"
    by_type = {m["name"]: m for m in document["components"]["messages"].values()}
    for message in [*received, *delivered]:
        schema = by_type[message["type"]]["payload"]
        errors = sorted(
            jsonschema.Draft202012Validator(schema, format_checker=FORMATS).iter_errors(message), key=str
        )
        assert errors == [], (message, [e.message for e in errors])
    # Once the cell layer came, an impact counted the sites it holds.
    impacts = [m for m in received if m["type"] == "alert.impact"]
    assert any(m["sites"]["total"] for m in impacts)
