"""Alerts expire when their time comes (CAP 1.2 §3.2.2 <expires>): a sweep that runs for ever."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from service.alerts import lifecycle
from service.db.models import utcnow
from service.runtime import Runtime

log = logging.getLogger(__name__)

EXPIRY_BATCH = 500


async def expiry_sweeper(runtime: Runtime) -> None:
    """Mark alerts expired when their time comes (CAP 1.2 §3.2.2 <expires>), for ever."""
    interval = runtime.settings.expiry_interval_seconds
    while True:
        delay = interval
        try:
            expired = await runtime.db.write(
                lambda conn: lifecycle.expire_due(conn, utcnow(), limit=EXPIRY_BATCH), long=True
            )
            if expired:
                runtime.metrics.expired.inc(expired)
            upcoming = await runtime.db.read(lifecycle.next_expiry)
            if expired >= EXPIRY_BATCH:
                delay = 0.0
            elif upcoming is not None:
                # Wake just after the next expiry rather than at the next tick.
                until = (upcoming - utcnow() + timedelta(milliseconds=10)).total_seconds()
                delay = min(interval, max(until, 0.01))
        except Exception:  # keep sweeping: a failed sweep is retried, and logged with its cause
            log.exception("expiry sweep failed")
        await asyncio.sleep(delay)
