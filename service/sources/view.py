"""The JSON shape of a polled feed source and its health, for the HTTP views and the CLI."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _finding(rule: str | None, message: str | None, at: datetime | None) -> dict[str, Any] | None:
    if rule is None:
        return None
    return {"rule": rule, "message": message, "at": _iso(at)}


def source_json(row: Any, *, now: datetime) -> dict[str, Any]:
    """A source and its health: last success and error, backoff, lag and message counts."""
    lag = None
    if row.newest_entry_at is not None:
        # Entries dated in the future (a clock ahead of ours) mean no lag, not a negative one.
        lag = max(0.0, (now - row.newest_entry_at) / timedelta(seconds=1))
    return {
        "id": row.id,
        "url": row.url,
        "name": row.name,
        "owner": row.owner,
        "interval_seconds": row.interval_seconds,
        "created_at": _iso(row.created_at),
        "last_poll": _iso(row.last_poll_at),
        "last_success": _iso(row.last_success_at),
        "last_status": row.last_status,
        "last_error": _finding(row.last_error_rule, row.last_error_message, row.last_error_at),
        "consecutive_failures": row.consecutive_failures,
        "next_poll_at": _iso(row.next_poll_at),
        "newest_entry_at": _iso(row.newest_entry_at),
        "lag_seconds": lag,
        "feed_kind": row.feed_kind,
        "entries": row.entries,
        "messages_ingested": row.messages_ingested,
        "messages_replayed": row.messages_replayed,
        "messages_rejected": row.messages_rejected,
        "last_rejection": _finding(
            row.last_rejection_rule, row.last_rejection_message, row.last_rejection_at
        ),
    }
