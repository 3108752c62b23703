"""Prometheus metrics of one app instance: ingest results and latency, HTTP latency, backlog,
feed polls and the lag of each polled source."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Ingest is expected in milliseconds; the long tail is signed multi-MB messages.
_INGEST_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The metrics of one app (own registry, so several apps can live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.ingest = Counter(
            "tampere_ingest",
            "CAP messages offered for ingest by a known principal, by result "
            "(created, replayed, rejected, forbidden, too_large)",
            ["result"],
            registry=self.registry,
        )
        self.ingest_seconds = Histogram(
            "tampere_ingest_seconds",
            "Time from receiving a CAP message to its commit",
            buckets=_INGEST_BUCKETS,
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "tampere_http_request_seconds",
            "HTTP request duration by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.write_backlog = Gauge(
            "tampere_write_backlog",
            "Write transactions waiting for the (single) writer",
            registry=self.registry,
        )
        self.pending_references = Gauge(
            "tampere_pending_references",
            "Update/Cancel/Ack/Error references to messages not received yet",
            registry=self.registry,
        )
        self.expired = Counter(
            "tampere_alerts_expired", "Alerts marked expired by the sweep", registry=self.registry
        )
        self.polls = Counter(
            "tampere_source_polls",
            "Feed polls by result (ok, not_modified, partial, failed)",
            ["result"],
            registry=self.registry,
        )
        self.polled_messages = Counter(
            "tampere_source_messages",
            "CAP messages found in polled feeds, by result (created, replayed, rejected, forbidden)",
            ["result"],
            registry=self.registry,
        )
        self.polled_bytes = Counter(
            "tampere_source_bytes",
            "Bytes read by feed polls, feeds and linked CAP files together",
            registry=self.registry,
        )
        self.source_lag = Gauge(
            "tampere_source_lag_seconds",
            "Seconds since the newest entry seen in a polled feed (sources this instance polled)",
            ["source"],
            registry=self.registry,
        )

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one HTTP request."""
        self.http_seconds.labels(method, route, str(status)).observe(seconds)

    def track_backlog(self, waiting: Callable[[], float]) -> None:
        """Read the writer backlog from `waiting` at every scrape."""
        self.write_backlog.set_function(waiting)

    def track_source_lag(self, source_id: int, newest: Callable[[], float | None]) -> None:
        """Report a source's lag at every scrape as now minus `newest()` (a POSIX time)."""

        def lag() -> float:
            value = newest()
            return float("nan") if value is None else max(0.0, time.time() - value)

        self.source_lag.labels(str(source_id)).set_function(lag)

    def forget_source(self, source_id: int) -> None:
        """Stop reporting a deleted source."""
        with contextlib.suppress(KeyError):
            self.source_lag.remove(str(source_id))

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
