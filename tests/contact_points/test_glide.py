"""GLIDE numbers: format, hazard codes from the packaged table, and the country warning."""

from __future__ import annotations

from typing import Any

import pytest

from cap.errors import Finding
from contact_points.glide import HAZARDS, GlideNumber, glide_warnings, parse_glide


def test_the_hazard_table_holds_the_glide_codes_with_their_names() -> None:
    assert {"EQ", "TC", "FL", "DR", "VO", "TS", "EP", "CE"} <= set(HAZARDS)
    assert HAZARDS["TC"] == "Tropical cyclone"
    assert all(len(code) == 2 and code.isupper() for code in HAZARDS)


def test_a_glide_number_is_read_into_its_parts() -> None:
    findings: list[Finding] = []
    glide = parse_glide(" tc-2016-000014-fji\n", "/glide", findings)
    assert findings == []
    assert glide == GlideNumber("TC", 2016, 14, "FJI")
    assert str(glide) == "TC-2016-000014-FJI" and glide.hazard_name == "Tropical cyclone"


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("TC-2016-14-FJI", "request.glide.format"),
        ("TC-2016-000014-FJ", "request.glide.format"),
        ("TC2016000014FJI", "request.glide.format"),
        ("ZZ-2016-000014-FJI", "request.glide.hazard"),
        ("TC-0999-000014-FJI", "request.glide.year"),
        (None, "request.glide.format"),
        (["TC-2016-000014-FJI"], "request.glide.format"),
    ],
)
def test_a_bad_glide_number_is_one_finding(value: Any, rule: str) -> None:
    findings: list[Finding] = []
    assert parse_glide(value, "/glide", findings) is None
    assert [(f.rule, f.path) for f in findings] == [(rule, "/glide")]


def test_another_countrys_number_is_a_warning_that_names_the_own_number() -> None:
    assert glide_warnings("TC-2016-000014-FJI", "FJI") == []
    assert glide_warnings(None, "FJI") == []
    [warning] = glide_warnings("TC-2016-000014-FJI", "TON")
    assert warning.rule == "request.glide.country-mismatch" and "TC-2016-000014-TON" in warning.message
