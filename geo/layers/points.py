"""A table of located points: numpy columns in index order, a point index, cached prefix sums."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from geo.layers.index import PointIndex, Selection, index_keys, prefix_sum


class LayerFormatError(ValueError):
    """A layer file cannot be read: `rule` names the broken rule, `place` where it broke."""

    def __init__(self, rule: str, message: str, place: str = "") -> None:
        super().__init__(f"{rule}: {message}" + (f" (at {place})" if place else ""))
        self.rule = rule
        self.message = message
        self.place = place


class PointLayer:
    """Equal-length numpy columns, two of them `lon` and `lat`, kept in index order.

    Columns already in index order (as the layer store writes them) are used as they are, so
    memory-mapped files stay mapped; others are sorted once.
    """

    def __init__(self, columns: Mapping[str, np.ndarray], *, skipped: int = 0) -> None:
        if "lon" not in columns or "lat" not in columns:
            raise ValueError("a point layer needs lon and lat columns")
        lengths = {len(v) for v in columns.values()}
        if len(lengths) != 1:
            raise ValueError("every column of a point layer needs one value per point")
        keys = index_keys(columns["lon"], columns["lat"])
        if len(keys) > 1 and bool(np.any(keys[1:] < keys[:-1])):
            order = np.argsort(keys)
            keys = keys[order]
            self.columns = {name: np.asarray(values)[order] for name, values in columns.items()}
        else:
            self.columns = dict(columns)
        self.index = PointIndex(self.columns["lon"], self.columns["lat"], keys=keys)
        # Rows the parser dropped (unusable position or code), for the import summary.
        self.skipped = skipped
        self._prefix: dict[object, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def sum(self, selection: Selection, name: str) -> float | int:
        """Sum of one column over a selection (integers stay exact)."""
        values = self.columns[name]
        if name not in self._prefix:
            wide = np.int64 if np.issubdtype(values.dtype, np.integer) else np.float64
            self._prefix[name] = prefix_sum(values, wide)
        return selection.sum(values, self._prefix[name])

    def count_codes(self, selection: Selection, name: str, n_codes: int) -> np.ndarray:
        """How many selected points carry each small integer code 0..n_codes-1 in a column."""
        values = self.columns[name]
        key = (name, n_codes)
        if key not in self._prefix:
            # One prefix count per code: slices cost O(1) each, whatever their length. Rows are
            # positions, so the counts of all codes at one position sit together.
            prefixes = np.zeros((len(values) + 1, n_codes), dtype=np.int32)
            for code in range(n_codes):
                np.cumsum(values == code, out=prefixes[1:, code])
            self._prefix[key] = prefixes
        prefixes = self._prefix[key]
        # `take` gathers whole rows at once; fancy indexing a 2-D array is several times slower.
        ranged = prefixes.take(selection.ends, axis=0) - prefixes.take(selection.starts, axis=0)
        found = np.bincount(values.take(selection.hits), minlength=n_codes)[:n_codes]
        return ranged.sum(axis=0) + found
