"""A CAP 1.0 <password> never leaves the service: not on REST, not in lists or feeds, not on the
stream, for no principal (over a real server on loopback, SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import NAIROBI, cap_time
from tests.service.events.test_stream import WAIT, Served, serve

SECRET = "s3cret-9f2c41-never-leaves"


def cap10_with_password(identifier: str) -> bytes:
    """A CAP 1.0 Public, Actual alert over Nairobi (listed, in the feed), with a password."""
    sent = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="http://www.incident.com/cap/1.0">
  <identifier>{identifier}</identifier>
  <sender>alerts@meteo.go.ke</sender>
  <sent>{cap_time(sent)}</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <password>{SECRET}</password>
  <scope>Public</scope>
  <info>
    <category>Met</category>
    <event>Flash flood</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Very Likely</certainty>
    <headline>Flash flood warning for Nairobi</headline>
    <expires>{cap_time(sent + timedelta(hours=6))}</expires>
    <area>
      <areaDesc>Nairobi</areaDesc>
      <polygon>{NAIROBI}</polygon>
    </area>
  </info>
</alert>
""".encode()


@pytest.fixture
async def served(database_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    async with serve(database_url, tmp_path / "var") as running:
        yield running


async def stream_text(served: Served, token: str | None) -> tuple[str, int]:
    """Every frame WS /api/v1/events?since=0 sends until it falls quiet (or closes), as text,
    and how many of them were events."""
    frames: list[str] = []
    try:
        async with served.subscribe(token, since=0) as ws:
            while True:
                try:
                    frame = await asyncio.wait_for(ws.recv(), 1.5)
                except TimeoutError:
                    break
                frames.append(frame if isinstance(frame, str) else frame.decode())
    except ConnectionClosed:
        pass  # refused or closed: whatever came before is in `frames`
    events = [f for f in frames if json.loads(f).get("type") != "heartbeat"]
    return "\n".join(frames), len(events)


async def test_a_cap10_password_appears_in_no_output_with_or_without_a_token(served: Served) -> None:
    operator = await served.token("operator")
    raw = cap10_with_password("PW-1")
    posted = await served.http.post(
        "/api/v1/alerts",
        content=raw,
        headers={"Authorization": f"Bearer {operator}", "Content-Type": "application/cap+xml"},
    )
    assert posted.status_code == 201, posted.text
    assert SECRET not in posted.text
    alert_id = posted.json()["id"]
    # The same message again (a replay) answers from the store.
    replay = await served.http.post(
        "/api/v1/alerts",
        content=raw,
        headers={"Authorization": f"Bearer {operator}", "Content-Type": "application/cap+xml"},
    )
    assert replay.status_code == 200 and SECRET not in replay.text

    bdt = await served.token("bdt")
    responder = await served.token("responder")
    for token in (None, responder, bdt, operator):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        outputs = {
            path: await served.http.get(path, headers=headers)
            for path in (
                f"/api/v1/alerts/{alert_id}",
                "/api/v1/alerts",
                f"/api/v1/alerts/{alert_id}/cap",
                f"/api/v1/alerts/{alert_id}/impact",
                "/api/v1/feeds/alerts.atom",
            )
        }
        for path, response in outputs.items():
            assert response.status_code == 200, (path, token is not None, response.text)
            assert SECRET not in response.text, (path, token is not None)
            assert SECRET.encode() not in response.content, (path, token is not None)
        # Each output does show the alert: the check above looked where the password could be.
        assert outputs[f"/api/v1/alerts/{alert_id}"].json()["alert"]["identifier"] == "PW-1"
        listed = outputs["/api/v1/alerts"].json()["features"]
        assert [f["id"] for f in listed] == [alert_id]
        assert f"/api/v1/alerts/{alert_id}".encode() in outputs["/api/v1/feeds/alerts.atom"].content
        cap_xml = outputs[f"/api/v1/alerts/{alert_id}/cap"].content
        assert cap_xml == raw.replace(SECRET.encode(), b"")

        text, events = await asyncio.wait_for(stream_text(served, token), WAIT * 2)
        assert SECRET not in text, token is not None
        if token is not None:
            assert events >= 1 and "PW-1" in text

    # And in the stored model, which every JSON output is made from.
    from sqlalchemy import select

    from service.db.models import AlertRecord

    table = AlertRecord.__table__
    model = await served.app.state.runtime.db.read(
        lambda conn: conn.execute(select(table.c.model).where(table.c.id == alert_id)).scalar_one()
    )
    assert "password" not in model and SECRET not in json.dumps(model)
