"""The quick readings of cap.parsing and cap.xmlsafe say exactly what the general ones say.

Polygon pair lists are read through orjson when every number has a point, and the prolog is
passed over by one regular expression when it holds only a declaration, PIs and comments. These
tests pin the edges where those shortcuts must hand over: spellings JSON refuses, numbers without
a point, long polygons, and a declaration hidden behind a stylesheet PI and a comment.
"""

from __future__ import annotations

import pytest

import cap
from cap.parsing import pair_values

MESSAGE = """<?xml version="1.0" encoding="UTF-8"?>{prolog}
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>TAMPERE-FAST-1</identifier>
  <sender>alerts@example.org</sender>
  <sent>2024-03-05T10:15:00+02:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <category>Met</category>
    <event>Flood</event>
    <urgency>Expected</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <area>
      <areaDesc>Lower valley</areaDesc>
      <polygon>{polygon}</polygon>
    </area>
  </info>
</alert>
"""
SQUARE = "61.40,23.70 61.55,23.70 61.55,23.95 61.40,23.95 61.40,23.70"
AREA = "/alert/info[1]/area[1]"


def message(polygon: str = SQUARE, prolog: str = "") -> bytes:
    """A valid CAP 1.2 message with the given polygon text and extra prolog."""
    return MESSAGE.format(polygon=polygon, prolog=prolog).encode()


def float_reading(text: str) -> list[float]:
    """The numbers of a well-formed pair list as float() reads them, token by token."""
    return [float(n) for pair in text.split() for n in pair.split(",")]


@pytest.mark.parametrize(
    "text",
    [
        SQUARE,  # points everywhere: the JSON reading
        "+61.40,23.70 61.55,23.70 61.55,23.95 +61.40,23.70",  # "+" is not JSON
        "61.,23.70 .55,23.70 61.55,-.95 61.,23.70",  # "61." and ".55" are not JSON
        "061.40,23.70 61.55,23.70 61.55,23.95 061.40,23.70",  # leading zero is not JSON
        "61,23 62,23 62,24 61,23",  # no points: JSON would make ints
        "-0.0,23.70 61.55,-0.0 61.55,23.95 -0.0,23.70",  # the sign of zero is kept
        "61.40,23.70\n\t61.55,23.70  61.55,23.95\r\n61.40,23.70 ",  # other whitespace
        "61.123456789012345678901,23.7 61.5,23.7 61.5,23.9 61.123456789012345678901,23.7",
    ],
)
def test_pair_values_read_every_spelling_as_float_does(text: str) -> None:
    values = pair_values(text)
    assert values is not None
    assert [repr(v) for v in values] == [repr(v) for v in float_reading(text)]
    assert all(type(v) is float for v in values)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "61.40,23.70 61.55",  # a pair without a comma
        "61.40,23.70,1.0 61.55,23.70",  # three numbers in a pair
        "61.40,,23.70 61.55,23.70",
        "61.4.0,23.70 61.55,23.7",  # two points in one number, none in another: same count
        "61.40,23.70 \x0b61.55,23.70",  # vertical tab is not XML whitespace
        "61.40,23.70 6e1,23.70",  # exponent
    ],
)
def test_pair_values_refuse_what_is_not_a_pair_list(text: str) -> None:
    assert pair_values(text) is None


@pytest.mark.parametrize("pairs", [5, 5000])  # either side of the sorting range check
def test_one_latitude_out_of_range_is_found_in_short_and_long_polygons(pairs: int) -> None:
    ring = [f"61.{i:04d},23.7000" for i in range(pairs)]
    ring[pairs // 2] = "90.0001,23.7000"
    ring.append(ring[0])
    report = cap.validate(message(" ".join(ring)), verify_signature=False)
    assert [(f.rule, f.path) for f in report.errors] == [("cap.coordinate.range", f"{AREA}/polygon[1]")]
    assert report.ingestible
    polygon = report.alert.infos[0].areas[0].polygons[0]
    assert polygon[pairs // 2] == (90.0001, 23.7) and len(polygon) == pairs + 1


def test_polygon_pairs_keep_document_order_after_the_range_check() -> None:
    report = cap.validate(message(SQUARE), verify_signature=False)
    assert report.valid
    assert report.alert.infos[0].areas[0].polygons[0] == (
        (61.4, 23.7), (61.55, 23.7), (61.55, 23.95), (61.4, 23.95), (61.4, 23.7),
    )  # fmt: skip


def test_stylesheet_and_comment_in_the_prolog_are_accepted() -> None:
    prolog = '\n<?xml-stylesheet type="text/xsl" href="cap.xsl"?>\n<!-- issued by - a test -->'
    report = cap.validate(message(prolog=prolog), verify_signature=False)
    assert report.valid and not report.errors


@pytest.mark.parametrize(
    "prolog",
    [
        '\n<?xml-stylesheet href="cap.xsl"?>\n<!-- c -->\n<!DOCTYPE alert [<!ENTITY x "boom">]>',
        "\n<!-- a -- b -->\n<!DOCTYPE alert>",  # "--" inside: not the plain prolog shape
        '\n<?pi a>b ?>\n<!DOCTYPE alert SYSTEM "file:///etc/passwd">',  # ">" inside the PI
    ],
)
def test_declaration_behind_prolog_items_is_refused(prolog: str) -> None:
    report = cap.validate(message(prolog=prolog), verify_signature=False)
    assert not report.valid and not report.ingestible
    assert [f.rule for f in report.errors] == ["cap.xml.doctype"]
