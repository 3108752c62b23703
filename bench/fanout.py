"""Benchmark: event fan-out to websocket subscribers while alerts are being posted (issue 11).

Not a test. Run from the repository root:

    .venv/bin/python bench/fanout.py [--subscribers N] [--rate R] [--seconds S] [--idle M]
                                     [--source TREE]

1. Starts a real `tampere serve` (subprocess, fresh data directory, SQLite WAL, default settings)
   and opens N websocket subscribers (default 1,000) to `WS /api/v1/events` over loopback, spread
   over four principals (responder, BDT, an office, the operator: four audiences).
2. POSTs distinct CAP alerts at R per second (default 25, open loop: alert k is sent at
   t0 + k/R whatever the answers do, from a pool of keep-alive connections) for S seconds.
   For every alert it notes when the POST was answered, and every subscriber notes when its
   `alert.received` for that alert arrived. Prints the p50/p99/max of answer -> receipt over
   all (subscriber, alert) pairs, the POST p50/p99/max during the fan-out, deliveries lost and
   duplicated, and the server's CPU (user + system, /proc) per delivery.
3. Starts a bare `websockets` broadcast server (websockets.asyncio.server + `broadcast`, the
   library's own fan-out; a subprocess like the first) and N subscribers to it; a publisher
   connection sends the exact messages a tampere subscriber received, at the same rate; prints
   its CPU per delivery and the ratio tampere / bare.
4. Opens M idle subscribers (default 10,000) to a fresh `tampere serve` and prints its resident
   memory (VmRSS) before and with them, checking that each is live (one alert reaches all).

The subscribers are a minimal RFC 6455 client on asyncio protocols (handshake, unmasked server
frames, pong replies, no compression offered), so that one client process keeps up with 25,000
messages a second and the figures are the servers'. Both servers see the same client.
`--source TREE` runs the server from another checkout (PYTHONPATH=TREE), to measure a before.
Targets (issue 11): receipt p99 <= 100 ms, POST p99 <= 50 ms, CPU per delivery <= 1.5x bare,
10,000 idle <= 1 GB resident, 0 lost, 0 duplicated; each printed with PASS/FAIL.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import resource
import secrets
import shutil
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import (
    Connection,
    free_port,
    make_messages,
    percentile,
    process_cpu_seconds,
    tampere_command,
    wait_healthy,
)

RECEIPT_P99_TARGET_MS = 100.0
POST_P99_TARGET_MS = 50.0
CPU_RATIO_TARGET = 1.5
IDLE_RSS_TARGET_BYTES = 1024**3
CONNECT_BATCH = 250


# --- a minimal websocket subscriber ------------------------------------------------------------


class Subscriber(asyncio.Protocol):
    """One websocket client: handshake, then every text message timed and handed to `on_message`."""

    def __init__(self, request: bytes, on_message: object) -> None:
        self.request = request
        self.on_message = on_message
        self.buffer = bytearray()
        self.open = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.handshaken = False
        self.close_code: int | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.open.done():
            self.open.set_exception(ConnectionError(f"closed during the handshake: {exc}"))
        if not self.closed.done():
            self.closed.set_result(self.close_code)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.buffer += data
        if not self.handshaken:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            del self.buffer[: end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                self.open.set_exception(ConnectionError(head.split(b"\r\n", 1)[0].decode()))
                return
            self.handshaken = True
            self.open.set_result(None)
        buf = self.buffer
        while len(buf) >= 2:
            opcode = buf[0] & 0x0F
            length = buf[1] & 0x7F
            offset = 2
            if length == 126:
                if len(buf) < 4:
                    return
                length = struct.unpack_from("!H", buf, 2)[0]
                offset = 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length = struct.unpack_from("!Q", buf, 2)[0]
                offset = 10
            if len(buf) < offset + length:
                return
            payload = bytes(buf[offset : offset + length])
            del buf[: offset + length]
            if opcode == 0x1:
                self.on_message(self, payload, now)  # type: ignore[operator]
            elif opcode == 0x9:
                self._send(0xA, payload)  # pong (RFC 6455 §5.5.3)
            elif opcode == 0x8:
                self.close_code = struct.unpack_from("!H", payload)[0] if len(payload) >= 2 else None
                self._send(0x8, payload[:2])
                assert self.transport is not None
                self.transport.close()

    def send_text(self, data: bytes) -> None:
        """Send a text message (masked, as a client must)."""
        self._send(0x1, data)

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = secrets.token_bytes(4)
        length = len(payload)
        if length < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(head + mask + masked)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def handshake(path: str, port: int, token: str | None) -> bytes:
    key = base64.b64encode(secrets.token_bytes(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def open_subscribers(
    port: int, path: str, tokens: list[str | None], count: int, on_message: object
) -> list[Subscriber]:
    """Open `count` subscribers, `CONNECT_BATCH` handshakes at a time (the listen backlog)."""
    loop = asyncio.get_running_loop()
    subs: list[Subscriber] = []
    for start in range(0, count, CONNECT_BATCH):
        batch = []
        for i in range(start, min(count, start + CONNECT_BATCH)):
            request = handshake(path, port, tokens[i % len(tokens)])
            batch.append(
                loop.create_connection(lambda r=request: Subscriber(r, on_message), "127.0.0.1", port)
            )
        made = await asyncio.gather(*batch)
        opened = [proto for _, proto in made]
        await asyncio.gather(*(s.open for s in opened))
        subs += opened
    return subs


# --- servers -----------------------------------------------------------------------------------


class Server:
    """A server subprocess on a free loopback port."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            [*command, "--port", str(self.port)], env=env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def cpu(self) -> float:
        user, system = process_cpu_seconds(self.proc.pid)
        return user + system

    def rss(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def start_tampere(data_dir: Path, source: str | None) -> tuple[Server, dict[str, str]]:
    env = {
        **os.environ,
        "TAMPERE_DATA_DIR": str(data_dir),
        "TAMPERE_DATABASE_URL": "",
        "TAMPERE_POLL_ENABLED": "false",
    }
    # Writes per token are rate-limited (10/s sustained); 25 alerts/s is an operator relaying feeds.
    env["TAMPERE_WRITE_PER_SECOND_PER_TOKEN"] = "1000"
    env["TAMPERE_WRITE_PER_SECOND_PER_ADDRESS"] = "1000"
    if source:
        env["PYTHONPATH"] = source
    # Token commands refuse a store that does not exist yet: create it first (a checkout from
    # before `tampere migrate` lets `token create` create it, so a failure here is not fatal).
    subprocess.run([*tampere_command(), "migrate"], env=env, capture_output=True, check=False)
    tokens = {}
    for name, args in {
        "operator": ["--role", "operator"],
        "responder": ["--role", "responder"],
        "bdt": ["--role", "bdt"],
        "office": ["--role", "office", "--office", "ro-addis-ababa"],
    }.items():
        tokens[name] = subprocess.run(
            [*tampere_command(), "token", "create", *args],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    server = Server([*tampere_command(), "serve", "--host", "127.0.0.1"], env, data_dir / "serve.log")
    asyncio.run(wait_healthy(server.port, server.proc))
    return server, tokens


BARE_SERVER = textwrap.dedent(
    """
    import asyncio, sys
    from websockets.asyncio.server import broadcast, serve

    subscribers = set()

    async def handler(ws):
        if ws.request.path == "/publish":
            async for message in ws:
                broadcast(subscribers, message)
            return
        subscribers.add(ws)
        try:
            await ws.wait_closed()
        finally:
            subscribers.discard(ws)

    async def main(port):
        async with serve(handler, "127.0.0.1", port, compression=None, max_queue=None):
            await asyncio.get_running_loop().create_future()

    asyncio.run(main(int(sys.argv[sys.argv.index("--port") + 1])))
    """
)


# --- phase 1: tampere under load ---------------------------------------------------------------


class Tally:
    """Receipts per alert and per subscriber."""

    def __init__(self) -> None:
        self.receipts: dict[int, list[float]] = defaultdict(list)
        self.per_sub: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.sample: list[bytes] = []
        self.sample_sub: Subscriber | None = None
        self.messages = 0

    def on_message(self, sub: Subscriber, payload: bytes, now: float) -> None:
        self.messages += 1
        event = orjson.loads(payload)
        if event.get("type") != "alert.received":
            return
        alert = event["alert_id"]
        self.receipts[alert].append(now)
        self.per_sub[id(sub)][alert] += 1
        if sub is self.sample_sub:
            self.sample.append(payload)


async def post_at_rate(
    port: int, token: str, messages: list[bytes], rate: float, seconds: float
) -> tuple[dict[int, float], list[float], int]:
    """Open-loop posting: alert k sent at t0 + k/rate from a pool of connections."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/cap+xml"}
    count = int(rate * seconds)
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(8):
        pool.put_nowait(await Connection.open(port))
    answered: dict[int, float] = {}
    latencies: list[float] = []
    failures = 0

    async def one(k: int, at: float) -> None:
        nonlocal failures
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        conn = await pool.get()
        started = time.perf_counter()
        try:
            status, body = await conn.request("POST", "/api/v1/alerts", messages[k], headers)
        finally:
            pool.put_nowait(conn)
        done = time.perf_counter()
        if status != 201:
            failures += 1
            print(f"  POST answered {status}: {body[:200]!r}", file=sys.stderr)
            return
        latencies.append(done - started)
        answered[orjson.loads(body)["id"]] = done

    t0 = time.perf_counter() + 0.2
    await asyncio.gather(*(one(k, t0 + k / rate) for k in range(count)))
    while not pool.empty():
        await (pool.get_nowait()).close()
    return answered, latencies, failures


async def post_from_another_process(
    port: int, token: str, rate: float, seconds: float, first: int = 0
) -> tuple[dict[int, float], list[float], int]:
    """`post_at_rate` in a process of its own: this one is busy taking 25,000 messages a second,
    and its event loop would delay reading the POST answers. perf_counter is CLOCK_MONOTONIC,
    one clock for every process of the machine, so answer and receipt times compare."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--post-to",
        str(port),
        "--token",
        token,
        "--rate",
        str(rate),
        "--seconds",
        str(seconds),
        "--first",
        str(first),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"the poster failed ({proc.returncode})")
    done = orjson.loads(out)
    return {int(k): v for k, v in done["answered"].items()}, done["latencies"], done["failures"]


def poster_main(args: argparse.Namespace) -> int:
    """The poster process: post, then print the answer times and latencies as JSON."""
    messages = make_messages(args.first + int(args.rate * args.seconds) + 10)[args.first :]
    answered, latencies, failures = asyncio.run(
        post_at_rate(args.post_to, args.token, messages, args.rate, args.seconds)
    )
    result = {"answered": answered, "latencies": latencies, "failures": failures}
    sys.stdout.buffer.write(orjson.dumps(result, option=orjson.OPT_NON_STR_KEYS))
    return 0


async def tampere_phase(args: argparse.Namespace, server: Server, tokens: dict[str, str]) -> dict[str, Any]:
    # The same posting with nobody subscribed: the server's CPU for ingest and its background
    # work alone, to tell the fan-out's own share.
    await asyncio.sleep(1.0)
    cpu_before = server.cpu()
    baseline, _, _ = await post_from_another_process(server.port, tokens["operator"], args.rate, args.seconds)
    await asyncio.sleep(1.0)
    baseline_cpu = server.cpu() - cpu_before
    first = int(args.rate * args.seconds) + 10
    tally = Tally()
    principals = [tokens["responder"], tokens["bdt"], tokens["office"], tokens["operator"]]
    subs = await open_subscribers(
        server.port, "/api/v1/events", principals, args.subscribers, tally.on_message
    )
    tally.sample_sub = subs[0]
    await asyncio.sleep(1.0)
    cpu_before = server.cpu()
    answered, post_latencies, failures = await post_from_another_process(
        server.port, tokens["operator"], args.rate, args.seconds, first
    )
    expected = len(answered) * len(subs)
    deadline = time.perf_counter() + 15
    while sum(len(tally.receipts[a]) for a in answered) < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    cpu = server.cpu() - cpu_before
    lost = duplicated = 0
    for sub in subs:
        got = tally.per_sub[id(sub)]
        for alert in answered:
            n = got.get(alert, 0)
            lost += n == 0
            duplicated += max(0, n - 1)
    latencies = sorted(r - answered[a] for a in answered for r in tally.receipts[a])
    closed = sum(1 for s in subs if s.closed.done())
    for sub in subs:
        sub.close()
    return {
        "alerts": len(answered),
        "post_failures": failures,
        "deliveries": sum(len(tally.receipts[a]) for a in answered),
        "expected": expected,
        "receipt": latencies,
        "post": sorted(post_latencies),
        "lost": lost,
        "duplicated": duplicated,
        "cpu": cpu,
        "baseline_cpu": baseline_cpu,
        "baseline_alerts": len(baseline),
        "closed": closed,
        "sample": tally.sample,
    }


# --- phase 2: the bare broadcast server ---------------------------------------------------------


async def bare_phase(args: argparse.Namespace, server: Server, payloads: list[bytes]) -> dict[str, Any]:
    tally = Tally()
    seen: dict[bytes, list[float]] = defaultdict(list)

    def on_message(sub: Subscriber, payload: bytes, now: float) -> None:
        seen[payload[:48]].append(now)
        tally.messages += 1

    subs = await open_subscribers(server.port, "/", [None], args.subscribers, on_message)
    publisher = (await open_subscribers(server.port, "/publish", [None], 1, lambda *a: None))[0]
    await asyncio.sleep(1.0)
    cpu_before = server.cpu()
    sent: list[float] = []
    t0 = time.perf_counter() + 0.2
    for k, payload in enumerate(payloads):
        await asyncio.sleep(max(0.0, t0 + k / args.rate - time.perf_counter()))
        sent.append(time.perf_counter())
        publisher.send_text(payload)
    expected = len(payloads) * len(subs)
    deadline = time.perf_counter() + 15
    while tally.messages < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    cpu = server.cpu() - cpu_before
    for sub in [*subs, publisher]:
        sub.close()
    return {"deliveries": tally.messages, "expected": expected, "cpu": cpu}


# --- phase 3: idle subscribers -------------------------------------------------------------------


async def idle_phase(args: argparse.Namespace, server: Server, tokens: dict[str, str]) -> dict[str, Any]:
    got: set[int] = set()

    def on_message(sub: Subscriber, payload: bytes, now: float) -> None:
        if orjson.loads(payload).get("type") == "alert.received":
            got.add(id(sub))

    await asyncio.sleep(1.0)
    before = server.rss()
    principals = [tokens["responder"], tokens["bdt"], tokens["office"], tokens["operator"]]
    subs = await open_subscribers(server.port, "/api/v1/events", principals, args.idle, on_message)
    await asyncio.sleep(3.0)
    with_idle = server.rss()
    conn = await Connection.open(server.port)
    headers = {"Authorization": f"Bearer {tokens['operator']}", "Content-Type": "application/cap+xml"}
    status, _ = await conn.request("POST", "/api/v1/alerts", make_messages(1)[0], headers)
    await conn.close()
    deadline = time.perf_counter() + 20
    while len(got) < len(subs) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    live = len(got)
    for sub in subs:
        sub.close()
    return {"before": before, "with": with_idle, "live": live, "count": len(subs), "post": status}


# --- reporting ---------------------------------------------------------------------------------


def figure(label: str, value: str, ok: bool | None = None, target: str = "") -> None:
    """One line of the report: the figure, and PASS/FAIL against its target when it has one."""
    verdict = "" if ok is None else f"  {'PASS' if ok else 'FAIL'} (target {target})"
    print(f"  {label:<24} {value}{verdict}")


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=25.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--idle", type=int, default=10_000)
    parser.add_argument("--source", help="run the server from this checkout (PYTHONPATH)")
    parser.add_argument("--keep", action="store_true", help="keep the data directories")
    parser.add_argument("--post-to", type=int, help=argparse.SUPPRESS)  # the poster process
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.post_to:
        return poster_main(args)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.idle + 100 > hard or args.subscribers + 100 > hard:
        raise SystemExit(f"the file descriptor limit ({hard}) is too low for {args.idle} subscribers")
    try:
        import uvloop

        uvloop.install()
        loop_name = "uvloop"
    except ImportError:
        loop_name = "asyncio"

    work = Path(tempfile.mkdtemp(prefix="tampere-fanout-"))
    results: dict[str, dict[str, Any]] = {}
    try:
        server, tokens = start_tampere(work / "load", args.source)
        try:
            results["tampere"] = asyncio.run(tampere_phase(args, server, tokens))
        finally:
            server.stop()
        payloads = list(results["tampere"]["sample"])
        bare = Server([sys.executable, "-c", BARE_SERVER], dict(os.environ), work / "bare.log")
        try:
            time.sleep(1.0)
            results["bare"] = asyncio.run(bare_phase(args, bare, payloads))
        finally:
            bare.stop()
        if args.idle:
            server, tokens = start_tampere(work / "idle", args.source)
            try:
                results["idle"] = asyncio.run(idle_phase(args, server, tokens))
            finally:
                server.stop()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    t, b = results["tampere"], results["bare"]
    receipt, post = t["receipt"], t["post"]
    print(
        f"tampere fan-out bench: {args.subscribers} subscribers (4 principals), {args.rate:g} alerts/s "
        f"for {args.seconds:g} s, {os.cpu_count()} cores, SQLite WAL; client on {loop_name}"
        + (f"; server from {args.source}" if args.source else "")
    )
    figure("alerts posted", f"{t['alerts']} (failed {t['post_failures']})")
    figure("deliveries", f"{t['deliveries']} of {t['expected']}; subscribers closed {t['closed']}")
    r50, r99 = (percentile(receipt, q) * 1000 for q in (0.50, 0.99))
    p50, p99 = (percentile(post, q) * 1000 for q in (0.50, 0.99))
    figure("answer->receipt p50", f"{r50:8.1f} ms")
    figure(
        "answer->receipt p99", f"{r99:8.1f} ms", r99 <= RECEIPT_P99_TARGET_MS, f"<= {RECEIPT_P99_TARGET_MS:g}"
    )
    figure("answer->receipt max", f"{receipt[-1] * 1000:8.1f} ms")
    figure("POST p50", f"{p50:8.1f} ms")
    figure("POST p99", f"{p99:8.1f} ms", p99 <= POST_P99_TARGET_MS, f"<= {POST_P99_TARGET_MS:g}")
    figure("POST max", f"{post[-1] * 1000:8.1f} ms")
    figure("lost", f"{t['lost']:8d}   ", t["lost"] == 0, "0")
    figure("duplicated", f"{t['duplicated']:8d}   ", t["duplicated"] == 0, "0")
    t_cpu = t["cpu"] / max(1, t["deliveries"])
    b_cpu = b["cpu"] / max(1, b["deliveries"])
    ratio = t_cpu / b_cpu if b_cpu else float("inf")
    figure(
        "server CPU",
        f"{t['cpu']:8.2f} s for {t['deliveries']} deliveries = {t_cpu * 1e6:.1f} µs each "
        f"(the ingest of {t['alerts']} alerts included)",
    )
    figure(
        "bare websockets CPU",
        f"{b['cpu']:8.2f} s for {b['deliveries']} of {b['expected']} deliveries = {b_cpu * 1e6:.1f} µs each "
        "(websockets broadcast(), same payloads, same client)",
    )
    figure(
        "CPU per delivery ratio", f"{ratio:8.2f}x  ", ratio <= CPU_RATIO_TARGET, f"<= {CPU_RATIO_TARGET:g}x"
    )
    fan_cpu = (t["cpu"] - t["baseline_cpu"]) / max(1, t["deliveries"])
    figure(
        "ingest alone",
        f"{t['baseline_cpu']:8.2f} s for {t['baseline_alerts']} alerts posted alike, nobody subscribed",
    )
    figure(
        "fan-out alone / bare",
        f"{fan_cpu / b_cpu:8.2f}x    ({fan_cpu * 1e6:.1f} µs per delivery: server CPU less ingest alone)",
    )
    ok = (
        r99 <= RECEIPT_P99_TARGET_MS and p99 <= POST_P99_TARGET_MS and t["lost"] == 0 and t["duplicated"] == 0
    )
    ok = ok and ratio <= CPU_RATIO_TARGET
    if "idle" in results:
        i = results["idle"]
        per = (i["with"] - i["before"]) / max(1, i["count"])
        figure("idle subscribers", f"{i['count']} open, {i['live']} received a live alert")
        idle_ok = i["with"] <= IDLE_RSS_TARGET_BYTES and i["live"] == i["count"]
        figure(
            "resident memory",
            f"{i['before'] / 2**20:.0f} MiB before, {i['with'] / 2**20:.0f} MiB with them "
            f"({per / 1024:.1f} KiB each)",
            idle_ok,
            f"<= {IDLE_RSS_TARGET_BYTES / 2**20:.0f} MiB, all live",
        )
        ok = ok and idle_ok
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
