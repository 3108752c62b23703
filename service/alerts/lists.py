"""Alert lists made once for everyone without credentials.

Every reader without a token or session sees the same list for the same query (Public alerts,
`service.visibility`), and maps poll it every second or so: made per request, a thousand
anonymous pages would each cost a full read of the active alerts every second. A list made for
one of them is kept and given to the others until the event log moves (every change to an
alert writes an event in the same transaction: received, updated, cancelled, expired,
acknowledged, impact) or `FRESH_SECONDS` pass (an alert past its `expires` leaves the list
before the expiry sweep writes its event).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

# How long a list stays good without a new event: the delay with which an alert whose expiry
# passed leaves the lists of anonymous readers at most (the sweep writes its event within
# TAMPERE_EXPIRY_INTERVAL_SECONDS anyway).
FRESH_SECONDS = 1.0
# Distinct queries kept (a filter, a zoom, a box each).
KEPT = 256


@dataclass(frozen=True, slots=True)
class MadeList:
    """A list body and what it was made from."""

    event_id: int
    made_at: float
    body: bytes


class PublicLists:
    """Bodies of anonymous lists by query, while the event log stands still."""

    def __init__(self, *, fresh_seconds: float = FRESH_SECONDS, kept: int = KEPT) -> None:
        self.fresh_seconds = fresh_seconds
        self.kept = kept
        self._made: OrderedDict[str, MadeList] = OrderedDict()

    def get(self, query: str, event_id: int) -> bytes | None:
        """The body made for `query` when the newest event was `event_id`, if still fresh."""
        made = self._made.get(query)
        if made is None or made.event_id != event_id or time.monotonic() - made.made_at > self.fresh_seconds:
            return None
        self._made.move_to_end(query)
        return made.body

    def put(self, query: str, event_id: int, body: bytes) -> None:
        """Keep a body made for `query` at `event_id`."""
        self._made[query] = MadeList(event_id=event_id, made_at=time.monotonic(), body=body)
        self._made.move_to_end(query)
        while len(self._made) > self.kept:
            self._made.popitem(last=False)
