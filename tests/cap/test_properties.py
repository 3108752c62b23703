"""Properties of CAP serialisation and hardened reading, checked with generated input.

(a) Any valid `Alert` written by `cap.serialize.to_xml` reads back equal and validates clean;
`from_json(to_json(a)) == a`. (b) No byte string, random or a mutated real message, makes
`cap.parse` raise anything but `CapError`, or `cap.validate` raise at all.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cap
from cap.model import Alert, Area, Circle, Info, NamedValue, Reference, Resource
from cap.report import Report
from cap.rules import RULES
from cap.schema import NS_12, SCHEMAS
from cap.serialize import from_json, to_json, to_json_bytes, to_xml
from tests.cap.test_rules import CAP10 as CAP10_TEXT
from tests.conftest import SHARED

ENUMS = SCHEMAS[NS_12].enums

# The machine running the suite is shared (2 cores); a 2 s deadline still catches a slow path
# (one example normally takes a few ms) without failing on scheduler jitter.
PROPERTY = settings(
    max_examples=200,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow],
)

# --- strategies: valid CAP 1.2 values --------------------------------------------------------

# XML 1.0 §2.2 Char: no C0/C1 controls (tab, newline and carriage return aside), no surrogates,
# no U+FFFE/U+FFFF. Carriage return is kept on purpose: it only survives as "&#13;".
XML_CHARS = st.characters(
    exclude_categories=("Cs", "Cc"),
    exclude_characters="\ufffe\uffff",
    include_characters="\t\n\r",
)
# The parser strips element text, so generated text is stripped and non-empty.
TEXT = st.text(XML_CHARS, min_size=1, max_size=30).map(str.strip).filter(bool)
# CAP 1.2 §3.2.1: identifier and sender have no spaces, commas or restricted characters (< &).
ID_TEXT = st.text(
    st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), exclude_characters="\ufffe\uffff,<&"),
    min_size=1,
    max_size=20,
).filter(lambda s: not any(c.isspace() for c in s))
TOKEN = st.text(
    st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), exclude_characters="\ufffe\uffff"),
    min_size=1,
    max_size=20,
).filter(lambda s: not any(c.isspace() for c in s))
ADDRESS = st.text(
    st.characters(exclude_categories=("Cs", "Cc"), exclude_characters='\ufffe\uffff"'),
    min_size=1,
    max_size=20,
)

# CAP 1.2 §3.3.2: the offset is hh:mm, so any whole number of minutes within a day.
OFFSETS = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))


def datetimes(*, whole_seconds: bool = True) -> st.SearchStrategy[datetime]:
    """Aware date-times with a fixed offset; CAP 1.2 has no fractional seconds."""
    dts = st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 30), timezones=OFFSETS)
    return dts.map(lambda d: d.replace(microsecond=0)) if whole_seconds else dts


LAT = st.floats(-90, 90, allow_nan=False)
LON = st.floats(-180, 180, allow_nan=False)
PAIR = st.tuples(LAT, LON)
# CAP 1.2 §3.2.4: at least four pairs, the first equal to the last.
POLYGON = st.lists(PAIR, min_size=3, max_size=8).map(lambda ps: (*ps, ps[0]))
CIRCLE = st.builds(Circle, lat=LAT, lon=LON, radius_km=st.floats(0, 40_000))
NAMED_VALUE = st.builds(NamedValue, value_name=TEXT, value=TEXT | st.just(""))
LANGUAGE = st.from_regex(r"[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8}){0,2}", fullmatch=True)
MIME = st.from_regex(r"[a-z][a-z0-9]{0,9}/[a-z0-9][a-z0-9.+-]{0,14}", fullmatch=True)
DECIMAL = st.floats(-1e4, 1e6, allow_nan=False)


def _opt(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.none() | strategy


@st.composite
def areas(draw: st.DrawFn) -> Area:
    """A CAP <area>; a ceiling only with an altitude (CAP 1.2 §3.2.4)."""
    altitude = draw(_opt(DECIMAL))
    ceiling = None
    if altitude is not None and draw(st.booleans()):
        ceiling = altitude + draw(st.floats(0, 1e4))
    return Area(
        area_desc=draw(TEXT),
        polygons=draw(st.lists(POLYGON, max_size=2)),
        circles=draw(st.lists(CIRCLE, max_size=2)),
        geocodes=draw(st.lists(NAMED_VALUE, max_size=2)),
        altitude=altitude,
        ceiling=ceiling,
    )


RESOURCE = st.builds(
    Resource,
    resource_desc=TEXT,
    mime_type=MIME,
    size=_opt(st.integers(0, 2**40)),
    uri=_opt(TOKEN),
    deref_uri=_opt(st.binary(max_size=30).map(lambda b: base64.b64encode(b).decode())),
    digest=_opt(st.binary(min_size=20, max_size=20).map(bytes.hex)),
)


def infos(dts: st.SearchStrategy[datetime]) -> st.SearchStrategy[Info]:
    """A CAP 1.2 <info> block with at least one category."""
    return st.builds(
        Info,
        language=LANGUAGE,
        categories=st.lists(st.sampled_from(sorted(ENUMS["category"])), min_size=1, max_size=3),
        event=TEXT,
        response_types=st.lists(st.sampled_from(sorted(ENUMS["responseType"])), max_size=2),
        urgency=st.sampled_from(sorted(ENUMS["urgency"])),
        severity=st.sampled_from(sorted(ENUMS["severity"])),
        certainty=st.sampled_from(sorted(ENUMS["certainty"])),
        audience=_opt(TEXT),
        event_codes=st.lists(NAMED_VALUE, max_size=2),
        effective=_opt(dts),
        onset=_opt(dts),
        expires=_opt(dts),
        sender_name=_opt(TEXT),
        headline=_opt(TEXT),
        description=_opt(TEXT),
        instruction=_opt(TEXT),
        web=_opt(TOKEN),
        contact=_opt(TEXT),
        parameters=st.lists(NAMED_VALUE, max_size=3),
        resources=st.lists(RESOURCE, max_size=2),
        areas=st.lists(areas(), max_size=3),
    )


@st.composite
def alerts(draw: st.DrawFn, *, whole_seconds: bool = True) -> Alert:
    """A valid CAP 1.2 alert: Restricted has a restriction, Private has addresses."""
    dts = datetimes(whole_seconds=whole_seconds)
    scope = draw(st.sampled_from(sorted(ENUMS["scope"])))
    return Alert(
        identifier=draw(ID_TEXT),
        sender=draw(ID_TEXT),
        sent=draw(dts),
        status=draw(st.sampled_from(sorted(ENUMS["status"]))),
        msg_type=draw(st.sampled_from(sorted(ENUMS["msgType"]))),
        scope=scope,
        source=draw(_opt(TEXT)),
        restriction=draw(TEXT) if scope == "Restricted" else None,
        addresses=draw(st.lists(ADDRESS, min_size=1 if scope == "Private" else 0, max_size=3)),
        codes=draw(st.lists(TEXT, max_size=2)),
        note=draw(_opt(TEXT)),
        references=draw(
            st.lists(st.builds(Reference, sender=ID_TEXT, identifier=ID_TEXT, sent=dts), max_size=3)
        ),
        incidents=draw(st.lists(TOKEN, max_size=3)),
        infos=draw(st.lists(infos(dts), max_size=3)),
    )


# --- (a) round trips -------------------------------------------------------------------------


@PROPERTY
@given(alerts(), st.booleans())
def test_any_valid_alert_written_as_cap_xml_reads_back_equal_and_valid(alert: Alert, pretty: bool) -> None:
    xml = to_xml(alert, pretty=pretty)
    assert cap.parse(xml) == alert
    report = cap.validate(xml)
    errors = [f.as_dict() for f in report.errors]
    assert report.errors == [], errors
    assert report.valid, errors
    assert report.version == "1.2"


@PROPERTY
@given(alerts(whole_seconds=False))
def test_any_alert_survives_the_json_round_trip(alert: Alert) -> None:
    assert from_json(to_json(alert)) == alert
    # The dict is JSON as it stands: encoding and decoding it changes nothing.
    assert json.loads(to_json_bytes(alert)) == to_json(alert)


# --- (b) hostile bytes never crash the reader ------------------------------------------------

SAMPLE = Alert(
    identifier="TAMPERE-1",
    sender="ops@example.org",
    sent=datetime(2024, 3, 5, 10, 15, tzinfo=timezone(timedelta(hours=2))),
    status="Actual",
    msg_type="Update",
    scope="Public",
    references=[
        Reference(
            sender="ops@example.org",
            identifier="TAMPERE-0",
            sent=datetime(2024, 3, 5, 9, 0, tzinfo=UTC),
        )
    ],
    infos=[
        Info(
            categories=["Met"],
            event="Flood",
            urgency="Expected",
            severity="Severe",
            certainty="Likely",
            parameters=[NamedValue(value_name="level", value="3")],
            resources=[Resource(resource_desc="map", mime_type="image/png", deref_uri="QUJD")],
            areas=[
                Area(
                    area_desc="Valley",
                    polygons=[((61.4, 23.7), (61.5, 23.7), (61.5, 23.9), (61.4, 23.7))],
                    circles=[Circle(lat=61.5, lon=23.8, radius_km=10.0)],
                    geocodes=[NamedValue(value_name="ISO3166-2", value="FI-11")],
                    altitude=100.0,
                    ceiling=200.0,
                )
            ],
        )
    ],
)
BASE = to_xml(SAMPLE, pretty=True)
# Offsets just after each '>' : where an inserted element lands between existing ones.
BOUNDARIES = [i + 1 for i, b in enumerate(BASE) if b == ord(">")]

TRUNCATED = st.integers(0, len(BASE) - 1).map(lambda n: BASE[:n])


@st.composite
def byte_flips(draw: st.DrawFn) -> bytes:
    """The sample with a few bytes replaced by arbitrary ones."""
    data = bytearray(BASE)
    for _ in range(draw(st.integers(1, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


DOCTYPES = st.sampled_from([
    b'<!DOCTYPE alert [<!ENTITY x "boom">]>',
    b'<!DOCTYPE alert SYSTEM "file:///etc/passwd">',
    b"<!DOCTYPE alert>",
    b'<!ENTITY e SYSTEM "http://127.0.0.1:9/x">',
])  # fmt: skip


@st.composite
def doctype_inserted(draw: st.DrawFn) -> bytes:
    """The sample with a DOCTYPE or ENTITY declaration inserted anywhere."""
    at = draw(st.integers(0, len(BASE)))
    return BASE[:at] + draw(DOCTYPES) + BASE[at:]


ELEMENT_NAME = st.from_regex(r"([a-z]{1,5}:)?[A-Za-z_][A-Za-z0-9_.-]{0,15}", fullmatch=True)


@st.composite
def element_inserted(draw: st.DrawFn) -> bytes:
    """The sample with an arbitrary element (maybe with an undeclared prefix) between two others."""
    name = draw(ELEMENT_NAME).encode()
    body = draw(st.text(XML_CHARS, max_size=10)).replace("&", "&amp;").replace("<", "&lt;")
    at = draw(st.sampled_from(BOUNDARIES))
    return BASE[:at] + b"<" + name + b">" + body.encode() + b"</" + name + b">" + BASE[at:]


@st.composite
def element_renamed(draw: st.DrawFn) -> bytes:
    """The sample with one element's start and end tags renamed."""
    names = sorted({m for m in BASE.split(b"<")[1:] if m[:1].isalpha()})
    tag = draw(st.sampled_from(names)).split(b">")[0].split(b" ")[0]
    new = draw(ELEMENT_NAME).encode()
    return BASE.replace(b"<" + tag + b">", b"<" + new + b">", 1).replace(
        b"</" + tag + b">", b"</" + new + b">", 1
    )


HOSTILE = st.one_of(
    st.binary(max_size=2_000),
    TRUNCATED,
    byte_flips(),
    doctype_inserted(),
    element_inserted(),
    element_renamed(),
)


def _looks_like_json(data: bytes) -> bool:
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")


@PROPERTY
@given(HOSTILE)
def test_no_input_makes_parse_raise_anything_but_cap_error(data: bytes) -> None:
    report = cap.validate(data)  # must not raise
    assert isinstance(report, Report)
    assert report.valid == (not report.errors)
    assert all(f.rule and f.path for f in report.errors + report.warnings)
    try:
        alert = cap.parse(data)
    except cap.CapError as exc:
        assert exc.rule in RULES, exc.rule
        assert exc.path
        if not _looks_like_json(data):
            # What parse refuses, validate does not call valid.
            assert not report.valid
    else:
        # What parse reads, validate reads the same way.
        assert report.ingestible
        assert report.alert == alert


def test_the_mutation_base_is_a_valid_message() -> None:
    # The mutations above start from a message that is valid: otherwise they test nothing.
    report = cap.validate(BASE)
    assert report.valid, [f.as_dict() for f in report.errors]
    assert cap.parse(BASE) == SAMPLE


# --- the serialiser's choices, on examples ---------------------------------------------------

# The CAP 1.0 example of the rule tests, with a password and a fraction of a second.
CAP10 = (
    CAP10_TEXT.replace("<msgType>Alert</msgType>", "<msgType>Alert</msgType>\n  <password>sekrit</password>")
    .replace("<sent>2003-06-17T14:57:00-07:00</sent>", "<sent>2003-06-17T14:57:00.25-07:00</sent>")
    .encode()
)


def test_cap10_alert_is_written_as_valid_cap12_with_likely_and_no_password() -> None:
    original = cap.parse(CAP10)
    assert original.password == "sekrit"
    xml = to_xml(original)
    assert b"sekrit" not in xml and b"password" not in xml
    report = cap.validate(xml)
    assert report.valid and report.version == "1.2", [f.as_dict() for f in report.errors]
    again = cap.parse(xml)
    assert again.infos[0].certainty == "Likely"
    assert again.infos[0].parameters == [
        NamedValue(value_name="HazardType", value="Hail"),
        NamedValue(value_name="Wind", value="60 mph = 97 km/h"),
    ]
    assert again.infos[0].event_codes == [NamedValue(value_name="SAME", value="SVR")]
    # CAP 1.2 has no fractional seconds: 14:57:00.25 is written as 14:57:00.
    assert again.sent == datetime(2003, 6, 17, 14, 57, tzinfo=timezone(timedelta(hours=-7)))


def test_utc_is_written_as_minus_zero_and_offsets_as_hh_mm() -> None:
    alert = dataclasses.replace(SAMPLE, sent=datetime(2024, 1, 2, 3, 4, 5, 999_999, tzinfo=UTC))
    xml = to_xml(alert)
    assert b"<sent>2024-01-02T03:04:05-00:00</sent>" in xml
    assert b"<references>ops@example.org,TAMPERE-0,2024-03-05T09:00:00-00:00</references>" in xml
    local = dataclasses.replace(
        SAMPLE, sent=datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(-timedelta(hours=5, minutes=30)))
    )
    assert b"<sent>2024-01-02T03:04:05-05:30</sent>" in to_xml(local)


def test_coordinates_are_written_without_exponents_and_read_back_exactly() -> None:
    area = Area(
        area_desc="tiny",
        polygons=[((1e-5, 2e-7), (3.0, -180.0), (90.0, 5e-324), (1e-5, 2e-7))],
        circles=[Circle(lat=-0.0, lon=1e-10, radius_km=0.0)],
        altitude=1e16,
        ceiling=2e16,
    )
    info = dataclasses.replace(SAMPLE.infos[0], areas=[area])
    xml = to_xml(dataclasses.replace(SAMPLE, infos=[info]))
    assert b"e-" not in xml.split(b"<area>")[1] and b"e+" not in xml.split(b"<area>")[1]
    assert b"<altitude>10000000000000000</altitude>" in xml
    assert cap.parse(xml).infos[0].areas == [area]
    assert cap.validate(xml).valid


def test_addresses_with_spaces_are_quoted() -> None:
    alert = dataclasses.replace(SAMPLE, scope="Private", addresses=["ops@example.org", "Fire Brigade"])
    xml = to_xml(alert)
    assert b'<addresses>ops@example.org "Fire Brigade"</addresses>' in xml
    assert cap.parse(xml).addresses == ["ops@example.org", "Fire Brigade"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sent": datetime(2024, 1, 1)}, "time zone"),
        ({"addresses": ['say "hi"']}, "double quote"),
        ({"incidents": ["two words"]}, "incident"),
        ({"note": "bell \x07"}, "<note>"),
        ({"references": [Reference(sender="a,b", identifier="x", sent=SAMPLE.sent)]}, "comma"),
    ],
)
def test_what_cap_cannot_express_is_refused_with_a_reason(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        to_xml(dataclasses.replace(SAMPLE, **change))


def test_non_finite_coordinates_are_refused() -> None:
    area = Area(area_desc="x", circles=[Circle(lat=float("nan"), lon=0.0, radius_km=1.0)])
    info = dataclasses.replace(SAMPLE.infos[0], areas=[area])
    with pytest.raises(ValueError, match="finite"):
        to_xml(dataclasses.replace(SAMPLE, infos=[info]))


def test_json_uses_cap_element_names_and_lat_lon_arrays() -> None:
    doc = to_json(SAMPLE)
    assert doc["version"] == "1.2"
    assert doc["msgType"] == "Update"
    assert doc["sent"] == "2024-03-05T10:15:00+02:00"
    area = doc["info"][0]["area"][0]
    assert area["polygon"][0][:2] == [[61.4, 23.7], [61.5, 23.7]]
    assert area["circle"] == [{"lat": 61.5, "lon": 23.8, "radius": 10.0}]
    assert doc["info"][0]["resource"][0]["mimeType"] == "image/png"
    assert "password" not in doc and "restriction" not in doc


SAMPLE_JSON = to_json(SAMPLE)
BAD_AREA = {"areaDesc": "a", "polygon": [[[1, "2"]]]}


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ([], "/"),
        ({"sender": "s", "sent": "2024-01-01T00:00:00+00:00"}, "/identifier"),
        ({**SAMPLE_JSON, "sent": "2024-01-01T00:00:00"}, "/sent"),
        ({**SAMPLE_JSON, "info": [{"event": "x"}, 3]}, "/info/1"),
        ({**SAMPLE_JSON, "info": [{**SAMPLE_JSON["info"][0], "area": [BAD_AREA]}]},
         "/info/0/area/0/polygon/0/0/1"),
    ],
)  # fmt: skip
def test_from_json_names_the_place_of_a_bad_member(doc: object, path: str) -> None:
    with pytest.raises(cap.CapError) as err:
        from_json(doc)  # type: ignore[arg-type]
    assert (err.value.rule, err.value.path) == ("cap.json.format", path)


# --- the real corpus, when it is there -------------------------------------------------------

CORPUS = SHARED / "corpus" / "cap"


def _corpus_messages() -> list[str]:
    if not (CORPUS / "manifest.tsv").is_file():
        return []
    with (CORPUS / "manifest.tsv").open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [r["file"] for r in rows if r["ingest"] == "accept" and not r["file"].startswith("feeds/")]


def _as_cap12(alert: Alert) -> Alert:
    """What a message becomes when written as CAP 1.2 (the serialiser's documented changes)."""

    def whole(dt: datetime | None) -> datetime | None:
        return None if dt is None else dt.replace(microsecond=0)

    infos = [
        dataclasses.replace(
            i,
            certainty="Likely" if i.certainty == "Very Likely" else i.certainty,
            effective=whole(i.effective),
            onset=whole(i.onset),
            expires=whole(i.expires),
        )
        for i in alert.infos
    ]
    refs = [dataclasses.replace(r, sent=whole(r.sent)) for r in alert.references]
    return dataclasses.replace(
        alert, version="1.2", password=None, sent=whole(alert.sent), references=refs, infos=infos
    )


@pytest.mark.corpus
@pytest.mark.parametrize("name", _corpus_messages() or ["(corpus absent)"])
def test_real_messages_survive_writing_as_cap12_and_as_json(name: str) -> None:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip("../shared/corpus is not present")
    original = cap.parse(path.read_bytes())
    assert cap.parse(to_xml(original)) == _as_cap12(original)
    assert from_json(json.loads(to_json_bytes(original))) == dataclasses.replace(original, password=None)
