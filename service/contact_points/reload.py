"""Every instance routes by the registry as stored: it reads it again when its revision moved
(another instance's change, `tampere contacts import`), and at once after its own changes."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import Connection

from contact_points.registry import Registry
from service.contact_points.store import load_registry, revision
from service.runtime import Runtime

log = logging.getLogger(__name__)


def _registry_since(conn: Connection, known: int) -> tuple[int, Registry] | None:
    current = revision(conn)
    if current == known:
        return None
    return current, load_registry(conn)


async def refresh_contacts(runtime: Runtime) -> bool:
    """Swap in the stored registry if it changed since it was read; whether it did."""
    found = await runtime.db.read(lambda conn: _registry_since(conn, runtime.contacts_revision))
    if found is None:
        return False
    runtime.contacts_revision, runtime.contacts = found
    log.info("contact-point registry reloaded", extra={"revision": found[0], "contacts": len(found[1])})
    return True


async def contacts_watcher(runtime: Runtime) -> None:
    """Every `contacts_check_seconds`: pick up changes made elsewhere, for ever (the lifespan)."""
    while True:
        await asyncio.sleep(runtime.settings.contacts_check_seconds)
        try:
            await refresh_contacts(runtime)
        except Exception:  # keep watching: a failed look is retried, and logged with its cause
            log.exception("contact-point registry refresh failed")
