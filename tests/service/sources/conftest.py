"""Fixtures of the feed-polling tests: a real feed server on loopback and the service with fast
polling settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import running_service
from tests.service.sources.feeds import POLL_ENV, FeedServer


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    """A real HTTP server on loopback serving feeds the test puts on it."""
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture
async def tampere(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    """The service with fast polling settings and its loop off (tests call `poll`)."""
    for name, value in POLL_ENV.items():
        monkeypatch.setenv(name, value)
    async with running_service(database_url, tmp_path / "var") as running:
        yield running


@pytest.fixture
def corpus_feeds(shared_dir: Path) -> Path:
    """../shared/corpus/cap/feeds (the test is skipped when ../shared is absent)."""
    return shared_dir / "corpus" / "cap" / "feeds"
