"""The live fan-out as `tampere serve` runs it (service.events.frames): frames encoded once per
audience and written straight to each connection. Real uvicorn and websockets on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from service.events.stream import CLOSE_TOO_SLOW
from tests.conftest import make_cap
from tests.service.events.test_stream import WAIT, closed_with, events, sent_at, serve


async def _live(served: Any, count: int) -> None:
    """Wait until `count` subscribers are live (each turns direct after its first live event)."""
    async with asyncio.timeout(WAIT):
        while served.broadcaster.live_subscribers != count:
            await asyncio.sleep(0.01)


async def test_each_subscriber_gets_what_its_principal_may_see_once_and_in_order(
    database_url: str, tmp_path: Path
) -> None:
    async with serve(database_url, tmp_path / "var") as served:
        admin = await served.token("administration", country="KEN", senders=["alerts@meteo.go.ke"])
        uganda = await served.token("administration", country="UGA")
        office = await served.token("office", office="ro-addis-ababa")
        responder = await served.token("responder")
        tokens = [admin, uganda, office, responder] * 5
        subs = [await served.subscribe(t).__aenter__() for t in tokens]
        try:
            await _live(served, len(subs))
            bodies = [
                make_cap("FAN-1", sent=sent_at(1)),
                make_cap("FAN-2", sent=sent_at(2), scope="Restricted", restriction="ITU only"),
                make_cap("FAN-3", sent=sent_at(3), scope="Private", addresses=["UGA"]),
                make_cap("FAN-4", sent=sent_at(4)),
            ]
            posted = [(await served.post(b, admin))["id"] for b in bodies]
            await asyncio.sleep(0.2)
            assert all(s.direct for s in served.broadcaster._live)  # the production path
            # Who may see which (service.visibility): the poster all; Uganda Public and the one
            # addressed to it; the office Public and Restricted; a responder Public only.
            expected = {
                admin: posted,
                uganda: [posted[0], posted[2], posted[3]],
                office: [posted[0], posted[1], posted[3]],
                responder: [posted[0], posted[3]],
            }
            for token, ws in zip(tokens, subs, strict=True):
                got = await events(ws, len(expected[token]))
                assert [m["alert_id"] for m in got] == expected[token]
                assert [m["id"] for m in got] == sorted(m["id"] for m in got)
            # Nothing more, nothing twice.
            for ws in subs:
                try:
                    extra = json.loads(await asyncio.wait_for(ws.recv(), 0.3))
                except TimeoutError:
                    continue
                assert extra["type"] == "heartbeat", extra
        finally:
            for ws in subs:
                await ws.__aexit__(None, None, None)


async def test_a_direct_subscriber_that_stops_reading_is_closed_with_4408_and_resumes_without_loss(
    database_url: str, tmp_path: Path
) -> None:
    # More than 4 KiB unsent on the connection is "cannot keep up" here (4 MiB by default).
    async with serve(database_url, tmp_path / "var", events_max_buffered_bytes=4096) as served:
        operator = await served.token("operator")
        sock = socket.socket()
        # A small receive window, and a client that holds at most 4 messages unread: the
        # server's send buffer fills after a few dozen events.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        sock.connect(("127.0.0.1", served.port))
        url = f"ws://127.0.0.1:{served.port}/api/v1/events?since=0"
        ws = await connect(
            url,
            sock=sock,
            additional_headers={"Authorization": f"Bearer {operator}"},
            max_queue=4,
            close_timeout=2,
        ).__aenter__()
        try:
            await _live(served, 1)
            # And a small send buffer on the server's side of it (a slow link): what the kernel
            # does not take stays in the connection's buffer, which is what is limited.
            [sub] = served.broadcaster._live
            sub.sink.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            posted = []
            for n in range(400):
                posted.append((await served.post(make_cap(f"SLOWD-{n}", sent=sent_at(n)), operator))["id"])
                if served.broadcaster.live_subscribers == 0:
                    break
            assert served.broadcaster.live_subscribers == 0, "never overflowed"
            code, reason, before_close = await closed_with(ws)
        finally:
            await ws.__aexit__(None, None, None)
        assert code == CLOSE_TOO_SLOW
        last = before_close[-1]["id"]
        assert reason == f"too slow: reconnect with since={last}"
        async with served.subscribe(operator, since=last) as again:
            rest = await events(again, len(posted) - len(before_close))
        received = [m["alert_id"] for m in before_close + rest]
        assert received == posted  # every one, once, in order
