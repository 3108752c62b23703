"""Basemap archives an operator imports: PMTiles v3 files in `data_dir/basemaps/`, served in byte
ranges at `/api/v1/basemap/NAME.pmtiles` and drawn by the web app in place of the built-in
country boundaries (`tampere basemap import|list|remove`).

PMTiles (https://github.com/protomaps/PMTiles/blob/main/spec/v3/spec.md) is one file holding a
127-byte header, a root directory, JSON metadata and the tiles; a browser reads the parts it needs
with HTTP range requests, so no tile server is needed. An import checks what a browser will rely
on before the file is served: the header (magic, version 3, a tile type MapLibre draws, bounds on
the Earth, zooms in order), that every section lies within the file and the root directory within
its first 16 KiB (spec §3), that the metadata is JSON and, for vector tiles, names the layers
(`vector_layers`: the map cannot guess a layer's name). Compression the browser cannot undo
(Brotli, Zstandard: the `pmtiles` reader uses the browser's DecompressionStream, gzip only) is
refused. The file is copied to a staging name and renamed, so a reader never sees half of one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from pmtiles.tile import (
    Compression,
    MagicNumberNotFound,
    SpecVersionUnsupported,
    TileType,
    deserialize_header,
)

BASEMAPS_DIR = "basemaps"
SUFFIX = ".pmtiles"
MEDIA_TYPE = "application/vnd.pmtiles"
HEADER_BYTES = 127
# Spec §3: the header and the root directory lie within the first 16,384 bytes.
ROOT_LIMIT = 16_384
# Metadata is a few kB of JSON (names, attribution, layer lists); more is not read.
MAX_METADATA_BYTES = 4 * 1024 * 1024
# A name is a path segment of the URL and a file name: plain, short, lower case.
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# What MapLibre draws, by PMTiles tile type; MLT is not drawn by the app's style.
DRAWN = {
    TileType.MVT: "vector",
    TileType.PNG: "raster",
    TileType.JPEG: "raster",
    TileType.WEBP: "raster",
    TileType.AVIF: "raster",
}
# What the browser can decompress (DecompressionStream: gzip, deflate).
READABLE = frozenset({Compression.NONE, Compression.GZIP})
_E7 = 10_000_000


class ArchiveError(ValueError):
    """A file that cannot serve as a basemap, with what to do about it."""


@dataclass(frozen=True, slots=True)
class Archive:
    """An imported archive: what the web app needs to draw it."""

    name: str
    path: Path
    bytes: int
    kind: str  # "vector" or "raster"
    tile_type: str  # mvt, png, jpeg, webp, avif
    min_zoom: int
    max_zoom: int
    bounds: tuple[float, float, float, float]  # west, south, east, north
    center: tuple[float, float, float]  # lon, lat, zoom
    vector_layers: tuple[dict[str, Any], ...]
    attribution: str | None
    imported_at: datetime

    @property
    def url(self) -> str:
        """Where the service serves it."""
        return f"/api/v1/basemap/{self.name}{SUFFIX}"

    def as_json(self) -> dict[str, Any]:
        """The archive as `tampere basemap list` prints it and the web app reads it."""
        return {
            "name": self.name,
            "url": self.url,
            "bytes": self.bytes,
            "kind": self.kind,
            "tile_type": self.tile_type,
            "minzoom": self.min_zoom,
            "maxzoom": self.max_zoom,
            "bounds": list(self.bounds),
            "center": list(self.center),
            "vector_layers": list(self.vector_layers),
            "attribution": self.attribution,
            "imported_at": self.imported_at.isoformat(),
        }


def basemaps_dir(data_dir: str | Path) -> Path:
    """Where the archives are kept."""
    return Path(data_dir) / BASEMAPS_DIR


def read_archive(path: Path, *, name: str | None = None) -> Archive:
    """What an archive holds, read from its header and metadata; ArchiveError when it cannot
    serve as a basemap (the message says why)."""
    try:
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            mtime = os.fstat(file.fileno()).st_mtime
            head = file.read(HEADER_BYTES)
            if len(head) < HEADER_BYTES:
                raise ArchiveError(
                    f"{path.name} is {size} bytes: a PMTiles archive starts with a {HEADER_BYTES}-byte header"
                )
            try:
                header = deserialize_header(head)
            except MagicNumberNotFound:
                raise ArchiveError(
                    f"{path.name} is not a PMTiles archive (it does not begin with 'PMTiles'); "
                    "convert MBTiles with `pmtiles convert IN.mbtiles OUT.pmtiles`"
                ) from None
            except SpecVersionUnsupported:
                raise ArchiveError(
                    f"{path.name} is PMTiles version {head[7]}, not 3; "
                    "convert it with `pmtiles convert` (go-pmtiles) to version 3"
                ) from None
            except (ValueError, UnicodeDecodeError) as exc:  # an enum value past the spec's
                raise ArchiveError(f"{path.name}: the PMTiles header cannot be read: {exc}") from None
            _check_sections(path.name, header, size)
            file.seek(header["metadata_offset"])
            metadata = _metadata(
                path.name, file.read(header["metadata_length"]), header["internal_compression"]
            )
    except OSError as exc:
        raise ArchiveError(f"cannot read {path}: {exc.strerror or exc}") from None
    tile_type = header["tile_type"]
    kind = DRAWN.get(tile_type)
    if kind is None:
        raise ArchiveError(
            f"{path.name} holds tiles of type {tile_type.name}: the map draws vector (MVT) or raster "
            "(PNG, JPEG, WebP, AVIF) tiles"
        )
    if kind == "vector" and header["tile_compression"] not in READABLE:
        raise ArchiveError(
            f"{path.name}: its tiles are compressed with {header['tile_compression'].name}, which "
            "browsers cannot undo; rewrite it with gzip or no tile compression"
        )
    bounds = tuple(header[k] / _E7 for k in ("min_lon_e7", "min_lat_e7", "max_lon_e7", "max_lat_e7"))
    west, south, east, north = bounds
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise ArchiveError(
            f"{path.name}: its bounds {west:g},{south:g},{east:g},{north:g} are not a box on the Earth "
            "(west < east within ±180, south < north within ±90)"
        )
    if header["min_zoom"] > header["max_zoom"]:
        raise ArchiveError(
            f"{path.name}: min zoom {header['min_zoom']} exceeds max zoom {header['max_zoom']}"
        )
    layers: tuple[dict[str, Any], ...] = ()
    if kind == "vector":
        layers = _vector_layers(path.name, metadata)
    attribution = metadata.get("attribution")
    return Archive(
        name=name or path.stem,
        path=path,
        bytes=size,
        kind=kind,
        tile_type=tile_type.name.lower(),
        min_zoom=header["min_zoom"],
        max_zoom=header["max_zoom"],
        bounds=(west, south, east, north),
        center=(header["center_lon_e7"] / _E7, header["center_lat_e7"] / _E7, float(header["center_zoom"])),
        vector_layers=layers,
        attribution=attribution if isinstance(attribution, str) else None,
        imported_at=datetime.fromtimestamp(mtime, UTC),
    )


def _check_sections(file_name: str, header: Any, size: int) -> None:
    sections = {
        "root directory": ("root_offset", "root_length"),
        "metadata": ("metadata_offset", "metadata_length"),
        "leaf directories": ("leaf_directory_offset", "leaf_directory_length"),
        "tile data": ("tile_data_offset", "tile_data_length"),
    }
    for what, (offset, length) in sections.items():
        if header[offset] + header[length] > size:
            raise ArchiveError(
                f"{file_name}: its {what} ends at byte {header[offset] + header[length]}, past the "
                f"end of the file ({size} bytes): the file is truncated or not a PMTiles archive"
            )
    if header["root_offset"] + header["root_length"] > ROOT_LIMIT:
        raise ArchiveError(
            f"{file_name}: its root directory ends past byte {ROOT_LIMIT} (PMTiles v3 §3 keeps it "
            "within the first 16 KiB, where browsers read it in one request)"
        )
    if header["internal_compression"] not in READABLE:
        raise ArchiveError(
            f"{file_name}: its directories are compressed with {header['internal_compression'].name}, "
            "which browsers cannot undo; rewrite it with gzip"
        )


def _metadata(file_name: str, raw: bytes, compression: Compression) -> dict[str, Any]:
    if len(raw) > MAX_METADATA_BYTES:
        raise ArchiveError(
            f"{file_name}: its metadata is {len(raw)} bytes; at most {MAX_METADATA_BYTES} are read"
        )
    if not raw:
        return {}
    if compression == Compression.GZIP:
        # Bounded: a small gzip member can expand a thousandfold.
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            raw = inflater.decompress(raw, MAX_METADATA_BYTES)
        except zlib.error as exc:
            raise ArchiveError(f"{file_name}: its metadata cannot be decompressed: {exc}") from None
        if inflater.unconsumed_tail:
            raise ArchiveError(f"{file_name}: its metadata expands past {MAX_METADATA_BYTES} bytes")
    try:
        metadata = json.loads(raw)
    except ValueError as exc:
        raise ArchiveError(f"{file_name}: its metadata is not JSON: {exc}") from None
    if not isinstance(metadata, dict):
        raise ArchiveError(f"{file_name}: its metadata is not a JSON object")
    return metadata


def _vector_layers(file_name: str, metadata: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    layers = metadata.get("vector_layers")
    found: tuple[dict[str, Any], ...] = ()
    if isinstance(layers, list):
        # The id names the source-layer; its zooms (when given) keep the map from asking for
        # it where it has nothing. Fields and the rest are not needed to draw it.
        found = tuple(
            {"id": layer["id"]}
            | {key: layer[key] for key in ("minzoom", "maxzoom") if isinstance(layer.get(key), int)}
            for layer in layers
            if isinstance(layer, dict) and isinstance(layer.get("id"), str) and layer["id"]
        )
    if not found:
        raise ArchiveError(
            f"{file_name}: its metadata names no vector layers (`vector_layers`, as tippecanoe and "
            "planetiler write it): the map cannot draw layers it does not know the names of"
        )
    return found


def import_archive(source: str | Path, data_dir: str | Path, *, name: str | None = None) -> Archive:
    """Check a PMTiles file and copy it into the data directory under `name` (default: the
    file's name without its extension), replacing an archive of that name."""
    source = Path(source)
    chosen = name if name is not None else source.stem.lower()
    if not NAME.match(chosen):
        raise ArchiveError(
            f"{chosen!r} cannot name a basemap: use 1 to 63 lower-case letters, digits, '-' or '_' "
            "(give one with --name)"
        )
    if not source.is_file():
        raise ArchiveError(f"cannot read {source}: no such file")
    read_archive(source, name=chosen)  # refused here, before anything is copied
    folder = basemaps_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(dir=folder, prefix=f".{chosen}-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out, source.open("rb") as file:
            shutil.copyfileobj(file, out, 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
        target = folder / f"{chosen}{SUFFIX}"
        # Checked again as copied: the source may have changed between the two reads.
        read_archive(Path(staging), name=chosen)
        os.replace(staging, target)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return read_archive(target, name=chosen)


def list_archives(data_dir: str | Path) -> list[Archive]:
    """The imported archives, oldest import first (the order the map stacks them in); a file
    that no longer reads as one is left out."""
    folder = basemaps_dir(data_dir)
    if not folder.is_dir():
        return []
    found: list[Archive] = []
    for path in folder.glob(f"*{SUFFIX}"):
        if not NAME.match(path.stem):
            continue
        try:
            stat = path.stat()
            found.append(_read_unchanged(path, stat.st_mtime_ns, stat.st_size))
        except (ArchiveError, OSError):
            continue
    return sorted(found, key=lambda a: (a.imported_at, a.name))


@lru_cache(maxsize=64)
def _read_unchanged(path: Path, _mtime_ns: int, _size: int) -> Archive:
    # Read once per version of the file: the web app asks for the list on every page load.
    return read_archive(path)


def archive_path(data_dir: str | Path, name: str) -> Path | None:
    """The file of an imported archive, or None."""
    if not NAME.match(name):
        return None
    path = basemaps_dir(data_dir) / f"{name}{SUFFIX}"
    return path if path.is_file() else None


def remove_archive(data_dir: str | Path, name: str) -> bool:
    """Remove an imported archive; False when there is none of that name."""
    path = archive_path(data_dir, name)
    if path is None:
        return False
    path.unlink()
    return True
