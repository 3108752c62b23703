"""Alerts whose recipients did not acknowledge in time are escalated: a sweep that runs for ever
in every instance (the rules of escalation are `contact_points.escalation`; the writes, and the
claim that keeps two instances from taking the same step, `service.alerts.recipients`)."""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from service.alerts.recipients import ESCALATION_BATCH, escalate_due, next_due
from service.runtime import Runtime

log = logging.getLogger(__name__)


async def sweep_once(runtime: Runtime) -> int:
    """Escalate what is due by the runtime's clock; how many alerts were looked at."""
    due = await runtime.db.read(next_due)
    now = runtime.clock()
    if due is None or due > now:
        return 0
    return await runtime.db.write(partial(escalate_due, now=now, registry=runtime.contacts), long=True)


async def alert_escalation_sweeper(runtime: Runtime) -> None:
    """Look every `alert_escalation_seconds` (a read); take the write lock only when a step is due."""
    while True:
        delay = runtime.settings.alert_escalation_seconds
        try:
            if await sweep_once(runtime) >= ESCALATION_BATCH:
                delay = 0.0
        except Exception:  # keep sweeping: a failed sweep is retried, and logged with its cause
            log.exception("alert escalation sweep failed")
        await asyncio.sleep(delay)
