"""Choosing an alert's <info> by the recipient's language (CAP 1.2 §3.2.2, BCP 47 subtags)."""

from __future__ import annotations

from cap.languages import best_language


def test_the_best_info_for_a_language() -> None:
    languages = ["en-US", "fr-FR", "es"]
    assert best_language(languages, "fr") == (1, True)
    assert best_language(languages, "FR-ca") == (1, True)
    assert best_language(languages, "es-419") == (2, True)
    assert best_language(languages, "ar") == (0, False)
    assert best_language([None, "fr"], "en-GB") == (0, True)  # no <language>: CAP's en-US
    assert best_language(["fr", "fr-CA"], "fr-CA") == (1, True)
    assert best_language([], "fr") == (-1, False)
