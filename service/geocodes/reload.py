"""A running service picks up `tampere geocodes import` without a restart.

Every import ends by renaming a finished table over `data_dir/geocodes/<KEY>.parquet`. The
watcher compares those files (name, inode, mtime) every `layer_check_seconds`, as the layer
watcher does for `data_dir/layers/`; when they changed, the gazetteer is loaded again and
swapped in, and every message ingested from then on is mapped with it.

Alerts stored before the reload keep the geometry, countries, routing and
`geo.geocode.unresolved` warnings they were assessed with: re-assessing them would change
who they were routed to after the fact. An Update of such an alert is mapped with the new table.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import anyio

from service.geocodes.files import GEOCODES_DIR, SUFFIX, load_gazetteer
from service.runtime import Runtime

log = logging.getLogger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]


def geocodes_fingerprint(data_dir: Path) -> Fingerprint:
    """What identifies the imported boundary tables: each finished file with inode and mtime."""
    found: list[tuple[str, int, int]] = []
    for table in (Path(data_dir) / GEOCODES_DIR).glob(f"*{SUFFIX}"):
        if table.name.startswith("."):
            continue  # an import's staging file, not a table
        try:
            stat = table.stat()
        except FileNotFoundError:
            continue  # replaced while we looked: the next look sees the new one
        found.append((table.name, stat.st_ino, stat.st_mtime_ns))
    return tuple(sorted(found))


class GazetteerReloader:
    """Loads the gazetteer again when the boundary tables changed, one reload at a time."""

    def __init__(self, data_dir: Path, fingerprint: Fingerprint) -> None:
        self.data_dir = Path(data_dir)
        self.fingerprint = fingerprint
        self._lock = asyncio.Lock()

    def changed(self) -> bool:
        """Whether the files differ from those last loaded."""
        return geocodes_fingerprint(self.data_dir) != self.fingerprint

    async def reload(self, runtime: Runtime, *, force: bool = False) -> bool:
        """Load the tables again if they changed (always when `force`) and swap the gazetteer
        in; True when it was reloaded."""
        async with self._lock:
            # Fingerprint before loading: an import landing meanwhile is seen by the next look.
            fingerprint = geocodes_fingerprint(self.data_dir)
            if not force and fingerprint == self.fingerprint:
                return False
            runtime.gazetteer = await anyio.to_thread.run_sync(load_gazetteer, self.data_dir)
            self.fingerprint = fingerprint
            log.info("gazetteer reloaded", extra={"tables": len(fingerprint)})
            return True


async def gazetteer_watcher(runtime: Runtime) -> None:
    """Every `layer_check_seconds`: reload the gazetteer when its tables changed."""
    reloader = runtime.geocodes
    while True:
        await asyncio.sleep(runtime.settings.layer_check_seconds)
        try:
            if await anyio.to_thread.run_sync(reloader.changed):
                await reloader.reload(runtime)
        except Exception:  # keep watching: a failed look is retried, and logged with its cause
            log.exception("gazetteer refresh failed")
