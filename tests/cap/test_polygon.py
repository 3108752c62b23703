"""cap.Polygon: a polygon read from CAP keeps its numbers in one float64 buffer and behaves as the
tuple of (lat, lon) pairs it replaced, for every reader of the model (serialisers, geo, storage)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from shapely import equals

import cap
from cap import Area, Polygon
from geo.areas import area_geometry

SQUARE = "61.4,23.7 61.55,23.7 61.55,23.95 61.4,23.95 61.4,23.7"
PAIRS = ((61.4, 23.7), (61.55, 23.7), (61.55, 23.95), (61.4, 23.95), (61.4, 23.7))


def message(polygon: str = SQUARE) -> bytes:
    return (
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>POLY-1</identifier>'
        "<sender>ops@example.org</sender><sent>2024-03-05T10:15:00+02:00</sent><status>Actual</status>"
        "<msgType>Alert</msgType><scope>Public</scope><info><category>Met</category><event>Flood</event>"
        "<urgency>Expected</urgency><severity>Severe</severity><certainty>Likely</certainty>"
        f"<area><areaDesc>Lower valley</areaDesc><polygon>{polygon}</polygon></area></info></alert>"
    ).encode()


def read_polygon(polygon: str = SQUARE) -> Polygon:
    report = cap.validate(message(polygon), verify_signature=False)
    assert report.ingestible, report.errors
    read = report.alert.infos[0].areas[0].polygons[0]
    assert isinstance(read, Polygon)
    return read


def test_a_read_polygon_is_the_sequence_of_its_pairs() -> None:
    polygon = read_polygon()
    assert polygon == PAIRS and list(polygon) == list(PAIRS)
    assert PAIRS == polygon  # noqa: SIM300 - the tuple on the left: Python asks the Polygon back
    assert hash(polygon) == hash(PAIRS)
    assert len(polygon) == 5 and polygon[1] == (61.55, 23.7) and polygon[-2] == (61.4, 23.95)
    assert polygon[1:3] == PAIRS[1:3] and isinstance(polygon[1:3], Polygon)
    assert polygon[::-1] == PAIRS[::-1]
    assert polygon.index((61.55, 23.95)) == 2 and (61.4, 23.95) in polygon
    assert polygon.array.shape == (5, 2) and polygon.array[2, 1] == 23.95
    assert polygon.tolist() == [list(p) for p in PAIRS]
    with pytest.raises(IndexError):
        polygon[5]
    assert polygon != PAIRS[:-1] and polygon != [list(p) for p in PAIRS]


def test_its_buffer_cannot_be_changed_through_the_array() -> None:
    polygon = read_polygon()
    with pytest.raises(ValueError):
        polygon.array[0, 0] = 0.0
    assert polygon[0] == (61.4, 23.7)


def test_polygons_compare_by_value_like_tuples_of_floats() -> None:
    zero = Polygon([(0.0, 1.0), (2, 3)])
    negative_zero = Polygon([(-0.0, 1.0), (2.0, 3.0)])
    assert zero.buffer != negative_zero.buffer
    assert zero == negative_zero == ((0, 1), (2, 3)) and hash(zero) == hash(negative_zero)
    assert Polygon(PAIRS) == read_polygon() and Polygon(PAIRS) != Polygon(PAIRS[:-1])


def test_a_buffer_of_partial_pairs_is_refused() -> None:
    with pytest.raises(ValueError):
        Polygon.from_buffer(bytes(24))
    with pytest.raises(ValueError):
        Polygon([(1.0, 2.0, 3.0)])  # type: ignore[list-item]


def test_a_polygon_survives_pickling() -> None:
    polygon = read_polygon()
    again = pickle.loads(pickle.dumps(polygon))
    assert again == polygon and isinstance(again, Polygon)


def test_json_and_xml_round_trips_keep_the_pairs_and_give_polygons_back() -> None:
    alert = cap.parse(message())
    stored = cap.to_json(alert)
    assert stored["info"][0]["area"][0]["polygon"] == [[list(p) for p in PAIRS]]
    as_tuples = Area(area_desc="Lower valley", polygons=[PAIRS])
    # The same JSON whether the model holds a Polygon or the tuples it replaced.
    alert_with_tuples = cap.from_json(stored)
    alert_with_tuples.infos[0].areas[0] = as_tuples
    assert cap.to_json(alert_with_tuples) == stored
    back = cap.from_json(stored)
    assert isinstance(back.infos[0].areas[0].polygons[0], Polygon) and back == alert
    assert cap.parse(cap.to_xml(alert)) == alert


@pytest.mark.parametrize(
    "pairs",
    [
        PAIRS,
        ((61.4, 23.7), (61.55, 23.7), (61.55, 23.95), (61.4, 23.95)),  # not closed: closed by geo
        ((61.4, 179.9), (61.55, -179.8), (61.3, -179.9), (61.4, 179.9)),  # across the antimeridian
        ((91.0, 23.7), (61.55, 23.7), (61.55, 23.95), (91.0, 23.7)),  # out of range: left out
    ],
)
def test_geo_draws_a_polygon_as_it_draws_the_same_tuples(pairs: tuple[tuple[float, float], ...]) -> None:
    from_tuples = area_geometry(Area(area_desc="x", polygons=[pairs]))
    from_buffer = area_geometry(Area(area_desc="x", polygons=[Polygon(pairs)]))
    assert from_buffer.findings == from_tuples.findings
    assert equals(from_buffer.geometry, from_tuples.geometry)


def test_the_burkina_faso_boundary_is_read_into_one_buffer(shared_dir: Path) -> None:
    path = shared_dir / "corpus" / "cap" / "valid" / "wmo_burkina-faso-signed-large-polygon.xml"
    if not path.is_file():
        pytest.skip("no Burkina Faso alert in the corpus")
    data = path.read_bytes()
    polygon = cap.parse(data).infos[0].areas[0].polygons[0]
    assert isinstance(polygon, Polygon) and len(polygon) == 41_009
    # Against an independent reading of the same text: float() of each number.
    text = data.split(b"<polygon>")[1].split(b"</polygon>")[0].decode()
    expected = [tuple(map(float, pair.split(","))) for pair in text.split()]
    assert polygon == expected and polygon[0] == polygon[-1]
