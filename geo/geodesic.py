"""The WGS 84 ellipsoid for distances and areas on the Earth (pyproj's geodesic, Karney 2013).

One `Geod` for the package: `geo.areas` draws CAP circles with it (CAP 1.2 §3.2.4: WGS 84) and
`geo.gazetteer` measures the share of a country an area covers.
"""

from __future__ import annotations

from pyproj import Geod

GEOD = Geod(ellps="WGS84")
