"""PMTiles basemap archives made for the tests with the `pmtiles` package's writer: vector tiles
encoded by mapbox-vector-tile, raster tiles drawn by Pillow. Nothing is downloaded."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import Any

import mapbox_vector_tile
from PIL import Image
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import write

EXTENT = 4096
WORLD = (-180.0, -85.0, 180.0, 85.0)


def _tiles(max_zoom: int) -> list[tuple[int, int, int]]:
    """Every tile from zoom 0 to max_zoom, in tile id order (the writer clusters them)."""
    tiles = [(z, x, y) for z in range(max_zoom + 1) for x in range(2**z) for y in range(2**z)]
    return sorted(tiles, key=lambda t: zxy_to_tileid(*t))


def vector_archive(
    path: Path,
    *,
    max_zoom: int = 2,
    layers: tuple[str, ...] = ("water", "landuse"),
    vector_layers: bool = True,
) -> Path:
    """A vector archive whose tiles each hold, per layer, a polygon over most of the tile and a
    line across it; its metadata lists the layers (`vector_layers`) unless told not to."""
    with write(str(path)) as writer:
        for z, x, y in _tiles(max_zoom):
            data = mapbox_vector_tile.encode(
                [
                    {
                        "name": name,
                        "features": [
                            {
                                "geometry": "POLYGON ((256 256, 3840 256, 3840 3840, 256 3840, 256 256))",
                                # Each tile its own bytes: the archive grows with its zooms, as
                                # real ones do, past the first 16 KiB a reader fetches at once.
                                "properties": {"kind": name, "z": z, "x": x, "y": y},
                            },
                            {"geometry": "LINESTRING (0 2048, 4096 2048)", "properties": {"kind": "edge"}},
                        ],
                    }
                    for name in layers
                ],
                default_options={"y_coord_down": True, "extents": EXTENT},
            )
            writer.write_tile(zxy_to_tileid(z, x, y), gzip.compress(data, mtime=0))
        metadata: dict[str, Any] = {"name": path.stem, "attribution": "Test tiles"}
        if vector_layers:
            metadata["vector_layers"] = [{"id": name, "fields": {"kind": "String"}} for name in layers]
        writer.finalize(_header(TileType.MVT, Compression.GZIP, max_zoom), metadata)
    return path


def raster_archive(path: Path, *, max_zoom: int = 1, colour: tuple[int, int, int] = (40, 120, 200)) -> Path:
    """A raster archive of 256-pixel PNG tiles of one colour (each with one pixel of its own, so
    the writer keeps every tile rather than one run of the same bytes)."""
    with write(str(path)) as writer:
        for index, (z, x, y) in enumerate(_tiles(max_zoom)):
            image = Image.new("RGB", (256, 256), colour)
            image.putpixel((0, 0), (index % 256, 0, 0))
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            writer.write_tile(zxy_to_tileid(z, x, y), buffer.getvalue())
        writer.finalize(_header(TileType.PNG, Compression.NONE, max_zoom), {"name": path.stem})
    return path


def _header(tile_type: TileType, compression: Compression, max_zoom: int) -> Any:
    west, south, east, north = WORLD
    return {
        "tile_type": tile_type,
        "tile_compression": compression,
        "min_zoom": 0,
        "max_zoom": max_zoom,
        "min_lon_e7": int(west * 10_000_000),
        "min_lat_e7": int(south * 10_000_000),
        "max_lon_e7": int(east * 10_000_000),
        "max_lat_e7": int(north * 10_000_000),
        "center_zoom": 1,
        "center_lon_e7": 0,
        "center_lat_e7": 0,
    }
