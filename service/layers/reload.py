"""A running service picks up `tampere layer import` without a restart.

Every import ends by renaming a finished table directory (with its `meta.json`) into
`data_dir/layers/`. The watcher compares the set of those `meta.json` files (path, inode,
mtime) every few seconds; when it changed, the layer is loaded again, swapped in, and the
impacts of the active alerts are recomputed. Operators can also ask for it at once
(POST /api/v1/layers/reload). The watcher also catches up with status reports other
instances stored.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import true

from geo.layers import ConnectivityLayer
from service.alerts.impacts import RECOMPUTE_BATCH, Recomputed, recompute
from service.alerts.recipients import rerouter
from service.layers.files import list_layers, load_connectivity
from service.runtime import Runtime

log = logging.getLogger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]
LAYER_RELOAD = "layer.reload"


def layers_fingerprint(data_dir: Path) -> Fingerprint:
    """What identifies the imported tables: each finished `meta.json` with inode and mtime."""
    layers = Path(data_dir) / "layers"
    found: list[tuple[str, int, int]] = []
    for meta in [*layers.glob("*/meta.json"), *layers.glob("performance/*/meta.json")]:
        relative = meta.relative_to(layers)
        if any(part.startswith(".") for part in relative.parts):
            continue  # an import's staging or retired directory, not a table
        try:
            stat = meta.stat()
        except FileNotFoundError:
            continue  # replaced while we looked: the next look sees the new one
        found.append((relative.as_posix(), stat.st_ino, stat.st_mtime_ns))
    return tuple(sorted(found))


@dataclass(slots=True)
class ReloadOutcome:
    """What a reload did: whether the layer changed, what is held now, the alerts re-assessed."""

    reloaded: bool
    layers: list[dict[str, Any]] = field(default_factory=list)
    alerts_seen: int = 0
    alerts_changed: list[int] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "reloaded": self.reloaded,
            "layers": self.layers,
            "alerts_seen": self.alerts_seen,
            "alerts_changed": self.alerts_changed,
        }


class LayerReloader:
    """Loads the layer again when its files changed (or when forced), one reload at a time."""

    def __init__(self, data_dir: Path, fingerprint: Fingerprint) -> None:
        self.data_dir = Path(data_dir)
        self.fingerprint = fingerprint
        self._lock = asyncio.Lock()

    def changed(self) -> bool:
        """Whether the files differ from those last loaded."""
        return layers_fingerprint(self.data_dir) != self.fingerprint

    async def reload(self, runtime: Runtime, *, force: bool = False) -> ReloadOutcome:
        """Load the layer again if it changed (always when `force`), swap it in, and
        recompute the impacts of the active alerts."""
        async with self._lock:
            fingerprint = layers_fingerprint(self.data_dir)
            if not force and fingerprint == self.fingerprint:
                return ReloadOutcome(reloaded=False, layers=list_layers(self.data_dir))
            layer = await anyio.to_thread.run_sync(load_connectivity, self.data_dir)
            runtime.connectivity = layer
            self.fingerprint = fingerprint
            log.info("connectivity layer reloaded", extra={"tables": len(fingerprint)})
            done = await recompute_all(runtime, layer)
            return ReloadOutcome(
                reloaded=True,
                layers=list_layers(self.data_dir),
                alerts_seen=done.seen,
                alerts_changed=done.changed,
            )


async def recompute_all(runtime: Runtime, layer: ConnectivityLayer) -> Recomputed:
    """Re-assess every active alert against `layer`, RECOMPUTE_BATCH alerts per transaction."""
    book = runtime.network
    reroute = rerouter(runtime)
    total = Recomputed()
    # Bounded: each pass moves past the ids it read, and stops at the first short batch.
    while True:
        done = await runtime.db.write(
            lambda conn, after=total.last_id: recompute(
                conn,
                where=true(),
                layer=layer,
                status_near=book.near,
                reason={"reason": LAYER_RELOAD},
                after_id=after,
                limit=RECOMPUTE_BATCH,
                reroute=reroute,
            ),
            long=True,
        )
        total.seen += done.seen
        total.changed.extend(done.changed)
        total.last_id = done.last_id
        if done.seen < RECOMPUTE_BATCH:
            return total


async def layer_watcher(runtime: Runtime) -> None:
    """Every `layer_check_seconds`: reload a changed layer, read other instances' reports."""
    reloader = runtime.layers
    book = runtime.network
    while True:
        await asyncio.sleep(runtime.settings.layer_check_seconds)
        try:
            if await anyio.to_thread.run_sync(reloader.changed):
                await reloader.reload(runtime)
            await runtime.db.read(book.load_new)
        except Exception:  # keep watching: a failed look is retried, and logged with its cause
            log.exception("layer or status refresh failed")
