"""WS /api/v1/events over real websockets on loopback (uvicorn), on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from service.app import create_app
from service.auth import create_token
from service.events.frames import FramedWebSocketProtocol
from service.events.stream import CLOSE_BAD_REQUEST, CLOSE_TOO_SLOW, CLOSE_UNAUTHORIZED
from service.settings import Settings

KEN = "alerts@meteo.go.ke"
# A small square near Lagos: Nigeria, ITU-D region Africa.
LAGOS = "6.40,3.30 6.40,3.50 6.60,3.50 6.60,3.30 6.40,3.30"
# A small square over Vienna: Austria, ITU-D region Europe.
VIENNA = "48.15,16.30 48.15,16.45 48.25,16.45 48.25,16.30 48.15,16.30"
WAIT = 10.0


# --- a real server on a free loopback port -------------------------------------------------------


@dataclass
class Served:
    """One app instance behind uvicorn on 127.0.0.1, with an HTTP client and a token issuer."""

    app: Any
    port: int
    http: httpx.AsyncClient

    @property
    def broadcaster(self) -> Any:
        """The instance's EventBroadcaster."""
        return self.app.state.event_broadcaster

    async def token(self, role: str, **kwargs: Any) -> str:
        """Issue a token as `tampere token create` does."""
        runtime = self.app.state.runtime
        token, _ = await runtime.db.write(lambda conn: create_token(conn, role=role, **kwargs))
        return token

    async def post(self, body: bytes, token: str) -> dict[str, Any]:
        """POST a CAP message over HTTP; the stored alert's JSON."""
        response = await self.http.post(
            "/api/v1/alerts",
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/cap+xml"},
        )
        assert response.status_code in (200, 201), response.text
        return response.json()

    def subscribe(self, token: str | None, *, header: bool = True, **params: Any) -> Any:
        """Open WS /api/v1/events (token in the Authorization header or as ?token=)."""
        headers = {}
        if token is not None and header:
            headers["Authorization"] = f"Bearer {token}"
        elif token is not None:
            params["token"] = token
        query = httpx.QueryParams({k: str(v) for k, v in params.items()})
        url = f"ws://127.0.0.1:{self.port}/api/v1/events" + (f"?{query}" if query else "")
        return connect(url, additional_headers=headers, open_timeout=WAIT, close_timeout=2)


@asynccontextmanager
async def serve(database_url: str, data_dir: Path, **settings: Any) -> AsyncIterator[Served]:
    """The real app under uvicorn on a free loopback port, lifespan started."""
    ping = settings.pop("ws_ping", 20.0)
    # As `tampere serve` runs: live frames written straight to each connection. "websockets-sansio"
    # (uvicorn's own) exercises the plain ASGI path every other server takes.
    ws = settings.pop("ws", FramedWebSocketProtocol)
    app = create_app(Settings(data_dir=data_dir, database_url=database_url, poll_enabled=False, **settings))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="on",
        ws=ws,
        ws_ping_interval=ping,
        ws_ping_timeout=ping,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(400):
            if server.started or task.done():
                break
            await asyncio.sleep(0.025)
        assert server.started, "uvicorn did not start"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=WAIT) as http:
            yield Served(app=app, port=port, http=http)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)
        sock.close()


@pytest.fixture
async def served(database_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    """One instance on a fresh database (SQLite or PostgreSQL)."""
    async with serve(database_url, tmp_path / "var") as running:
        yield running


# --- reading a stream ----------------------------------------------------------------------------


async def next_event(ws: ClientConnection, timeout: float = WAIT) -> dict[str, Any]:
    """The next event message (heartbeats skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] != "heartbeat":
                return message


async def events(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    """The next `count` event messages."""
    return [await next_event(ws) for _ in range(count)]


async def closed_with(ws: ClientConnection) -> tuple[int | None, str, list[dict[str, Any]]]:
    """Read until the server closes: (close code, reason, the events received before it)."""
    received: list[dict[str, Any]] = []
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(WAIT):
            while True:
                message = json.loads(await ws.recv())
                if message["type"] != "heartbeat":
                    received.append(message)
    assert ws.close_code is not None
    return ws.close_code, ws.close_reason or "", received


@asynccontextmanager
async def streams_of(served: Served, tokens: dict[str, str]) -> AsyncIterator[dict[str, ClientConnection]]:
    """One open stream per named token."""
    opened: dict[str, ClientConnection] = {}
    try:
        for name, token in tokens.items():
            opened[name] = await served.subscribe(token)
        yield opened
    finally:
        for ws in opened.values():
            await ws.close()


def ids(messages: list[dict[str, Any]]) -> list[int]:
    """The event ids of messages, in the order received."""
    return [m["id"] for m in messages]


def assert_strictly_increasing(values: list[int]) -> None:
    """Every id larger than the one before it: id order, no duplicates."""
    assert all(a < b for a, b in itertools.pairwise(values)), values


def sent_at(minutes: int) -> datetime:
    """Distinct CAP sent times, so each message is a new one (CAP 1.2 §3.2.1)."""
    return datetime(2026, 3, 1, 12, tzinfo=UTC) + timedelta(minutes=minutes)


# --- tests ---------------------------------------------------------------------------------------


async def test_subscriber_gets_alert_events_live_in_id_order(
    served: Served, cap_message: Callable[..., bytes]
) -> None:
    operator = await served.token("operator")
    async with served.subscribe(operator) as ws:
        posted = [await served.post(cap_message(f"LIVE-{n}", sent=sent_at(n)), operator) for n in range(3)]
        received = await events(ws, 3)
        update = cap_message(
            "LIVE-U",
            msg_type="Update",
            sent=sent_at(10),
            references=[(KEN, "LIVE-0", sent_at(0))],
        )
        updated = await served.post(update, operator)
        received += await events(ws, 2)

    assert_strictly_increasing(ids(received))
    assert [m["type"] for m in received[:3]] == ["alert.received"] * 3
    assert [m["alert_id"] for m in received[:3]] == [a["id"] for a in posted]
    assert {(m["type"], m["alert_id"]) for m in received[3:]} == {
        ("alert.received", updated["id"]),
        ("alert.updated", posted[0]["id"]),
    }
    first = received[0]
    assert first["identifier"] == "LIVE-0" and first["sender"] == KEN
    audience = {"regions": ["Africa"], "countries": ["KEN"], "scope": "Public", "status": "Actual"}
    assert first["audience"] == audience
    datetime.fromisoformat(first["at"])
    # The stream's ids are the event log's: the same ids as the alert's history over REST.
    history = (await served.http.get(f"/api/v1/alerts/{posted[0]['id']}")).json()["history"]
    streamed = [m["id"] for m in received if m["alert_id"] == posted[0]["id"]]
    assert [step["event"] for step in history] == streamed


async def test_reconnect_with_since_gets_exactly_the_missed_events(
    served: Served, cap_message: Callable[..., bytes]
) -> None:
    operator = await served.token("operator")
    # Token as a query parameter this time (what a browser can do).
    async with served.subscribe(operator, header=False) as ws:
        for n in range(2):
            await served.post(cap_message(f"MISS-{n}", sent=sent_at(n)), operator)
        seen = await events(ws, 2)
    last = seen[-1]["id"]
    missed = [await served.post(cap_message(f"MISS-{n}", sent=sent_at(n)), operator) for n in range(2, 5)]

    async with served.subscribe(operator, since=last) as ws:
        caught_up = await events(ws, 3)
        sentinel = await served.post(cap_message("MISS-SENTINEL", sent=sent_at(9)), operator)
        after = await next_event(ws)

    assert [m["alert_id"] for m in caught_up] == [a["id"] for a in missed]
    assert_strictly_increasing([last, *ids(caught_up), after["id"]])
    # Nothing repeated, nothing extra: the very next message is the one posted after.
    assert after["alert_id"] == sentinel["id"]

    # Without `since`, only what is committed after the connection opened.
    async with served.subscribe(operator) as ws:
        fresh = await served.post(cap_message("MISS-FRESH", sent=sent_at(11)), operator)
        assert (await next_event(ws))["alert_id"] == fresh["id"]


async def test_scope_is_enforced_as_in_the_rest_reads(
    served: Served, cap_message: Callable[..., bytes]
) -> None:
    kenya = await served.token("administration", country="KEN", senders=[KEN])
    subscribers = {
        "kenya": kenya,
        "uganda": await served.token("administration", country="UGA"),
        "africa-office": await served.token("office", office="ro-addis-ababa"),
        "europe-office": await served.token("office", office="ro-geneva"),
        "responder": await served.token("responder"),
        "bdt": await served.token("bdt"),
    }
    async with streams_of(served, subscribers) as streams:
        restricted = await served.post(cap_message("S-R", scope="Restricted", restriction="ITU only"), kenya)
        private = await served.post(cap_message("S-P", scope="Private", addresses=["ro-addis-ababa"]), kenya)
        public = await served.post(cap_message("S-PUB"), kenya)
        delivered: dict[str, list[int]] = {}
        for name, ws in streams.items():
            got: list[int] = []
            # The Public alert is the last posted: once it arrives, nothing else is coming.
            while not got or got[-1] != public["id"]:
                got.append((await next_event(ws))["alert_id"])
            delivered[name] = got

    assert delivered == {
        "kenya": [restricted["id"], private["id"], public["id"]],
        "uganda": [public["id"]],
        "africa-office": [restricted["id"], private["id"], public["id"]],
        "europe-office": [restricted["id"], public["id"]],
        "responder": [public["id"]],
        "bdt": [restricted["id"], public["id"]],
    }
    # Exactly what every REST output lets each of them read: the item, its CAP, its impact, the list.
    posted = [restricted["id"], private["id"], public["id"]]
    for name, token in subscribers.items():
        auth = {"Authorization": f"Bearer {token}"}
        for path in ("/api/v1/alerts/{}", "/api/v1/alerts/{}/cap", "/api/v1/alerts/{}/impact"):
            readable = []
            for alert_id in posted:
                response = await served.http.get(path.format(alert_id), headers=auth)
                assert response.status_code in (200, 404), (name, path, response.status_code)
                if response.status_code == 200:
                    readable.append(alert_id)
            assert readable == delivered[name], (name, path)
        listed = (await served.http.get("/api/v1/alerts", headers=auth)).json()["features"]
        assert sorted(f["id"] for f in listed if f["id"] in posted) == sorted(delivered[name]), name
    # Anonymous readers and the Atom feed: the Public alert only.
    anonymous = (await served.http.get("/api/v1/alerts")).json()["features"]
    assert [f["id"] for f in anonymous if f["id"] in posted] == [public["id"]]
    assert [(await served.http.get(f"/api/v1/alerts/{i}")).status_code for i in posted] == [404, 404, 200]
    atom = (await served.http.get("/api/v1/feeds/alerts.atom")).text
    assert [i for i in posted if f"/api/v1/alerts/{i}/cap" in atom] == [public["id"]]


async def test_request_events_reach_exactly_who_may_see_the_request(
    served: Served, cap_message: Callable[..., bytes]
) -> None:
    kenya = await served.token("administration", country="KEN", senders=[KEN])
    subscribers = {
        "kenya": kenya,
        "addis": await served.token("office", office="ro-addis-ababa"),
        "bdt": await served.token("bdt"),
        "operator": await served.token("operator"),
        # Not concerned: another region's office, another administration, a responder.
        "bangkok": await served.token("office", office="ro-bangkok"),
        "uganda": await served.token("administration", country="UGA"),
        "responder": await served.token("responder"),
    }
    request = {
        "kind": "equipment",
        "title": "Satellite terminals for Garissa after the floods",
        "description": "Terrestrial backhaul down in three counties; need temporary links.",
        "urgency": "immediate",
        "items": [{"item": "Inmarsat BGAN terminal", "quantity": 10}],
        "contact": {"name": "Jane Wanjiru", "email": "noc@ca.go.ke"},
    }

    async def as_(who: str, method: str, path: str, body: Any) -> dict[str, Any]:
        auth = {"Authorization": f"Bearer {subscribers[who]}"}
        response = await served.http.request(method, path, json=body, headers=auth)
        assert response.status_code in (200, 201), response.text
        result: dict[str, Any] = response.json()
        return result

    async with streams_of(served, subscribers) as streams:
        filed = await as_("kenya", "POST", "/api/v1/requests", request)
        path = f"/api/v1/requests/{filed['id']}"
        assert [r["contact"]["id"] for r in filed["routing"]["recipients"]] == ["ro-addis-ababa", "bdt"]
        await as_("addis", "POST", f"{path}/ack", {"note": "terminals leaving Addis tonight"})
        await as_("addis", "POST", f"{path}/status", {"state": "in-progress", "note": "shipping"})
        # An EDXL-RM CommitResource: the filing administration sees what was committed, live.
        commit = {"type": "CommitResource", "items": [{"element_id": 1, "quantity": 4}]}
        await as_("addis", "POST", f"{path}/messages", commit)
        # A Public alert last: everyone sees it, so once it arrives nothing else is coming.
        sentinel = await served.post(cap_message("REQ-SENTINEL"), kenya)
        delivered: dict[str, list[str]] = {}
        for name, ws in streams.items():
            got: list[dict[str, Any]] = []
            while not got or got[-1].get("alert_id") != sentinel["id"]:
                got.append(await next_event(ws))
            delivered[name] = [m["type"] for m in got[:-1]]
            assert all(m["request_id"] == filed["id"] for m in got[:-1]), name

    steps = ["request.created", "request.acknowledged", "request.status", "request.message"]
    assert delivered == {
        "kenya": steps,
        "addis": steps,
        "bdt": steps,
        "operator": steps,
        "bangkok": [],
        "uganda": [],
        "responder": [],
    }
    # The stream and REST agree: whoever got the events reads the request; the others get 404.
    for name, token in subscribers.items():
        response = await served.http.get(path, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == (200 if delivered[name] else 404), name
    # A reconnecting subscriber replays under the same rule.
    async with served.subscribe(subscribers["bangkok"], since=0) as ws:
        replayed = await next_event(ws)
        assert not replayed["type"].startswith("request.")
    async with served.subscribe(subscribers["addis"], since=0, types=",".join(steps)) as ws:
        assert [m["type"] for m in await events(ws, 4)] == steps


async def test_filters_by_type_region_and_country(served: Served, cap_message: Callable[..., bytes]) -> None:
    operator = await served.token("operator")
    async with (
        served.subscribe(operator, types="alert.cancelled") as cancels,
        served.subscribe(operator, country="nga") as nigeria,
        served.subscribe(operator, region="Europe") as europe,
    ):
        kenya = await served.post(cap_message("F-KEN", sent=sent_at(0)), operator)
        lagos = await served.post(cap_message("F-NGA", sent=sent_at(1), polygon=LAGOS), operator)
        vienna = await served.post(cap_message("F-AUT", sent=sent_at(2), polygon=VIENNA), operator)
        cancel = cap_message(
            "F-CANCEL", msg_type="Cancel", sent=sent_at(3), references=[(KEN, "F-KEN", sent_at(0))]
        )
        await served.post(cancel, operator)
        cancelled = await next_event(cancels)
        from_nigeria = await next_event(nigeria)
        from_europe = await next_event(europe)

    assert (cancelled["type"], cancelled["alert_id"]) == ("alert.cancelled", kenya["id"])
    assert (from_nigeria["alert_id"], from_nigeria["audience"]["countries"]) == (lagos["id"], ["NGA"])
    assert (from_europe["alert_id"], from_europe["audience"]["regions"]) == (vienna["id"], ["Europe"])


async def test_missing_bad_token_and_bad_parameters_are_refused_with_a_code(served: Served) -> None:
    operator = await served.token("operator")
    cases = [
        (served.subscribe(None), CLOSE_UNAUTHORIZED, "token"),
        (served.subscribe("not-a-token"), CLOSE_UNAUTHORIZED, "token"),
        (served.subscribe("not-a-token", header=False), CLOSE_UNAUTHORIZED, "token"),
        (served.subscribe(operator, since="-1"), CLOSE_BAD_REQUEST, "since"),
        (served.subscribe(operator, since="abc"), CLOSE_BAD_REQUEST, "since"),
        (served.subscribe(operator, country="KE1"), CLOSE_BAD_REQUEST, "country"),
        (served.subscribe(operator, types="alert.received,NOT A TYPE"), CLOSE_BAD_REQUEST, "types"),
        (served.subscribe(operator, status="Real"), CLOSE_BAD_REQUEST, "status"),
    ]
    for opening, code, named in cases:
        async with opening as ws:
            got, reason, received = await closed_with(ws)
        assert (got, received) == (code, []), reason
        assert named in reason
    assert served.broadcaster.subscribers == 0


async def overflow_after_replay(
    served: Served, opening: Callable[[], Any], operator: str, cap_message: Callable[..., bytes], prefix: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int | None, str, list[dict[str, Any]]]:
    """Post three alerts, open a stream from the start (`opening`), read their replay, then post
    a Cancel of all three once the stream is live (four events in one commit); returns the alerts
    posted, the replay, the close code and reason, and what came before the close."""
    posted = [await served.post(cap_message(f"{prefix}-{n}", sent=sent_at(n)), operator) for n in range(3)]
    cancel = cap_message(
        f"{prefix}-CANCEL",
        msg_type="Cancel",
        sent=sent_at(5),
        references=[(KEN, f"{prefix}-{n}", sent_at(n)) for n in range(3)],
    )
    # Replaying more than the queue holds is no overflow: a replay waits for the reader.
    async with opening() as ws:
        replayed = await events(ws, 3)
        # Live now, so the burst is offered by the broadcaster, not read by a catch-up.
        async with asyncio.timeout(WAIT):
            while served.broadcaster.live_subscribers != 1:
                await asyncio.sleep(0.01)
        await served.post(cancel, operator)
        code, reason, before_close = await closed_with(ws)
    return posted, replayed, code, reason, before_close


async def test_slow_subscriber_is_closed_with_4408_and_resumes_without_loss(
    database_url: str, tmp_path: Path, cap_message: Callable[..., bytes]
) -> None:
    # A queue of two: a Cancel of three alerts commits four events at once, which overflows it
    # whatever the client's speed (one page of new events is offered in one step). The queue is
    # the path of servers that do not offer the connection (tests/service/events/test_fanout.py
    # has the direct path's overflow).
    async with serve(database_url, tmp_path / "var", events_queue_size=2, ws="websockets-sansio") as served:
        operator = await served.token("operator")
        overflow = await overflow_after_replay(
            served, lambda: served.subscribe(operator, since=0), operator, cap_message, "SLOW"
        )
        posted, replayed, code, reason, before_close = overflow
        assert [m["alert_id"] for m in replayed] == [a["id"] for a in posted]
        assert code == CLOSE_TOO_SLOW
        last = ([*replayed, *before_close])[-1]["id"]
        assert reason == f"too slow: reconnect with since={last}"
        assert len(before_close) <= 2

        async with served.subscribe(operator, since=last) as ws:
            rest = await events(ws, 4 - len(before_close))
        burst = before_close + rest
        assert_strictly_increasing(ids(replayed + burst))
        assert sorted(m["type"] for m in burst) == ["alert.cancelled"] * 3 + ["alert.received"]
        assert {m["alert_id"] for m in burst if m["type"] == "alert.cancelled"} == {a["id"] for a in posted}


async def test_event_posted_to_one_instance_reaches_a_subscriber_on_another(
    database_url: str, tmp_path: Path, cap_message: Callable[..., bytes]
) -> None:
    # Same database, two servers: on PostgreSQL B is woken by LISTEN/NOTIFY, on SQLite (two
    # processes on one file) by polling. B's own sweeps are slowed so that no commit of B's
    # wakes it by chance, and each event must arrive well within them.
    quiet = {"expiry_interval_seconds": 60.0, "request_escalation_seconds": 60.0}
    async with (
        serve(database_url, tmp_path / "a", **quiet) as instance_a,
        serve(database_url, tmp_path / "b", **quiet) as instance_b,
    ):
        operator = await instance_a.token("operator")
        if database_url.startswith("postgresql"):
            # Polling is off while LISTEN is up: what arrives below came by NOTIFY.
            assert instance_b.broadcaster.listening
        async with instance_b.subscribe(operator) as ws:
            posted, received = [], []
            for n in range(3):
                posted.append(await instance_a.post(cap_message(f"AB-{n}", sent=sent_at(n)), operator))
                received.append(await next_event(ws, timeout=2.0))
        if database_url.startswith("postgresql"):
            assert instance_b.broadcaster.listening
    assert [m["alert_id"] for m in received] == [a["id"] for a in posted]
    assert_strictly_increasing(ids(received))


async def test_subscribers_joining_during_a_stream_of_commits_miss_nothing(
    served: Served, cap_message: Callable[..., bytes]
) -> None:
    # Small pages, so replay, catch-up and fan-out each take several reads; subscribers join
    # from id 0 while commits land and another subscriber is live (the pump is running), which
    # is where a switch from replay to live could lose or repeat an event.
    served.broadcaster.page_size = 3
    operator = await served.token("operator")
    total, joiners = 40, 8

    async def subscriber(joined: asyncio.Event | None) -> list[dict[str, Any]]:
        if joined is not None:
            await joined.wait()
        async with served.subscribe(operator, since=0) as ws:
            return await events(ws, total)

    cues = [asyncio.Event() for _ in range(joiners)]
    streams = [asyncio.create_task(subscriber(None))]
    streams += [asyncio.create_task(subscriber(cue)) for cue in cues]
    posted = []
    for n in range(total):
        posted.append((await served.post(cap_message(f"RACE-{n}", sent=sent_at(n)), operator))["id"])
        if n % 4 == 1 and cues:
            cues.pop(0).set()
    for received in await asyncio.gather(*streams):
        assert_strictly_increasing(ids(received))
        assert [m["alert_id"] for m in received] == posted


async def test_a_commit_landing_as_a_replay_ends_is_delivered_once(
    served: Served, cap_message: Callable[..., bytes]
) -> None:
    # The dangerous moment, made deterministic: a commit lands after a subscriber's last replay
    # page, and the live pump reads it and moves past it before the subscriber joins the live
    # ones. The subscriber must still get it (from its catch-up read), once.
    operator = await served.token("operator")
    posted = [await served.post(cap_message(f"EDGE-{n}", sent=sent_at(n)), operator) for n in range(3)]
    broadcaster = served.broadcaster
    catch_up = broadcaster._catch_up
    late: list[dict[str, Any]] = []
    async with served.subscribe(operator) as watcher:
        async with asyncio.timeout(WAIT):
            while broadcaster.live_subscribers != 1:
                await asyncio.sleep(0.01)

        async def commit_then_catch_up(sub: Any) -> bool:
            if not late:
                late.append(await served.post(cap_message("EDGE-LATE", sent=sent_at(7)), operator))
                # The watcher has it: the pump's cursor is past it.
                assert (await next_event(watcher))["alert_id"] == late[0]["id"]
            return await catch_up(sub)

        broadcaster._catch_up = commit_then_catch_up
        async with served.subscribe(operator, since=0) as ws:
            received = await events(ws, 4)
            sentinel = await served.post(cap_message("EDGE-SENTINEL", sent=sent_at(8)), operator)
            after = await next_event(ws)
    assert [m["alert_id"] for m in received] == [a["id"] for a in posted] + [late[0]["id"]]
    assert after["alert_id"] == sentinel["id"]


async def test_idle_stream_heartbeats_and_a_dead_peer_is_let_go(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'tampere.db'}"
    async with serve(url, tmp_path / "var", events_heartbeat_seconds=0.2, ws_ping=0.3) as served:
        operator = await served.token("operator")
        async with served.subscribe(operator) as ws:
            heartbeat = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        assert heartbeat == {"id": None, "type": "heartbeat", "last_id": 0}

        # A peer that completes the handshake, then never reads nor answers pings.
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(
            (
                f"GET /api/v1/events?token={operator} HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        status = await asyncio.wait_for(reader.readline(), WAIT)
        assert b" 101 " in status
        try:
            async with asyncio.timeout(WAIT):
                while served.broadcaster.subscribers != 1:
                    await asyncio.sleep(0.02)
                # uvicorn's ping times out, the connection is dropped, the subscriber released.
                while served.broadcaster.subscribers != 0:
                    await asyncio.sleep(0.05)
        finally:
            writer.close()
