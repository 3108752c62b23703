"""Assistance requests whose acknowledgement deadline passed are escalated: a sweep that runs
for ever (the rules of escalation are `contact_points.requests`; the writes `service.assistance.store`)."""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from service.assistance.store import ESCALATION_BATCH, escalate_due, next_due
from service.runtime import Runtime

log = logging.getLogger(__name__)


async def escalation_sweeper(runtime: Runtime) -> None:
    """Escalate unacknowledged requests as their deadlines pass, for ever (the app's lifespan).

    Each tick is a read; the write lock is taken only when a step has fallen due."""
    while True:
        delay = runtime.settings.request_escalation_seconds
        try:
            due = await runtime.db.read(next_due)
            now = runtime.clock()
            if due is not None and due <= now:
                looked_at = await runtime.db.write(partial(escalate_due, now=now), long=True)
                if looked_at >= ESCALATION_BATCH:
                    delay = 0.0
        except Exception:  # keep sweeping: a failed sweep is retried, and logged with its cause
            log.exception("request escalation sweep failed")
        await asyncio.sleep(delay)
