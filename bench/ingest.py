"""Benchmark: sustained CAP ingest over loopback on the embedded default (SQLite WAL).

Not a test. Run from the repository root:

    .venv/bin/python bench/ingest.py [--seconds S] [--concurrency C] [--warmup N]

Starts a real `tampere serve` (a subprocess, fresh data directory, SQLite, default settings) on
a free loopback port, issues an operator token, then POSTs distinct CAP 1.2 alerts for S seconds
from C concurrent keep-alive connections on the same machine (closed loop: each connection sends
its next alert when the previous one is answered). Every answer must be 201. Prints throughput,
p50/p90/p99/max latency, and the ratio of ingest time per alert (wall time / alerts) to bare
`cap.validate` time of the same messages in this process.

The client is a minimal HTTP/1.1 writer/reader on asyncio streams, so the figures are the
server's and not a client library's. Targets (issue 3): >= 500 alerts/s with p99 <= 50 ms on
2 cores; each printed with PASS/FAIL.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

THROUGHPUT_TARGET = 500.0  # alerts per second
P99_TARGET_MS = 50.0

TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>BENCH-{n}</identifier>
  <sender>alerts@meteo.go.ke</sender>
  <sent>{sent}</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>en-KE</language>
    <category>Met</category>
    <event>Flood</event>
    <urgency>Expected</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <expires>{expires}</expires>
    <senderName>Kenya Meteorological Department</senderName>
    <headline>Flash flood warning for Nairobi</headline>
    <description>Heavy rain of 50 to 80 mm expected over the next 12 hours.</description>
    <instruction>Avoid low-lying areas and river crossings.</instruction>
    <area>
      <areaDesc>Nairobi County</areaDesc>
      <polygon>-1.40,36.70 -1.40,36.95 -1.15,36.95 -1.15,36.70 -1.40,36.70</polygon>
    </area>
  </info>
</alert>
"""


def make_messages(count: int) -> list[bytes]:
    """`count` distinct CAP 1.2 alerts (a polygon over Nairobi), one second apart."""
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    expires = (t0 + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return [
        TEMPLATE.format(
            n=n,
            sent=(t0 + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            expires=expires,
        ).encode()
        for n in range(count)
    ]


def tampere_command() -> list[str]:
    """The installed console script next to this Python, else `python -m service.cli`."""
    script = Path(sys.executable).with_name("tampere")
    return [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Connection:
    """One keep-alive HTTP/1.1 connection: send a POST, read status and body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        """Connect to 127.0.0.1:port."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        """Send one request and read its answer (Content-Length framed)."""
        head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        """Close the socket."""
        self.writer.close()
        await self.writer.wait_closed()


async def wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Poll /healthz until 200 (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"tampere serve exited with {proc.returncode}")
        try:
            conn = await Connection.open(port)
            status, _ = await conn.request("GET", "/healthz", b"", {})
            await conn.close()
            if status == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("tampere serve did not become healthy")


async def drive(
    port: int, token: str, messages: list[bytes], *, seconds: float, concurrency: int, warmup: int
) -> tuple[list[float], float, int]:
    """Closed-loop load; returns the latencies (s) of the timed part, its wall time, its count."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/cap+xml"}
    position = 0
    latencies: list[float] = []
    timed_start = 0.0
    stop_at = float("inf")

    def next_body() -> bytes | None:
        nonlocal position
        if position >= len(messages):
            return None
        body = messages[position]
        position += 1
        return body

    async def worker(timed: bool) -> None:
        conn = await Connection.open(port)
        try:
            while time.perf_counter() < stop_at:
                body = next_body()
                if body is None:
                    return
                started = time.perf_counter()
                status, answer = await conn.request("POST", "/api/v1/alerts", body, headers)
                if status != 201:
                    raise SystemExit(f"unexpected {status}: {answer[:300]!r}")
                if timed:
                    latencies.append(time.perf_counter() - started)
        finally:
            await conn.close()

    # Warm-up: fills caches and the first WAL pages; not timed.
    stop_at = time.perf_counter() + 60
    saved, messages_all = messages, messages
    messages = messages_all[:warmup]
    await asyncio.gather(*(worker(False) for _ in range(concurrency)))
    messages = saved
    timed_start = time.perf_counter()
    stop_at = timed_start + seconds
    await asyncio.gather(*(worker(True) for _ in range(concurrency)))
    wall = time.perf_counter() - timed_start
    return latencies, wall, len(latencies)


def process_cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU time of a process so far (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def validate_only_seconds(messages: list[bytes]) -> float:
    """Median time of `cap.validate` over the same messages, per message (s), GC off."""
    import cap

    for body in messages[:50]:
        cap.validate(body)
    samples = []
    gc.disable()
    try:
        for body in messages:
            started = time.perf_counter_ns()
            cap.validate(body)
            samples.append(time.perf_counter_ns() - started)
    finally:
        gc.enable()
    return statistics.median(samples) / 1e9


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-quantile (0..1) of sorted values, nearest rank."""
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))
    return sorted_values[index]


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()

    # Enough distinct messages for the run even at several thousand per second.
    messages = make_messages(args.warmup + int(args.seconds * 4000))
    data_dir = Path(tempfile.mkdtemp(prefix="tampere-bench-"))
    env = {
        **os.environ,
        "TAMPERE_DATA_DIR": str(data_dir),
        "TAMPERE_DATABASE_URL": "",
        # The bench is an operator relaying feeds as fast as it can: the write rate limit (10/s
        # per token after a burst of 600) would measure itself, not ingest.
        "TAMPERE_WRITE_PER_SECOND_PER_TOKEN": "100000",
        "TAMPERE_WRITE_PER_SECOND_PER_ADDRESS": "100000",
    }
    # Token commands refuse a store that does not exist yet: create it first.
    subprocess.run([*tampere_command(), "migrate"], env=env, capture_output=True, timeout=120, check=True)
    token = subprocess.run(
        [*tampere_command(), "token", "create", "--role", "operator"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    port = free_port()
    log = (data_dir / "serve.log").open("wb")
    proc = subprocess.Popen(
        [*tampere_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        asyncio.run(wait_healthy(port, proc))
        cpu_before = process_cpu_seconds(proc.pid)
        client_before = time.process_time()
        latencies, wall, count = asyncio.run(
            drive(
                port, token, messages, seconds=args.seconds, concurrency=args.concurrency, warmup=args.warmup
            )
        )
        # Includes the warm-up: CPU per alert over every alert the server took.
        cpu_after = process_cpu_seconds(proc.pid)
        server_user, server_system = (a - b for a, b in zip(cpu_after, cpu_before, strict=True))
        client_cpu = time.process_time() - client_before
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)

    latencies.sort()
    throughput = count / wall
    p50, p90, p99 = (percentile(latencies, q) * 1000 for q in (0.50, 0.90, 0.99))
    validate_s = validate_only_seconds(messages[: min(len(messages), 5000)])
    per_alert_s = wall / count
    print(
        f"tampere ingest bench: {count} alerts in {wall:.2f} s, concurrency "
        f"{args.concurrency}, {os.cpu_count()} cores, SQLite WAL (embedded default)"
    )
    print(
        f"  throughput      {throughput:8.1f} alerts/s  "
        f"{'PASS' if throughput >= THROUGHPUT_TARGET else 'FAIL'} (target >= {THROUGHPUT_TARGET:.0f})"
    )
    print(f"  latency p50     {p50:8.2f} ms")
    print(f"  latency p90     {p90:8.2f} ms")
    print(
        f"  latency p99     {p99:8.2f} ms  "
        f"{'PASS' if p99 <= P99_TARGET_MS else 'FAIL'} (target <= {P99_TARGET_MS:.0f})"
    )
    print(f"  latency max     {latencies[-1] * 1000:8.2f} ms")
    taken = count + args.warmup
    print(
        f"  server CPU      {(server_user + server_system) / taken * 1e3:8.2f} ms/alert "
        f"(user {server_user / taken * 1e3:.2f}, system {server_system / taken * 1e3:.2f}; "
        f"client {client_cpu / taken * 1e3:.2f})"
    )
    print(f"  validate only   {validate_s * 1e6:8.1f} µs/alert (cap.validate, in process)")
    print(
        f"  ingest / validate-only: {per_alert_s / validate_s:.1f}x "
        f"({per_alert_s * 1e6:.0f} µs of wall time per ingested alert)"
    )
    return 0 if throughput >= THROUGHPUT_TARGET and p99 <= P99_TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
