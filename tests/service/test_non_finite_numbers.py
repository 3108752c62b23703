"""NaN, Infinity and numbers past a double's range are not JSON (RFC 8259 §6): refused in REST
bodies (422 naming the field) and in websocket commands (the command error, naming where),
never taken in nor echoed back as non-standard JSON. A real server on loopback, a real
websocket."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.service.deliveries.conftest import WAIT, tampere

OFFICE = "ro-addis-ababa"
WEBHOOK = '{"url": "https://duty.example.org/h", "events": ["alert.received"], "routed_only": %s}'
EMAIL = '{"address": "a@itu.example", "events": ["alert.received"], "digest_minutes": %s}'
CONTACT = (
    '{"id": "ao-x", "kind": "national", "name": "X", "region": "Africa", "country": "KEN", '
    '"tampere_convention": %s}'
)
REQUEST = (
    '{"country": "KEN", "items": [{"type": "equipment", "description": "VSAT terminals", "quantity": %s}]}'
)
STATUS = '{"country": "KEN", "fraction_down": %s}'
CASES = [
    ("POST", f"/api/v1/contact-points/{OFFICE}/webhooks", WEBHOOK, "/routed_only"),
    ("POST", f"/api/v1/contact-points/{OFFICE}/email", EMAIL, "/digest_minutes"),
    ("POST", "/api/v1/contact-points", CONTACT, "/tampere_convention"),
    ("POST", "/api/v1/requests", REQUEST, "/items/0/quantity"),
    ("POST", "/api/v1/alerts/1/ack", '{"note": %s}', "/note"),
    ("POST", "/api/v1/network-status", STATUS, "/fraction_down"),
]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" + "0" * 400])
async def test_a_rest_body_with_a_number_that_is_not_finite_is_a_422_naming_the_field(
    tmp_path: Path, number: str
) -> None:
    async with tampere(f"sqlite+aiosqlite:///{tmp_path / 't.db'}", tmp_path / "var") as t:
        operator = await t.token("operator")
        for method, path, template, where in CASES:
            answer = await t.http.request(
                method,
                path,
                content=(template % number).encode(),
                headers={"Authorization": f"Bearer {operator}", "Content-Type": "application/json"},
            )
            assert answer.status_code == 422, (path, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            [error] = answer.json()["errors"]
            assert (error["rule"], error["path"]) == ("request.body.number", where), (path, error)
            assert number[:40] in error["message"]
        # Nothing was made of them.
        hooks = await t.call("GET", f"/api/v1/contact-points/{OFFICE}/webhooks", operator)
        assert hooks.json()["webhooks"] == []


async def replies(ws: Any, sent: list[str]) -> list[str]:
    """The raw text of the answers to `sent`, one each, in order."""
    texts = []
    for text in sent:
        await ws.send(text)
        async with asyncio.timeout(WAIT):
            while True:
                raw = await ws.recv()
                if json.loads(raw)["type"] != "heartbeat":
                    texts.append(raw)
                    break
    return texts


async def test_a_websocket_command_with_a_number_that_is_not_finite_is_refused_not_echoed(
    tmp_path: Path,
) -> None:
    async with tampere(f"sqlite+aiosqlite:///{tmp_path / 't.db'}", tmp_path / "var") as t:
        office = await t.token("office", office=OFFICE)
        url = f"ws://127.0.0.1:{t.port}/api/v1/events"
        sent = [
            '{"type":"ack","alert":1e400}',
            '{"type":"ack","alert":NaN}',
            '{"type":"ack","alert":-Infinity}',
            '{"type":"ack","alert":7,"note":[1,{"x":Infinity}]}',
        ]
        async with connect(url, additional_headers={"Authorization": f"Bearer {office}"}) as ws:
            answers = await replies(ws, sent)
            # The connection stays usable: a well-formed command is answered as before.
            [known] = await replies(ws, ['{"type":"ack","alert":424242}'])
        for raw, where in zip(answers, ["/alert", "/alert", "/alert", "/note/1/x"], strict=True):
            # Standard JSON only: nothing a strict reader refuses (the words may stand in the
            # message that explains the refusal, as text, never as a bare value).
            reply = json.loads(raw, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
            assert (reply["type"], reply["status"]) == ("error", 400), reply
            [error] = reply["errors"]
            assert (error["rule"], error["path"]) == ("events.command.json", where), reply
            assert "request" not in reply
        assert json.loads(known)["type"] == "ack.result" and json.loads(known)["status"] == 404


def test_an_event_holding_a_number_that_is_not_finite_is_sent_as_standard_json() -> None:
    from datetime import UTC, datetime

    from service.events.stream import StoredEvent, event_message

    event = StoredEvent(
        id=7,
        at=datetime(2026, 3, 1, tzinfo=UTC),
        type="network.status",
        payload={"fraction_down": float("nan"), "sites": [1.5, float("inf")]},
        regions=[],
        countries=["KEN"],
        scope="Public",
        status="Actual",
        poster_id=None,
        sender=None,
        addresses=None,
        parties=None,
    )
    text = event_message(event)
    body = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert (body["fraction_down"], body["sites"]) == (None, [1.5, None])
