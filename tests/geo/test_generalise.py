"""Geometry for a map at a zoom: simplified to a pixel, rounded to a tenth of one, never lost."""

from __future__ import annotations

import shapely
from shapely.geometry import shape

from geo.generalise import decimals_for, generalise, pixel_degrees


def test_a_pixel_halves_with_each_zoom_level() -> None:
    assert pixel_degrees(0) == 360 / 512
    assert pixel_degrees(3) == pixel_degrees(2) / 2
    assert decimals_for(0) == 2 and decimals_for(5) == 3 and decimals_for(12) == 5


def test_simplified_to_a_pixel_and_still_valid() -> None:
    ring = [[36.7 + 0.25 * i / 200, -1.4 + (0.0005 if i % 2 else 0)] for i in range(201)]
    ring += [[36.95, -1.15], [36.7, -1.15], ring[0]]
    polygon = {"type": "Polygon", "coordinates": [ring]}
    low = generalise(polygon, 3)
    high = generalise(polygon, 16)
    assert low is not None and high is not None
    assert len(low["coordinates"][0]) <= 6 < len(high["coordinates"][0])
    assert shape(low).is_valid
    # The area is kept to within the pixels the simplification may move.
    assert abs(shape(low).area - shape(polygon).area) < 0.01 * shape(polygon).area


def test_an_area_smaller_than_a_pixel_is_kept() -> None:
    tiny = {
        "type": "Polygon",
        "coordinates": [[[10.0, 10.0], [10.001, 10.0], [10.001, 10.001], [10.0, 10.0]]],
    }
    kept = generalise(tiny, 0)
    assert kept is not None
    assert not shapely.is_empty(shape(kept)) and shape(kept).area > 0


def test_no_geometry_stays_none() -> None:
    assert generalise(None, 5) is None
