"""geo.geojson: RFC 7946 geometry in, shapely out, or findings with rule and place."""

from __future__ import annotations

from typing import Any

import pytest

from cap.errors import Finding
from geo.geojson import POLYGON, read_geometry

SQUARE = [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]


def read(value: Any, **options: Any) -> tuple[Any, list[tuple[str, str]]]:
    findings: list[Finding] = []
    geometry = read_geometry(value, findings, path="/at", rule="x.at", max_vertices=100, **options)
    return geometry, [(f.rule, f.path) for f in findings]


def test_points_polygons_and_multipolygons_are_read_as_given() -> None:
    point, found = read({"type": "Point", "coordinates": [178.44, -18.14, 5]})
    assert found == [] and (point.geom_type, point.x, point.y) == ("Point", 178.44, -18.14)
    polygon, _ = read({"type": "Polygon", "coordinates": [SQUARE]})
    assert polygon.geom_type == "Polygon" and polygon.area == 1
    multi, _ = read({"type": "MultiPolygon", "coordinates": [[SQUARE]]})
    assert multi.geom_type == "MultiPolygon"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"type": "Point", "coordinates": [10, 95]}, ("x.at.out-of-range", "/at/coordinates")),
        ({"type": "Point", "coordinates": [True, 1]}, ("x.at.position", "/at/coordinates")),
        ({"type": "Point", "coordinates": [float("nan"), 1]}, ("x.at.position", "/at/coordinates")),
        ({"type": "Polygon", "coordinates": [SQUARE[:-1]]}, ("x.at.unclosed", "/at/coordinates/0")),
        ({"type": "Polygon", "coordinates": [[[0, 0]] * 101]}, ("x.at.too-many-vertices", "/at/coordinates")),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [2, 2], [0, 0]]]},
            ("x.at.invalid", "/at/coordinates"),
        ),
        (
            {
                "type": "MultiPolygon",
                "coordinates": [[SQUARE], [[[0.5, 0.5], [2, 0.5], [2, 2], [0.5, 2], [0.5, 0.5]]]],
            },
            ("x.at.invalid", "/at/coordinates"),
        ),
        ({"type": "GeometryCollection", "geometries": []}, ("x.at.type", "/at")),
    ],
)
def test_each_fault_is_one_finding_at_its_place(value: Any, expected: tuple[str, str]) -> None:
    geometry, found = read(value)
    assert geometry is None and found == [expected]


def test_the_kinds_accepted_are_the_callers() -> None:
    _, found = read({"type": "Point", "coordinates": [0, 0]}, kinds=(POLYGON,))
    assert found == [("x.at.type", "/at")]
