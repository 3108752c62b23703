"""The page's language: `?lang=`, else the browser's Accept-Language (RFC 9110 §12.5.4, matched
on the primary subtag among the six UN languages), else English; Arabic right to left."""

from __future__ import annotations

import pytest

from service.webapp.page import Page, language_of, negotiated


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ar-EG,ar;q=0.9,en;q=0.5", "ar"),
        ("zh-Hant-TW", "zh"),
        ("de-CH, de;q=0.9, fr;q=0.8, en;q=0.7", "fr"),
        ("en;q=0.3, ru;q=0.8", "ru"),
        ("es, fr", "es"),  # equal quality: the one named first
        ("fr;q=0, es;q=0.1", "es"),  # q=0 is "not acceptable"
        ("*", "en"),
        ("de, ja", None),
        ("", None),
        ("garbage;;q=x, ,", None),
    ],
)
def test_accept_language_picks_the_best_of_the_six(header: str, expected: str | None) -> None:
    assert negotiated(header) == expected


def test_the_query_outranks_the_header_and_an_unknown_one_is_ignored() -> None:
    assert language_of("ar", "fr") == "ar"
    assert language_of("AR ", None) == "ar"
    assert language_of("de", "ru") == "ru"
    assert language_of(None, None) == "en"


def test_the_html_tag_says_language_and_direction() -> None:
    page = Page(b'<!doctype html>\n<html lang="en" dir="ltr">\n<head></head><body><p>html</p></body></html>')
    assert b'<html lang="ar" dir="rtl">' in page.render("ar")
    assert b'<html lang="zh" dir="ltr">' in page.render("zh")
    assert page.render("ar").count(b"<html") == 1
