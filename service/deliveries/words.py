"""The words of e-mail deliveries in the six UN languages (ar, en, es, fr, ru, zh): labels,
subjects, event names and the CAP vocabulary, read from the table `data/mail_words.tsv`.

- `label_language(tag)`: which of the six a BCP 47 tag is written in (its primary subtag; any
  other language: English, the one every ITU office reads).
- `Words.of(tag)`: the words of that language; `words.get(key, **values)` a label,
  `words.term(group, value)` a CAP or service value in words (the value itself when the table
  has none), `words.line(label, value)` one "label: value" line with the language's colon.
- `direction(language)`: "rtl" for Arabic, else "ltr" (the HTML part's `dir`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

LANGUAGES = ("ar", "en", "es", "fr", "ru", "zh")
FALLBACK = "en"
RTL = frozenset({"ar"})
# Punctuation between a label and its value: French sets a (non-breaking) space before a colon,
# Chinese uses the full-width colon.
COLONS = {"fr": "\u00a0: ", "zh": "："}


def label_language(tag: str | None) -> str:
    """The language of the six a tag is written in; English for any other."""
    primary = (tag or "").split("-", 1)[0].strip().lower()
    return primary if primary in LANGUAGES else FALLBACK


def direction(language: str) -> str:
    """The writing direction of one of the six languages."""
    return "rtl" if language in RTL else "ltr"


@cache
def table() -> Mapping[str, Mapping[str, str]]:
    """key -> language -> text, as the table holds them (every cell filled: checked by tests)."""
    text = (resources.files("service.deliveries") / "data" / "mail_words.tsv").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    header = lines[0].split("\t")
    rows: dict[str, dict[str, str]] = {}
    for line in lines[1:]:
        cells = line.split("\t")
        rows[cells[0]] = dict(zip(header[1:], cells[1:], strict=True))
    return rows


@dataclass(slots=True, frozen=True)
class Words:
    """The words of one of the six languages."""

    language: str

    @classmethod
    def of(cls, tag: str | None) -> Words:
        """The words for a recipient whose language is `tag`."""
        return cls(label_language(tag))

    @property
    def direction(self) -> str:
        """ "rtl" or "ltr"."""
        return direction(self.language)

    @property
    def colon(self) -> str:
        """What goes between a label and its value."""
        return COLONS.get(self.language, ": ")

    def get(self, key: str, **values: object) -> str:
        """The text of `key` in this language (English where a cell is missing), filled in."""
        row = table().get(key)
        if row is None:
            raise KeyError(f"mail word {key!r} is not in data/mail_words.tsv")
        text = row.get(self.language) or row[FALLBACK]
        return text.format(**values) if values else text

    def term(self, group: str, value: object) -> str:
        """A value of a vocabulary (severity, urgency, certainty, priority, state, event) in words;
        a value the table does not know is shown as it is."""
        row = table().get(f"{group}.{value}")
        if row is None:
            return str(value)
        return row.get(self.language) or row[FALLBACK]

    def line(self, label: str, value: object) -> str:
        """ "label: value" with this language's colon."""
        return f"{label}{self.colon}{value}"
