"""Cell sites from OpenCelliD exports: parsed to numpy columns, merged by cell identity."""

from __future__ import annotations

import gzip
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from geo.layers.index import Selection
from geo.layers.points import LayerFormatError, PointLayer

# Radio technologies as OpenCelliD names them; a site's `radio` column is the index here.
RADIOS = ("GSM", "UMTS", "LTE", "NR", "CDMA")

# The OpenCelliD export layout. Full exports carry it as a header line; per-country files
# (e.g. "262.csv.gz") have no header but the same columns in this order.
OPENCELLID_COLUMNS = (
    "radio",
    "mcc",
    "net",
    "area",
    "cell",
    "unit",
    "lon",
    "lat",
    "range",
    "samples",
    "changeable",
    "created",
    "updated",
    "averageSignal",
)

# What is kept per site: identity, position, estimated coverage radius, freshness.
_KEPT = {
    "radio": pa.string(),
    "mcc": pa.int64(),
    "net": pa.int64(),
    "area": pa.int64(),
    "cell": pa.int64(),
    "lon": pa.float64(),
    "lat": pa.float64(),
    "range": pa.int64(),
    "samples": pa.int64(),
    "updated": pa.int64(),
}
_STORED_DTYPES = {
    "radio": np.uint8,
    "mcc": np.uint16,
    "net": np.uint16,
    "area": np.uint32,
    "cell": np.int64,
    "lon": np.float64,
    "lat": np.float64,
    "range": np.uint32,
    "samples": np.uint32,
    "updated": np.int64,
}
_IDENTITY = ("radio", "mcc", "net", "area", "cell")


class CellSites(PointLayer):
    """OpenCelliD cells: radio code, MCC, MNC, LAC/TAC, cell id, position, range, updated."""

    def by_radio(self, selection: Selection) -> dict[str, int]:
        """Selected sites per radio technology, every technology named."""
        counts = self.count_codes(selection, "radio", len(RADIOS))
        return dict(zip(RADIOS, counts.tolist(), strict=True))

    def merged_with(self, newer: CellSites) -> CellSites:
        """Both sets of cells; a cell in both (same radio, MCC, MNC, area, cell id) keeps the
        row with the later `updated`, as an OpenCelliD diff export updates a full one."""
        both = {name: np.concatenate([self.columns[name], newer.columns[name]]) for name in self.columns}
        # Sort by identity then time; the last row of each identity is the newest.
        order = np.lexsort([both["updated"]] + [both[name] for name in reversed(_IDENTITY)])
        ident = np.stack([both[name][order].astype(np.int64) for name in _IDENTITY])
        last = np.ones(len(order), dtype=bool)
        last[:-1] = np.any(ident[:, 1:] != ident[:, :-1], axis=0)
        keep = order[last]
        return CellSites(
            {name: values[keep] for name, values in both.items()},
            skipped=self.skipped + newer.skipped,
        )


def parse_opencellid(data: bytes | BinaryIO) -> CellSites:
    """Read an OpenCelliD CSV export (plain or gzip, with or without header) into cell sites.

    Rows with an unknown radio or a position outside WGS 84 ranges are dropped and counted in
    `skipped`; a file that is not an OpenCelliD CSV raises LayerFormatError.
    """
    raw = data if isinstance(data, bytes) else data.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise LayerFormatError("opencellid.gzip", f"broken gzip stream: {exc}") from exc
    end = raw.find(b"\n")
    first_line = raw[: end if end >= 0 else len(raw)].decode("utf-8", "replace").lstrip("\ufeff")
    fields = [f.strip().strip('"') for f in first_line.strip().split(",")]
    if fields and fields[0] == "radio":
        missing = [name for name in _KEPT if name not in fields]
        if missing:
            raise LayerFormatError("opencellid.header", f"missing column(s) {', '.join(missing)}", "line 1")
        read = pacsv.ReadOptions()
    elif fields and fields[0] in RADIOS and len(fields) == len(OPENCELLID_COLUMNS):
        read = pacsv.ReadOptions(column_names=list(OPENCELLID_COLUMNS))
    else:
        raise LayerFormatError(
            "opencellid.header",
            f"expected the header {','.join(OPENCELLID_COLUMNS)} or a data row, got {first_line[:80]!r}",
            "line 1",
        )
    convert = pacsv.ConvertOptions(column_types=_KEPT, include_columns=list(_KEPT))
    try:
        table = pacsv.read_csv(pa.BufferReader(raw), read_options=read, convert_options=convert)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise LayerFormatError("opencellid.row", str(exc).splitlines()[0]) from exc
    return _cells_from_table(table)


def _cells_from_table(table: pa.Table) -> CellSites:
    radio = pc.index_in(table["radio"], value_set=pa.array(RADIOS))
    columns = {name: _numpy(table[name]) for name in _KEPT if name != "radio"}
    codes = _numpy(radio.fill_null(-1))
    lon, lat = columns["lon"], columns["lat"]
    usable = (
        (codes >= 0)
        & (np.abs(lon) <= 180.0)
        & (np.abs(lat) <= 90.0)
        & (columns["mcc"] >= 0)
        & (columns["mcc"] < 1000)
        & (columns["net"] >= 0)
        & (columns["net"] < 1000)
        & (columns["area"] >= 0)
        & (columns["area"] < 2**32)
    )
    columns["radio"] = codes
    kept = {
        name: np.ascontiguousarray(columns[name][usable]).astype(dtype, copy=False)
        if name not in ("range", "samples")
        else np.clip(columns[name][usable], 0, 2**32 - 1).astype(dtype)
        for name, dtype in _STORED_DTYPES.items()
    }
    return CellSites(kept, skipped=int(len(usable) - usable.sum()))


def _numpy(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A column as numpy; nulls (empty CSV fields) become 0, or NaN for floats."""
    if column.null_count:
        fill = float("nan") if pa.types.is_floating(column.type) else 0
        column = column.fill_null(fill)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column.to_numpy(zero_copy_only=False)
