"""Alerts that cannot serve their purpose are refused with the rule; what loses nothing is
tolerated with a finding (issue 10, item 11).

Refused: an alert none of whose areas can be placed (every polygon and circle out of WGS 84
ranges, with a negative radius or unreadable, and no geocode: CAP 1.2 §3.2.4, §3.3.1), and a
Private alert without <addresses> (§3.2.1: nobody could ever read it). Tolerated: blanks before
the XML declaration (XML 1.0 §2.8 wants it first; they change nothing), and a missing <urgency>
or <certainty>, read as the Unknown CAP defines for them (§3.2.2). A missing <severity> stays
refused, as the shared corpus's manifest expects (wmo_burkina-faso-missing-severity.xml), and so
do a missing <status>, <msgType> or <scope>, which have no unknown value to read.
"""

from __future__ import annotations

import pytest

import cap
from tests.conftest import NAIROBI, make_cap

AREA = "/alert/info[1]/area[1]"
OUT_OF_RANGE = "91.0,36.7 91.0,36.9 91.2,36.9 91.0,36.7"


def findings(report: cap.Report) -> list[tuple[str, str]]:
    return [(f.rule, f.path) for f in report.errors]


def refused(data: bytes, rule: str, path: str) -> cap.Report:
    """validate reports (rule, path) and nothing can be ingested; parse raises it."""
    report = cap.validate(data)
    assert (rule, path) in findings(report), findings(report)
    assert not report.valid and not report.ingestible and report.alert is None
    with pytest.raises(cap.CapError) as raised:
        cap.parse(data)
    assert (raised.value.rule, raised.value.path) == (rule, path)
    return report


def area(*parts: str) -> str:
    return "<areaDesc>Nairobi</areaDesc>" + "".join(parts)


# --- every area unusable ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "first"),
    [
        (area(f"<polygon>{OUT_OF_RANGE}</polygon>"), ("cap.coordinate.range", f"{AREA}/polygon[1]")),
        (area("<circle>-1.3,36.8 -5</circle>"), ("cap.circle.radius", f"{AREA}/circle[1]")),
        (area("<circle>-1.3,236.8 5</circle>"), ("cap.coordinate.range", f"{AREA}/circle[1]")),
        (area("<polygon></polygon>"), ("cap.polygon.format", f"{AREA}/polygon[1]")),
        (
            area(f"<polygon>{OUT_OF_RANGE}</polygon>", "<circle>-1.3,36.8 -5</circle>"),
            ("cap.coordinate.range", f"{AREA}/polygon[1]"),
        ),
    ],
)
def test_an_alert_whose_only_area_cannot_be_placed_is_refused(content: str, first: tuple[str, str]) -> None:
    report = refused(make_cap("PURPOSE-1", area_xml=content), "cap.area.unusable", AREA)
    assert findings(report)[0] == first  # what is wrong with each shape comes first
    assert "no area of the alert can be placed" in report.errors[-1].message


def test_every_area_of_every_info_must_be_unplaceable_for_a_refusal() -> None:
    bad = f"<area>{area(f'<polygon>{OUT_OF_RANGE}</polygon>')}</area>"
    good = f"<area>{area(f'<polygon>{NAIROBI}</polygon>')}</area>"
    message = make_cap("PURPOSE-2", area_xml=area(f"<polygon>{OUT_OF_RANGE}</polygon>"))
    second_info = (
        "<info><category>Met</category><event>Flood</event><urgency>Immediate</urgency>"
        "<severity>Severe</severity><certainty>Likely</certainty>{areas}</info></alert>"
    )
    all_bad = message.replace(b"</alert>", second_info.format(areas=bad + bad).encode())
    report = refused(all_bad, "cap.area.unusable", AREA)
    assert [p for r, p in findings(report) if r == "cap.area.unusable"] == [
        AREA,
        "/alert/info[2]/area[1]",
        "/alert/info[2]/area[2]",
    ]
    one_good = message.replace(b"</alert>", second_info.format(areas=bad + good).encode())
    report = cap.validate(one_good)
    assert report.ingestible and "cap.area.unusable" not in {r for r, _ in findings(report)}
    assert ("cap.coordinate.range", f"{AREA}/polygon[1]") in findings(report)


@pytest.mark.parametrize(
    "content",
    [
        area(f"<polygon>{OUT_OF_RANGE}</polygon>", f"<polygon>{NAIROBI}</polygon>"),  # one good shape
        area(
            f"<polygon>{OUT_OF_RANGE}</polygon>",
            "<geocode><valueName>ISO3166-1</valueName><value>KEN</value></geocode>",
        ),
        area("<circle>-1.3,36.8 0</circle>"),  # radius 0: a point, placeable
        area(),  # a description only: nothing to place, nothing wrong
    ],
)
def test_an_area_that_can_still_be_placed_keeps_its_alert(content: str) -> None:
    report = cap.validate(make_cap("PURPOSE-3", area_xml=content))
    assert report.ingestible, report.errors
    assert "cap.area.unusable" not in {r for r, _ in findings(report)}


def test_an_alert_without_areas_is_not_refused_for_them() -> None:
    report = cap.validate(make_cap("PURPOSE-4", area_xml="").replace(b"<area></area>", b""))
    assert report.valid, report.errors


# --- Private without addresses ---------------------------------------------------------------


def test_a_private_alert_without_addresses_is_refused() -> None:
    refused(make_cap("PURPOSE-5", scope="Private"), "cap.addresses.required", "/alert/scope")
    assert cap.validate(make_cap("PURPOSE-6", scope="Private", addresses=["ops@example.org"])).valid


def test_a_restricted_alert_without_restriction_is_still_ingestible() -> None:
    # Its readers are the granted principals, whatever the text says: nothing is lost.
    report = cap.validate(make_cap("PURPOSE-7", scope="Restricted"))
    assert report.ingestible and findings(report) == [("cap.restriction.required", "/alert/scope")]


# --- tolerated -------------------------------------------------------------------------------


@pytest.mark.parametrize("blanks", [b"\n", b"\n\n  \t", b"\r\n\r\n"])
def test_blank_lines_before_the_xml_declaration_are_skipped_and_reported(blanks: bytes) -> None:
    plain = make_cap("PURPOSE-8")
    for data in (blanks + plain, b"\xef\xbb\xbf" + blanks + plain):
        report = cap.validate(data)
        assert report.ingestible and not report.valid
        assert findings(report) == [("cap.xml.declaration-not-first", "/")]
        assert f"{len(blanks)} blank character(s)" in report.errors[0].message
        assert report.alert == cap.validate(plain).alert
        assert cap.parse(data) == cap.parse(plain)


def test_other_things_before_the_declaration_are_still_refused() -> None:
    report = cap.validate(b"x\n" + make_cap("PURPOSE-9"))
    assert not report.ingestible and findings(report)[0][0] == "cap.xml.malformed"


@pytest.mark.parametrize("name", ["urgency", "certainty"])
def test_a_missing_urgency_or_certainty_is_read_as_unknown(name: str) -> None:
    data = make_cap("PURPOSE-10")
    element = {"urgency": b"<urgency>Immediate</urgency>", "certainty": b"<certainty>Likely</certainty>"}[
        name
    ]
    report = cap.validate(data.replace(element, b""))
    assert report.ingestible and not report.valid
    assert findings(report) == [("cap.schema.missing", f"/alert/info[1]/{name}")]
    assert report.errors[0].message.endswith("read as Unknown")
    assert getattr(report.alert.infos[0], name) == "Unknown"


@pytest.mark.parametrize(
    ("element", "path"),
    [
        # <severity> has Unknown, but the corpus manifest expects its absence to be refused.
        (b"<severity>Severe</severity>", "/alert/info[1]/severity"),
        # No unknown value: Actual, Exercise...; Alert, Update...; Public, Restricted, Private.
        (b"<status>Actual</status>", "/alert/status"),
        (b"<msgType>Alert</msgType>", "/alert/msgType"),
        (b"<scope>Public</scope>", "/alert/scope"),
    ],
)
def test_a_missing_severity_status_msgtype_or_scope_is_refused(element: bytes, path: str) -> None:
    refused(make_cap("PURPOSE-11").replace(element, b""), "cap.schema.missing", path)


def test_an_empty_urgency_is_a_wrong_value_not_a_missing_one() -> None:
    # Present but empty: the sender said something that is not CAP (corpus: nws_errors-empty-fields).
    data = make_cap("PURPOSE-12").replace(b"<urgency>Immediate</urgency>", b"<urgency></urgency>")
    refused(data, "cap.schema.enum", "/alert/info[1]/urgency")
