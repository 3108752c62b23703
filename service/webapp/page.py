"""The app's one HTML page in the reader's language: `?lang=`, else `Accept-Language`, else
English, written into `<html lang dir>` before the page leaves (the contract: `dir="rtl"` for
Arabic), so the layout is right from the first paint, before any script runs."""

from __future__ import annotations

import re
from dataclasses import dataclass

# The six official languages of the United Nations (and of ITU), in the order the page lists them.
LANGUAGES = ("ar", "zh", "en", "fr", "ru", "es")
DEFAULT_LANGUAGE = "en"
RIGHT_TO_LEFT = frozenset({"ar"})

# RFC 9110 §12.5.4: `Accept-Language: fr-CH, fr;q=0.9, en;q=0.8, *;q=0.5`.
_RANGE = re.compile(
    r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([01](?:\.\d{0,3})?))?\s*$"
)
# The opening tag Vite writes from web/index.html; replaced whole.
_HTML_TAG = re.compile(rb"<html\b[^>]*>", re.IGNORECASE)
# An Accept-Language header longer than this is not read past it (the head is bounded anyway).
_MAX_HEADER = 1024


def language_of(query: str | None, accept_language: str | None) -> str:
    """The page's language: `?lang=` when it is one of the six, else the best of
    `Accept-Language` among them (RFC 4647 §3.4 lookup on the primary subtag), else English.
    An unknown `?lang=` is a preference that cannot be met, not an error: the page still opens."""
    if query is not None and query.strip().lower() in LANGUAGES:
        return query.strip().lower()
    return negotiated(accept_language) or DEFAULT_LANGUAGE


def negotiated(header: str | None) -> str | None:
    """The most preferred of the six in an Accept-Language header, or None."""
    if not header:
        return None
    best: tuple[float, int, str] | None = None
    for position, part in enumerate(header[:_MAX_HEADER].split(",")):
        match = _RANGE.match(part)
        if match is None:
            continue
        tag, quality = match.group(1).lower(), float(match.group(2) or 1)
        if quality <= 0:
            continue
        # "zh-Hant-TW" and "ar-EG" are Chinese and Arabic; "*" is any: the default.
        primary = DEFAULT_LANGUAGE if tag == "*" else tag.split("-", 1)[0]
        if primary not in LANGUAGES:
            continue
        # Highest quality first; among equals, the one named first (RFC 9110 leaves it open).
        candidate = (-quality, position, primary)
        if best is None or candidate < best:
            best = candidate
    return None if best is None else best[2]


@dataclass(frozen=True, slots=True)
class Page:
    """The built index.html, ready to be written in any of the six languages."""

    html: bytes

    def render(self, language: str) -> bytes:
        """The page with `<html lang dir>` for `language` (one of LANGUAGES)."""
        direction = "rtl" if language in RIGHT_TO_LEFT else "ltr"
        tag = f'<html lang="{language}" dir="{direction}">'.encode()
        return _HTML_TAG.sub(tag, self.html, count=1)
