"""The words of e-mail deliveries: every label, event name and CAP value in the six UN languages,
translated (not English copies), with the same placeholders in each."""

from __future__ import annotations

import re

from service.deliveries.words import LANGUAGES, Words, label_language, table
from service.events.log import EVENT_TYPES

PLACEHOLDER = re.compile(r"\{(\w+)\}")
CAP_VALUES = {
    "severity": ("Extreme", "Severe", "Moderate", "Minor", "Unknown"),
    "urgency": ("Immediate", "Expected", "Future", "Past", "Unknown"),
    "certainty": ("Observed", "Very Likely", "Likely", "Possible", "Unlikely", "Unknown"),
    "priority": ("flash", "urgent", "routine"),
}
# Words that are the same in English and in another language by right (a loanword, an acronym).
SAME_AS_ENGLISH = {
    ("priority.flash", "fr"),
    ("priority.flash", "es"),
    ("priority.routine", "fr"),
    ("label.notification", "fr"),
    ("label.note", "fr"),
    ("label.source", "fr"),
    ("certainty.Possible", "fr"),
    ("urgency.Future", "fr"),
    ("field.action", "fr"),
    ("field.description", "fr"),
}


def test_every_entry_is_in_the_six_languages_with_the_same_placeholders() -> None:
    rows = table()
    assert rows
    for key, cells in rows.items():
        assert sorted(cells) == sorted(LANGUAGES), key
        english = cells["en"]
        for language in LANGUAGES:
            text = cells[language]
            assert text and text == text.strip(), (key, language)
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(english)), (key, language)
            if language in ("ar", "ru", "zh"):
                # Another script: an English copy would be all ASCII letters.
                assert not re.fullmatch(r"[\x00-\x7f]*", PLACEHOLDER.sub("", text)), (key, language)
            elif language != "en" and (key, language) not in SAME_AS_ENGLISH:
                assert text != english, (key, language)


def test_every_event_type_and_cap_value_has_its_words() -> None:
    rows = table()
    missing = [f"event.{kind}" for kind in EVENT_TYPES if f"event.{kind}" not in rows]
    missing += [
        f"{group}.{v}" for group, values in CAP_VALUES.items() for v in values if f"{group}.{v}" not in rows
    ]
    assert missing == []


def test_a_recipients_language_picks_the_words() -> None:
    assert label_language("fr-CA") == "fr" and label_language("zh-Hant") == "zh"
    assert label_language("pt-BR") == "en" and label_language(None) == "en"
    assert Words.of("ar").direction == "rtl" and Words.of("ru").direction == "ltr"
    assert Words.of("fr").line(Words.of("fr").get("label.severity"), "Grave") == "Gravité\u00a0: Grave"
    assert Words.of("es").term("severity", "Severe") == "Grave"
    assert Words.of("ru").term("severity", "Whatever") == "Whatever"  # not in CAP: as it is
