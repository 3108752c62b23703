"""The quick readings of cap.parsing and cap.xmlsafe say exactly what the general ones say.

Polygon pair lists are read as JSON (simdjson) when every number has a point, and the prolog is
passed over by one regular expression when it holds only a declaration, PIs and comments. These
tests pin the edges where those shortcuts must hand over: spellings JSON refuses, numbers without
a point, long polygons, and a declaration hidden behind a stylesheet PI and a comment. A polygon
or date-time repeated within one message is read once: each place must still get its finding,
and repeated polygons still count towards the message's pair limit. The identifier and sender
characters are tested without a regex: on every code point it must agree with the rule's pattern.
A message is parsed without the blanks between its elements: it must read as the whole tree does.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

import cap
import cap.parsing
import cap.xmlsafe
from cap.parsing import _Findings, _id_chars, pair_values
from cap.xmlsafe import lean_parse, secure_parse

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
# What CAP 1.2 §3.2.1 forbids in identifier and sender, as a regex: the reference for _id_chars.
_FORBIDDEN_ID = re.compile(r"[\s,<&]")
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


@pytest.mark.parametrize("pairs", [5, 5000])  # either side of the looping range check
def test_one_latitude_out_of_range_is_found_in_short_and_long_polygons(pairs: int) -> None:
    ring = [f"61.{i:04d},23.7000" for i in range(pairs)]
    ring[pairs // 2] = "90.0001,23.7000"
    ring.append(ring[0])
    # A second, good polygon keeps the area placeable (an alert with no placeable area at all is
    # refused: cap.area.unusable).
    report = cap.validate(message(" ".join(ring) + f"</polygon><polygon>{SQUARE}"), verify_signature=False)
    assert [(f.rule, f.path) for f in report.errors] == [("cap.coordinate.range", f"{AREA}/polygon[1]")]
    assert report.ingestible
    polygon = report.alert.infos[0].areas[0].polygons[0]
    assert polygon[pairs // 2] == (90.0001, 23.7) and len(polygon) == pairs + 1


@pytest.mark.parametrize("pairs", [5, 5000])  # either side of the looping range check
@pytest.mark.parametrize(
    ("pair", "within"),
    [
        ("90.0,180.0", True),  # the ranges' ends are in them (CAP 1.2 §3.3.1)
        ("-90.0,-180.0", True),
        ("61.5,-180.0001", False),  # a longitude just past its range
        ("61.5,180.0001", False),
        ("-90.0001,23.7", False),
    ],
)
def test_the_ends_of_the_coordinate_ranges_are_within_them(pairs: int, pair: str, within: bool) -> None:
    ring = [f"61.{i:04d},23.7000" for i in range(pairs)]
    ring[pairs // 2] = pair
    ring.append(ring[0])
    report = cap.validate(message(" ".join(ring) + f"</polygon><polygon>{SQUARE}"), verify_signature=False)
    found = [(f.rule, f.path) for f in report.errors]
    assert found == ([] if within else [("cap.coordinate.range", f"{AREA}/polygon[1]")])


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


# Readings kept for the rest of one message (cap.parsing._Walk): a polygon, a date-time.
TWO_INFOS = """<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>TAMPERE-FAST-2</identifier>
  <sender>alerts@example.org</sender>
  <sent>2024-03-05T10:15:00+02:00</sent>
  <status>Actual</status>
  <msgType>Update</msgType>
  <scope>Public</scope>
  <references>{references}</references>
  {infos}
</alert>
"""
INFO = """<info>
    <language>{language}</language>
    <category>Met</category>
    <event>Flood</event>
    <urgency>Expected</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <effective>{effective}</effective>
    <area><areaDesc>Lower valley</areaDesc><polygon>{polygon}</polygon></area>
    <area><areaDesc>Upper valley</areaDesc><polygon>{polygon}</polygon></area>
  </info>"""
OLD = "a@example.org,TAMPERE-0,2024-03-05T09:00:00+02:00"


def multilingual(polygon: str, effective: str = "2024-03-05T10:15:00+02:00", references: str = OLD) -> bytes:
    """Two <info> (en, fi) with the same two-area geography, as multilingual alerts repeat it."""
    infos = "".join(INFO.format(language=lang, effective=effective, polygon=polygon) for lang in ("en", "fi"))
    return TWO_INFOS.format(references=references, infos=infos).encode()


def test_a_repeated_polygon_is_the_same_in_every_area() -> None:
    report = cap.validate(multilingual(SQUARE), verify_signature=False)
    assert report.valid, report.errors
    areas = [area for info in report.alert.infos for area in info.areas]
    assert len(areas) == 4
    assert all(area.polygons == areas[0].polygons for area in areas)
    assert areas[0].polygons[0][1] == (61.55, 23.7)


@pytest.mark.parametrize(
    ("polygon", "rule"),
    [
        ("61.40,23.70 61.55,23.70 61.55,23.95 61.40,23.95", "cap.polygon.closed"),
        ("91.40,23.70 61.55,23.70 61.55,23.95 91.40,23.70", "cap.coordinate.range"),
        ("61.40,23.70 61.55,23.70 61.40,23.70", "cap.polygon.min-pairs"),
    ],
)
def test_a_repeated_polygon_with_a_finding_is_reported_at_every_place(polygon: str, rule: str) -> None:
    report = cap.validate(multilingual(polygon), verify_signature=False)
    assert [(f.rule, f.path) for f in report.errors if f.rule == rule] == [
        (rule, f"/alert/info[{i}]/area[{j}]/polygon[1]") for i in (1, 2) for j in (1, 2)
    ]
    # Out of range everywhere, no area can be placed: refused, each area named.
    unusable = [(f.rule, f.path) for f in report.errors if f.rule == "cap.area.unusable"]
    if rule == "cap.coordinate.range":
        areas = [f"/alert/info[{i}]/area[{j}]" for i in (1, 2) for j in (1, 2)]
        assert unusable == [("cap.area.unusable", area) for area in areas]
        assert not report.ingestible
    else:
        assert not unusable and report.ingestible


def test_a_repeated_polygon_counts_towards_the_message_limit() -> None:
    limits = cap.Limits(vertices=3 * 5)  # SQUARE has 5 pairs
    report = cap.validate(multilingual(SQUARE), verify_signature=False, limits=limits)
    assert not report.ingestible
    assert [(f.rule, f.path) for f in report.errors] == [
        ("cap.xml.too-many-vertices", "/alert/info[2]/area[2]/polygon[1]")
    ]


def test_repeated_date_times_are_read_alike_and_each_bad_one_is_reported() -> None:
    good = cap.validate(multilingual(SQUARE), verify_signature=False)
    assert good.valid, good.errors
    assert [info.effective for info in good.alert.infos] == [good.alert.sent] * 2
    # CAP 1.2 §3.3.2: "Z" is not allowed; each place says so, and ingest reads it as UTC.
    bad = cap.validate(multilingual(SQUARE, effective="2024-03-05T10:15:00Z"), verify_signature=False)
    assert [(f.rule, f.path) for f in bad.errors] == [
        ("cap.datetime.alphabetic-zone", f"/alert/info[{i}]/effective") for i in (1, 2)
    ]
    assert [info.effective for info in bad.alert.infos] == [datetime(2024, 3, 5, 10, 15, tzinfo=UTC)] * 2


def test_references_sharing_a_sent_are_all_read_and_each_bad_one_is_reported() -> None:
    local_sent, utc_sent = "2024-03-05T09:00:00+02:00", "2024-03-05T09:00:00Z"
    triplets = [OLD] + [
        f"b@example.org,T{i},{t}" for i, t in enumerate((local_sent, utc_sent, utc_sent, local_sent), 1)
    ]
    report = cap.validate(multilingual(SQUARE, references=" ".join(triplets)), verify_signature=False)
    assert [(f.rule, f.message) for f in report.errors] == [
        ("cap.references.format", f'"{t}": "{utc_sent}" is not a CAP date-time') for t in triplets[2:4]
    ]
    local = datetime(2024, 3, 5, 9, tzinfo=timezone(timedelta(hours=2)))
    utc = datetime(2024, 3, 5, 9, tzinfo=UTC)
    assert [(r.identifier, r.sent, r.sent.utcoffset()) for r in report.alert.references] == [
        ("TAMPERE-0", local, timedelta(hours=2)), ("T1", local, timedelta(hours=2)),
        ("T2", utc, timedelta(0)), ("T3", utc, timedelta(0)), ("T4", local, timedelta(hours=2)),
    ]  # fmt: skip


def test_identifier_and_sender_characters_are_those_of_the_rule_pattern() -> None:
    # _id_chars tests without a regex what _FORBIDDEN_ID ([\s,<&]) finds: compare on every
    # code point, alone, between others and at either end.
    for cp in range(0x110000):
        c = chr(cp)
        for value in (c, f"a{c}b", f"{c}b", f"a{c}"):
            f = _Findings()
            _id_chars(value, "identifier", f)
            assert bool(f.errors) == bool(_FORBIDDEN_ID.search(value)), (hex(cp), value)


# The lean parse (cap.xmlsafe.lean_parse): validate reads a message without the whitespace between
# its elements, and must say exactly what the reading of the whole tree says. Where the two trees
# differ (blanks around markup inside a text element, before a CDATA section or a carriage return,
# a signature's digest) or could differ unseen (encodings that are not ASCII-compatible), the
# whole document is read.
def whole_reading(data: bytes, **kwargs: object) -> cap.Report:
    """The report of the tree parsed with every blank kept."""
    return cap.check_alert_element(secure_parse(data), **kwargs)  # type: ignore[arg-type]


def with_text(
    description: str = "Water rising",
    status: str = "Actual",
    encoding: str = "UTF-8",
    *,
    declared: bool = True,
) -> bytes:
    """MESSAGE with the given <description> and <status> (markup allowed), in `encoding`.

    <status> is an enumeration, so a bad value's finding quotes it as read: blanks included.
    """
    declaration = f'<?xml version="1.0" encoding="{encoding}"?>' if declared else ""
    xml = MESSAGE.format(polygon=SQUARE, prolog="").replace(
        '<?xml version="1.0" encoding="UTF-8"?>', declaration
    )
    certainty = "<certainty>Likely</certainty>"
    xml = xml.replace(certainty, f"{certainty}\n    <description>{description}</description>")
    xml = xml.replace("<status>Actual</status>", f"<status>{status}</status>")
    return xml.encode(encoding)


def with_description(description: str, encoding: str = "UTF-8") -> bytes:
    return with_text(description, encoding=encoding)


LEAN_CASES = [
    ("  water   rising  ", "Actual", "UTF-8", True),
    ("   ", "Actual", "UTF-8", True),  # blank text alone is kept by either parse
    ("a <b>b</b> <i>c</i> d", "Actual", "UTF-8", True),  # mixed content
    ("<b>b</b> <i>c</i> d", "Actual", "UTF-8", True),  # libxml2 drops these blanks when lean
    ("  <!-- note -->  rising", "  <!-- c -->Bogus", "UTF-8", True),
    ("rising", "  <![CDATA[Bogus]]>", "UTF-8", True),  # blanks before CDATA: dropped when lean
    ("rising", " \r\nBogus", "UTF-8", True),  # blanks before a CR: dropped when lean
    ("rising", "\n \r\n", "UTF-8", True),
    ("rising", "  <![CDATA[Bogus]]>", "UTF-16", True),  # no ASCII bytes to look for CDATA in
    ("rising", "  <![CDATA[Bogus]]>", "UTF-16", False),  # byte-order mark, no declaration
    ("rising", " \r\nBogus", "UTF-16", False),
    ("rising", "  <![CDATA[Bogus]]>", "ISO-8859-1", True),
    ("rising", "  <![CDATA[Bogus]]>", "cp1252", True),
]


@pytest.mark.parametrize(("description", "status", "encoding", "declared"), LEAN_CASES)
def test_the_lean_reading_says_what_the_whole_tree_says(
    description: str, status: str, encoding: str, declared: bool
) -> None:
    data = with_text(description, status, encoding, declared=declared)
    for verify in (False, True):
        assert cap.validate(data, verify_signature=verify) == whole_reading(data, verify_signature=verify)
    expected = whole_reading(data).alert
    if expected is not None:
        assert cap.parse(data) == expected


def parse_log(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Records keep_blanks of every parse cap.xmlsafe makes from here on."""
    log: list[bool] = []
    parser = cap.xmlsafe._parser

    def logged(keep_blanks: bool = True) -> object:
        log.append(keep_blanks)
        return parser(keep_blanks)

    monkeypatch.setattr(cap.xmlsafe, "_parser", logged)
    return log


@pytest.mark.parametrize(
    ("data", "verify", "parses"),
    [
        (with_text(), False, [False]),  # regular: one lean parse
        (with_text(), True, [False]),  # nothing that looks signed: lean too
        (with_text("<b>b</b> c"), False, [False, True]),  # irregular: read again whole
        (with_text(status="  <![CDATA[Actual]]>"), False, [True]),
        (with_text(status="Actual\r\n"), False, [True]),
        (with_text(encoding="UTF-16", declared=False), False, [True]),
        (with_text("<b>b</b> c", encoding="UTF-16"), False, [True]),  # whole at once: once
        (with_text(encoding="KOI8-R"), False, [False, True]),  # libxml2 names it: read again
    ],
)
def test_a_message_is_parsed_lean_once_or_whole(
    monkeypatch: pytest.MonkeyPatch, data: bytes, verify: bool, parses: list[bool]
) -> None:
    log = parse_log(monkeypatch)
    report = cap.validate(data, verify_signature=verify)
    assert report.ingestible
    assert log == parses


def test_mixed_content_keeps_the_blanks_between_its_markup() -> None:
    report = cap.validate(with_description("<b>b</b> <i>c</i> d"), verify_signature=False)
    assert [f.rule for f in report.errors] == ["cap.schema.mixed-content"]
    assert report.alert.infos[0].description == "b c d"


def test_blanks_before_cdata_are_kept_in_what_a_finding_quotes() -> None:
    report = cap.validate(with_text(status="  <![CDATA[Bogus]]>"), verify_signature=False)
    assert any('"  Bogus"' in f.message for f in report.errors)


def test_a_lean_tree_drops_only_the_blanks_between_elements() -> None:
    data = with_description("  water rising  ")
    (lean, was_lean), whole = lean_parse(data), secure_parse(data)
    assert was_lean
    assert [el.tag for el in lean.iter()] == [el.tag for el in whole.iter()]
    assert [el.text for el in lean.iter() if not len(el)] == [el.text for el in whole.iter() if not len(el)]
    assert whole.text.isspace() and lean.text is None


def test_a_signature_is_checked_on_the_document_with_its_blanks(
    shared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = (shared_dir / "corpus" / "cap" / "valid" / "wmo_seychelles-signed.xml").read_bytes()
    # The XML-DSig namespace name spelled with a character reference: the same document to a
    # parser, but its bytes no longer show that it may be signed, so it is parsed lean first.
    hidden = data.replace(b"xmldsig#", b"xmldsig&#35;")
    assert cap.parsing._DSIG_NS_BYTES not in hidden and b"&#35;" in hidden
    expected = whole_reading(data)
    assert expected.signature == "untrusted-or-expired-cert"  # digest and signature good
    log = parse_log(monkeypatch)
    assert cap.validate(hidden) == expected
    assert log == [False, True]
    assert cap.validate(data) == expected
    assert log == [False, True, True]  # shows it may be signed: parsed whole at once
    assert cap.validate(hidden, verify_signature=False).signature == "unsigned"


# The public entry points (cap.api) take what a Python caller may hand over; the compiled
# cap.parsing would refuse anything but bytes and bool with a TypeError.
def test_bytes_like_input_reads_as_bytes_and_text_is_a_finding() -> None:
    data = message()
    expected = cap.validate(data, verify_signature=False)
    assert expected.valid
    assert cap.validate(bytearray(data), verify_signature=False) == expected
    assert cap.validate(memoryview(data), verify_signature=False) == expected
    assert cap.parse(bytearray(data)) == cap.parse(data)
    for wrong in (data.decode(), None, 12):
        report = cap.validate(wrong)  # type: ignore[arg-type]
        assert [f.rule for f in report.errors] == ["cap.xml.not-bytes"] and not report.ingestible
        with pytest.raises(cap.CapError) as raised:
            cap.parse(wrong)  # type: ignore[arg-type]
        assert raised.value.rule == "cap.xml.not-bytes"


def test_flags_are_taken_for_their_truth() -> None:
    data = message()
    unverified = cap.validate(data, verify_signature=False)
    loose: dict[str, object] = {"verify_signature": 0}
    assert cap.validate(data, **loose) == unverified  # type: ignore[arg-type]
    loose = {"verify_signature": None, "profiles": None}
    assert cap.validate(data, **loose) == unverified  # type: ignore[arg-type]
    root = secure_parse(data)
    loose = {"verify_signature": 1}
    assert cap.check_alert_element(root, **loose) == cap.check_alert_element(root)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "odd",
    [
        None,  # regular all along: read a piece at a time
        "61.40,23.70  61.55,23.70",  # a double space in a later piece: read as float() does
        "+61.40,23.70",  # a "+" in a later piece
        "61.,23.70",  # "61." in a later piece
        "-0.0,-0.0",  # the sign of zero, in a later piece
    ],
)
def test_a_long_pair_list_is_read_across_its_pieces_as_float_does(odd: str | None) -> None:
    pairs = [f"{-60 + i * 0.00123:.5f},{20 + i * 0.00077:.5f}" for i in range(6000)]  # ~110 KB
    if odd is not None:
        pairs[4500] = odd
    text = " ".join(pairs)
    assert len(text) > 6 * cap.parsing._PIECE_BYTES
    values = pair_values(text)
    assert values is not None
    assert [repr(v) for v in values] == [repr(v) for v in float_reading(text)]


def test_a_long_pair_list_with_a_bad_pair_in_a_later_piece_is_no_pair_list() -> None:
    pairs = [f"{-60 + i * 0.00123:.5f},{20 + i * 0.00077:.5f}" for i in range(6000)]
    pairs[4500] = "61.40;23.70"
    assert pair_values(" ".join(pairs)) is None


@pytest.mark.parametrize("odd", [None, "+61.40,23.70"])
def test_a_long_pair_list_past_the_bound_is_refused_before_its_last_numbers_are_read(odd: str | None) -> None:
    pairs = [f"{-60 + i * 0.00123:.5f},{20 + i * 0.00077:.5f}" for i in range(6000)]
    if odd is not None:
        pairs[5500] = odd  # past the bound: never reached by the piecewise reading
    with pytest.raises(cap.CapError) as refused:
        pair_values(" ".join(pairs), max_pairs=5000)
    assert refused.value.rule == "cap.xml.too-many-vertices"


def test_a_long_pair_list_between_xml_blanks_is_read_as_float_does() -> None:
    pairs = [f"{-60 + i * 0.00123:.5f},{20 + i * 0.00077:.5f}" for i in range(6000)]
    text = "\n\t " + " ".join(pairs) + " \r\n"
    values = pair_values(text)
    assert values is not None
    assert [repr(v) for v in values] == [repr(v) for v in float_reading(text)]


@pytest.mark.parametrize("count", [63, 6000])
def test_a_pretty_printed_pair_list_is_read_as_float_does(count: int) -> None:
    pairs = [f"{-60 + i * 0.00123:.5f},{20 + i * 0.00077:.5f}" for i in range(count)]
    text = "\n\t\t\t" + "\n\t\t\t".join(pairs) + "\r\n\t\t"  # one pair per line, indented
    values = pair_values(text)
    assert values is not None
    assert [repr(v) for v in values] == [repr(v) for v in float_reading(text)]


@pytest.mark.parametrize("blank", ["\x0b", "\x0c", "\x1f"])
def test_a_pair_list_split_by_what_xml_does_not_call_whitespace_is_no_pair_list(blank: str) -> None:
    assert pair_values(f"61.40,23.70\n61.55,23.70{blank}61.55,23.95\n61.40,23.70") is None


def test_a_pretty_printed_pair_list_past_the_bound_is_refused() -> None:
    pairs = [f"{-60 + i * 0.00123:.5f},{20 + i * 0.00077:.5f}" for i in range(6000)]
    with pytest.raises(cap.CapError) as refused:
        pair_values("\n".join(pairs), max_pairs=5000)
    assert refused.value.rule == "cap.xml.too-many-vertices"
