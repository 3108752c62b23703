"""A table of located points: numpy columns in index order, a point index, cached prefix sums."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from geo.layers.index import PointIndex, Selection, Selections, index_keys, prefix_sum


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
        return selection.sum(self.columns[name], self._column_prefix(name))

    def count_codes(self, selection: Selection, name: str, n_codes: int) -> np.ndarray:
        """How many selected points carry each small integer code 0..n_codes-1 in a column."""
        prefixes = self._code_prefixes(name, n_codes)
        # `take` gathers whole rows at once; fancy indexing a 2-D array is several times slower.
        ranged = prefixes.take(selection.ends, axis=0) - prefixes.take(selection.starts, axis=0)
        found = np.bincount(self.columns[name].take(selection.hits), minlength=n_codes)[:n_codes]
        return ranged.sum(axis=0) + found

    def count_codes_many(self, selections: Selections, name: str, n_codes: int) -> np.ndarray:
        """`count_codes` of every area of a batch at once: one row per area."""
        if len(selections) == 1:  # one area: the single-selection count takes fewer calls
            return self.count_codes(selections[0], name, n_codes)[None, :]
        prefixes = self._code_prefixes(name, n_codes)
        ranged = prefixes.take(selections.ends, axis=0) - prefixes.take(selections.starts, axis=0)
        per_area = prefix_sum(ranged, np.int64)  # running sums over the slices, area by area
        counts = per_area.take(selections.slice_at[1:], axis=0) - per_area.take(
            selections.slice_at[:-1], axis=0
        )
        codes = self.columns[name].take(selections.hits).astype(np.int64)
        keep = codes < n_codes
        found = np.bincount(
            selections.hit_owners()[keep] * n_codes + codes[keep], minlength=len(selections) * n_codes
        )
        return counts + found.reshape(len(selections), n_codes)

    def sums(self, selections: Selections, name: str) -> np.ndarray:
        """`sum` of one column for every area of a batch at once."""
        return selections.sums(self.columns[name], self._column_prefix(name))

    def _column_prefix(self, name: str) -> np.ndarray:
        if name not in self._prefix:
            values = self.columns[name]
            wide = np.int64 if np.issubdtype(values.dtype, np.integer) else np.float64
            self._prefix[name] = prefix_sum(values, wide)
        return self._prefix[name]

    def _code_prefixes(self, name: str, n_codes: int) -> np.ndarray:
        key = (name, n_codes)
        if key not in self._prefix:
            # One prefix count per code: slices cost O(1) each, whatever their length. Rows are
            # positions, so the counts of all codes at one position sit together.
            values = self.columns[name]
            prefixes = np.zeros((len(values) + 1, n_codes), dtype=np.int32)
            for code in range(n_codes):
                np.cumsum(values == code, out=prefixes[1:, code])
            self._prefix[key] = prefixes
        return self._prefix[key]
