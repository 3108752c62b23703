"""Polling that cannot be starved, against real servers on 127.0.0.1 (one that serves feeds, one
that accepts connections and never answers), on SQLite and PostgreSQL: a source is polled within
a time and a byte budget that cover its feed and every linked entry, a poll in which every entry
failed counts as a failed poll and backs off, and sources whose links never answer do not keep a
valid feed from being polled."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.sources.poller import FAILED, PARTIAL
from tests.conftest import ServiceUnderTest, make_cap, running_service
from tests.service.sources.feeds import (
    POLL_ENV,
    BlackHole,
    FeedServer,
    atom,
    health,
    poll,
    register,
    seconds,
)

# One document may take 1 s per network operation; the whole poll of a source 3 s; 20 links.
BUDGET_ENV = {
    **POLL_ENV,
    "TAMPERE_POLL_TIMEOUT_SECONDS": "1",
    "TAMPERE_POLL_TOTAL_SECONDS": "3",
    "TAMPERE_POLL_MAX_LINKS": "20",
    "TAMPERE_POLL_LINK_CONCURRENCY": "4",
    "TAMPERE_POLL_CONCURRENCY": "4",
    "TAMPERE_POLL_MAX_BYTES": "1000000",
    "TAMPERE_POLL_MAX_BYTES_PER_POLL": "2500000",
}
TOTAL = 3.0
MAX_BYTES = 1_000_000
PER_POLL = 2_500_000
# A piece httpx hands over at a time (httpcore reads 64 KiB): each of the concurrent fetches of a
# poll may add one after the budget is spent, before it sees that it is.
PIECE = 64 * 1024
JUNK = b"\x00junk" * 300_000  # 1.5 MB: above the per-document limit


@pytest.fixture
def hole() -> Iterator[BlackHole]:
    """A server on loopback that accepts every connection and never answers."""
    server = BlackHole()
    yield server
    server.close()


def _environment(monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    for name, value in {**BUDGET_ENV, **extra}.items():
        monkeypatch.setenv(name, value)


def _gap(state: dict[str, str]) -> float:
    """Seconds from a source's last poll to its next one."""
    return seconds(state["last_poll"], state["next_poll_at"])


async def _metric(service: ServiceUnderTest, name: str) -> float:
    text = (await service.client.get("/metrics")).text
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


# --- the time budget -------------------------------------------------------------------------------


async def test_sources_whose_links_never_answer_do_not_starve_a_valid_feed(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, feeds: FeedServer, hole: BlackHole
) -> None:
    # The loop runs, four slots; the tick is 1 s so that the bound below includes a whole one.
    _environment(monkeypatch, TAMPERE_POLL_ENABLED="true", TAMPERE_POLL_TICK_SECONDS="1")
    tick = 1.0
    for n in range(4):
        links = tuple(hole.url(f"/never/{n}/{k}") for k in range(20))
        feeds.serve(f"/stuck/{n}.atom", atom(links=links))
    feeds.serve("/good.atom", atom(make_cap("FAIR-1")))
    async with running_service(database_url, tmp_path / "var") as service:
        operator = await service.token("operator")
        stuck = [await register(service, operator, feeds.url(f"/stuck/{n}.atom")) for n in range(4)]
        # Every slot is taken by a source whose links hang before the valid feed arrives.
        deadline = time.monotonic() + 5
        while hole.accepted < 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert hole.accepted >= 4, "the stuck sources were not being polled"
        started = time.monotonic()
        good = await register(service, operator, feeds.url("/good.atom"))
        while time.monotonic() - started < 60:
            if (await health(service, operator, good["id"]))["messages_ingested"]:
                break
            await asyncio.sleep(0.02)
        waited = time.monotonic() - started
        print(f"\nvalid feed first ingested {waited:.2f} s after it was registered")
        # A slot is held at most the poll budget: the valid feed waits at most a tick and a budget.
        assert waited < tick + TOTAL + 1.0, f"the valid feed waited {waited:.2f} s"
        # Each stuck poll ends at its budget (the last to start a moment after the first).
        while time.monotonic() - started < TOTAL + 2:
            states = [await health(service, operator, source["id"]) for source in stuck]
            if all(state["consecutive_failures"] for state in states):
                break
            await asyncio.sleep(0.05)
        for state in states:
            assert state["consecutive_failures"] >= 1, state
            assert state["last_error"]["rule"] == "service.poll.time-budget", state


async def test_one_poll_is_bounded_by_its_time_budget_including_every_link(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, feeds: FeedServer, hole: BlackHole
) -> None:
    _environment(monkeypatch)
    links = tuple(hole.url(f"/never/{k}") for k in range(20))
    async with running_service(database_url, tmp_path / "var") as service:
        operator = await service.token("operator")
        source = await register(
            service, operator, feeds.serve("/stuck.atom", atom(links=links)), interval_seconds=1
        )
        started = time.monotonic()
        outcome = await poll(service, source["id"])
        took = time.monotonic() - started
        print(f"\none poll of 20 links that never answer took {took:.2f} s")
        # 20 links of 1 s each one after the other were 20 s; the poll of the source has 3 s.
        assert TOTAL - 0.1 <= took < TOTAL + 0.5, took
        assert outcome.result == FAILED and outcome.error is not None
        assert outcome.error.rule == "service.poll.time-budget"
        # Four at a time (TAMPERE_POLL_LINK_CONCURRENCY), a new one as each times out after 1 s.
        assert 4 <= hole.accepted <= 12, hole.accepted
        state = await health(service, operator, source["id"])
        assert (
            state["consecutive_failures"] == 1 and state["last_error"]["rule"] == "service.poll.time-budget"
        )
        assert "3 s" in state["last_error"]["message"]
        assert (await poll(service, source["id"])).result == FAILED
        state = await health(service, operator, source["id"])
        assert state["consecutive_failures"] == 2


# --- failed entries and the byte budget ------------------------------------------------------------


async def test_a_poll_whose_every_link_failed_is_a_failed_poll_that_backs_off(tampere, feeds) -> None:
    operator = await tampere.token("operator")
    links = (feeds.url("/gone/1"), feeds.url("/gone/2"))  # 404
    source = await register(
        tampere, operator, feeds.serve("/dead.atom", atom(links=links)), interval_seconds=1
    )
    for n in (1, 2):
        outcome = await poll(tampere, source["id"])
        assert outcome.result == FAILED and outcome.error is not None
        assert outcome.error.rule == "service.poll.http-status"
        state = await health(tampere, operator, source["id"])
        assert state["consecutive_failures"] == n and state["last_success"] is None
    assert _gap(state) >= 3, state  # 1 s doubled twice, jitter >= 0.75

    # One link that comes is enough for the poll to have worked (partial: one is still missing).
    feeds.serve("/gone/1", make_cap("BACK-1"))
    outcome = await poll(tampere, source["id"])
    assert (outcome.result, outcome.messages) == (PARTIAL, {"created": 1})
    assert (await health(tampere, operator, source["id"]))["consecutive_failures"] == 0


async def test_a_poll_stops_at_its_byte_budget_and_backs_off(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, feeds: FeedServer
) -> None:
    _environment(monkeypatch)
    links = tuple(feeds.serve(f"/junk/{k}", JUNK, declare_length=False) for k in range(20))
    async with running_service(database_url, tmp_path / "var") as service:
        operator = await service.token("operator")
        source = await register(
            service, operator, feeds.serve("/junk.atom", atom(links=links)), interval_seconds=1
        )
        outcome = await poll(service, source["id"])
        print(f"\none poll of 20 junk links pulled {outcome.bytes} bytes ({feeds.hit_count('/junk/')} links)")
        assert outcome.result == FAILED and outcome.error is not None
        assert outcome.error.rule == "service.poll.byte-budget"
        # Without the budget: 20 links read to the 1 MB limit each, 20 MB.
        assert PER_POLL < outcome.bytes <= PER_POLL + 4 * PIECE + len(atom(links=links)), outcome.bytes
        assert feeds.hit_count("/junk/") <= 4 + 3  # four at a time, then as many as the budget allowed
        assert await _metric(service, "tampere_source_bytes_total") == outcome.bytes
        state = await health(service, operator, source["id"])
        assert state["consecutive_failures"] == 1
        assert state["last_error"]["rule"] == "service.poll.byte-budget"
        assert f"{PER_POLL}" in state["last_error"]["message"]
        assert _gap(state) >= 1.5


async def test_junk_links_cost_a_bounded_number_of_bytes_over_time(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, feeds: FeedServer
) -> None:
    # The attack: a valid feed whose every link is a large junk file, polled by the loop.
    _environment(monkeypatch, TAMPERE_POLL_ENABLED="true")
    links = tuple(feeds.serve(f"/junk/{k}", JUNK, declare_length=False) for k in range(20))
    feeds.serve("/junk.atom", atom(links=links))
    window = 6.0
    async with running_service(database_url, tmp_path / "var") as service:
        operator = await service.token("operator")
        await register(service, operator, feeds.url("/junk.atom"), interval_seconds=1)
        await asyncio.sleep(window)
        pulled = await _metric(service, "tampere_source_bytes_total")
        polls = len(feeds.hits("/junk.atom"))
    print(
        f"\nin {window:g} s: {polls} polls, {feeds.hit_count('/junk/')} junk links, {pulled:.0f} bytes read"
    )
    # Polls at 0, after 1.5-2 s and after a further 3-4 s: at most three in the window.
    assert polls <= 3, polls
    assert feeds.hit_count("/junk/") <= polls * (4 + 3), "links fetched beyond the budget"
    assert pulled <= polls * (PER_POLL + 4 * PIECE + len(atom(links=links))), pulled
