"""WS /api/v1/events/public over real websockets on loopback: anonymous first responders get, live
and resumable, exactly what no principal may see (Public alerts; never a Restricted or Private
alert, never a request), in the authenticated stream's messages and with its limits; the
authenticated stream still refuses a missing token with 4401; open anonymous streams are bounded
per address and per instance."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from service.events.stream import CLOSE_BAD_REQUEST, CLOSE_TOO_SLOW, CLOSE_UNAUTHORIZED
from service.ratelimit import CLOSE_RATE_LIMITED, CLOSE_TRY_AGAIN_LATER
from tests.service.events.test_stream import (
    KEN,
    LAGOS,
    WAIT,
    Served,
    assert_strictly_increasing,
    closed_with,
    events,
    ids,
    next_event,
    overflow_after_replay,
    sent_at,
    serve,
)


@pytest.fixture
async def served(database_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    """One instance on a fresh database (SQLite or PostgreSQL)."""
    async with serve(database_url, tmp_path / "var") as running:
        yield running


def public(served: Served, **params: Any) -> Any:
    """Open WS /api/v1/events/public, with no credential of any kind."""
    query = httpx.QueryParams({k: str(v) for k, v in params.items()})
    url = f"ws://127.0.0.1:{served.port}/api/v1/events/public" + (f"?{query}" if query else "")
    return connect(url, open_timeout=WAIT, close_timeout=2)


async def test_a_restricted_or_private_alert_never_reaches_the_public_stream_and_a_public_one_does(
    served: Served, cap_message: Callable[..., bytes]
) -> None:
    kenya = await served.token("administration", country="KEN", senders=[KEN])
    request = {
        "kind": "equipment",
        "title": "Satellite terminals for Garissa",
        "description": "Backhaul down in three counties.",
        "urgency": "immediate",
        "items": [{"item": "BGAN terminal", "quantity": 4}],
        "contact": {"name": "Jane Wanjiru", "email": "noc@ca.go.ke"},
    }
    async with public(served) as anonymous, served.subscribe(kenya) as own:
        restricted = await served.post(cap_message("P-R", scope="Restricted", restriction="ITU only"), kenya)
        private = await served.post(cap_message("P-P", scope="Private", addresses=["ro-addis-ababa"]), kenya)
        filed = await served.http.post(
            "/api/v1/requests", json=request, headers={"Authorization": f"Bearer {kenya}"}
        )
        assert filed.status_code == 201, filed.text
        published = await served.post(cap_message("P-PUB"), kenya)
        # The administration's own stream has all of it, in order: the public one is cut from it.
        mine = await events(own, 4)
        assert [m["type"] for m in mine] == [
            "alert.received",
            "alert.received",
            "request.created",
            "alert.received",
        ]
        got = await next_event(anonymous)
        assert (got["type"], got["alert_id"]) == ("alert.received", published["id"])
        # The same message, byte for byte the shape the signed-in stream sends.
        assert got == mine[-1]
        # Nothing of the others comes after it either: the next message is the next Public event.
        sentinel = await served.post(cap_message("P-SENTINEL", sent=sent_at(30)), kenya)
        assert (await next_event(anonymous))["alert_id"] == sentinel["id"]

    # Replayed from the start, the same cut: Public alerts only, as an anonymous REST reader sees.
    async with public(served, since=0) as anonymous:
        replayed = await events(anonymous, 2)
    assert [m["alert_id"] for m in replayed] == [published["id"], sentinel["id"]]
    listed = (await served.http.get("/api/v1/alerts")).json()["features"]
    assert sorted(f["id"] for f in listed) == sorted([published["id"], sentinel["id"]])
    for hidden in (restricted, private):
        assert (await served.http.get(f"/api/v1/alerts/{hidden['id']}")).status_code == 404


async def test_the_public_stream_resumes_with_since_without_gap_or_repeat(
    served: Served, cap_message: Callable[..., bytes]
) -> None:
    operator = await served.token("operator")
    async with public(served) as ws:
        for n in range(2):
            await served.post(cap_message(f"PUB-{n}", sent=sent_at(n)), operator)
        seen = await events(ws, 2)
    last = seen[-1]["id"]
    missed = [await served.post(cap_message(f"PUB-{n}", sent=sent_at(n)), operator) for n in range(2, 5)]
    async with public(served, since=last) as ws:
        caught_up = await events(ws, 3)
        after = await served.post(cap_message("PUB-AFTER", sent=sent_at(9)), operator)
        live = await next_event(ws)
    assert [m["alert_id"] for m in caught_up] == [a["id"] for a in missed]
    assert live["alert_id"] == after["id"]
    assert_strictly_increasing([last, *ids(caught_up), live["id"]])


async def test_the_public_stream_takes_the_same_filters_and_refuses_the_same_bad_ones(
    served: Served, cap_message: Callable[..., bytes]
) -> None:
    operator = await served.token("operator")
    async with public(served, country="nga") as nigeria:
        await served.post(cap_message("PF-KEN", sent=sent_at(0)), operator)
        lagos = await served.post(cap_message("PF-NGA", sent=sent_at(1), polygon=LAGOS), operator)
        got = await next_event(nigeria)
    assert (got["alert_id"], got["audience"]["countries"]) == (lagos["id"], ["NGA"])
    for params, named in [
        ({"since": "-1"}, "since"),
        ({"since": "999999"}, "since"),
        ({"country": "KE1"}, "country"),
        ({"types": "request.created,nope"}, "types"),
        ({"status": "Real"}, "status"),
    ]:
        async with public(served, **params) as ws:
            code, reason, received = await closed_with(ws)
        assert (code, received) == (CLOSE_BAD_REQUEST, []), reason
        assert named in reason
    # The authenticated stream is unchanged: no token, no stream (the contract's 4401).
    async with served.subscribe(None) as ws:
        code, _, received = await closed_with(ws)
    assert (code, received) == (CLOSE_UNAUTHORIZED, [])
    assert served.broadcaster.subscribers == 0


async def test_a_command_on_the_public_stream_is_refused_and_nothing_is_done(
    served: Served, cap_message: Callable[..., bytes]
) -> None:
    kenya = await served.token("administration", country="KEN", senders=[KEN])
    alert = await served.post(cap_message("P-ACK"), kenya)
    async with public(served) as ws:
        await ws.send(json.dumps({"type": "ack", "alert": alert["id"]}))
        async with asyncio.timeout(WAIT):
            reply = json.loads(await ws.recv())
            while reply["type"] == "heartbeat":
                reply = json.loads(await ws.recv())
    assert (reply["id"], reply["type"], reply["status"]) == (None, "ack.result", 401)
    assert reply["errors"][0]["rule"] == "events.command.anonymous"
    stored = (await served.http.get(f"/api/v1/alerts/{alert['id']}")).json()
    assert all(entry["acknowledged_at"] is None for entry in stored["routing"])


async def test_a_slow_public_subscriber_is_closed_with_4408_and_told_where_to_resume(
    database_url: str, tmp_path: Path, cap_message: Callable[..., bytes]
) -> None:
    # The same bound as the signed-in stream (tests/service/events/test_stream.py): a queue of two,
    # and a Cancel of three alerts commits four events at once.
    async with serve(database_url, tmp_path / "var", events_queue_size=2, ws="websockets-sansio") as served:
        operator = await served.token("operator")
        overflow = await overflow_after_replay(
            served, lambda: public(served, since=0), operator, cap_message, "PSLOW"
        )
        posted, replayed, code, reason, before_close = overflow
        assert [m["alert_id"] for m in replayed] == [a["id"] for a in posted]
        assert code == CLOSE_TOO_SLOW
        last = ([*replayed, *before_close])[-1]["id"]
        assert reason == f"too slow: reconnect with since={last}"
        async with public(served, since=last) as ws:
            rest = await events(ws, 4 - len(before_close))
        assert_strictly_increasing(ids(replayed + before_close + rest))


# --- how many may be open --------------------------------------------------------------------------


async def _open(ws: Any) -> bool:
    """Whether the stream is open and served: a ping is answered (a refused one is closed at once)."""
    try:
        await asyncio.wait_for(await ws.ping(), WAIT)
    except ConnectionClosed:
        return False
    return True


# Per address and per instance; a bound reached refuses the next stream only, and lifts when one closes.
async def test_open_anonymous_streams_are_bounded(database_url: str, tmp_path: Path) -> None:
    limits = {"anonymous_streams_per_address": 2, "anonymous_streams_total": 3}
    async with serve(database_url, tmp_path / "var", **limits) as served:
        url = f"ws://127.0.0.1:{served.port}/api/v1/events/public"

        def from_(address: str) -> Any:
            return connect(url, open_timeout=WAIT, close_timeout=2, local_addr=(address, 0))

        async with from_("127.0.0.1") as first, from_("127.0.0.1") as second:
            assert await _open(first) and await _open(second)
            async with from_("127.0.0.1") as third:  # a third from the same address
                code, reason, _ = await closed_with(third)
            assert code == CLOSE_RATE_LIMITED and "anonymous streams are open from this address" in reason
            async with from_("127.0.0.2") as other:  # another address: its first is served
                assert await _open(other)
                async with from_("127.0.0.3") as over:  # the instance holds three: no fourth
                    code, reason, _ = await closed_with(over)
                assert code == CLOSE_TRY_AGAIN_LATER, reason
            # Streams with a token are accountable and not counted.
            responder = await served.token("responder")
            async with served.subscribe(responder) as signed_in:
                assert await _open(signed_in)
        # Closed streams are no longer counted: the address may open two again.
        for _ in range(int(WAIT / 0.05)):
            if not served.app.state.rate_limits.anonymous_streams.open:
                break
            await asyncio.sleep(0.05)
        async with from_("127.0.0.1") as again, from_("127.0.0.1") as also:
            assert await _open(again) and await _open(also)
