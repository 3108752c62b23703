"""The CAP model's own rules: when the alerted event happens (`cap.event_time`)."""

from __future__ import annotations

from datetime import UTC, datetime

import cap
from cap.model import Alert, Info

SENT = datetime(2026, 3, 1, 12, tzinfo=UTC)
EFFECTIVE = datetime(2026, 3, 1, 13, tzinfo=UTC)
ONSET = datetime(2026, 3, 1, 15, tzinfo=UTC)


def alert(*infos: Info) -> Alert:
    return Alert("E-1", "a@b.c", SENT, "Actual", "Alert", "Public", infos=list(infos))


def test_the_event_time_is_the_onset_before_the_effective_time() -> None:
    assert cap.event_time(alert(Info(effective=EFFECTIVE, onset=ONSET))) == ONSET
    assert cap.event_time(alert(Info(effective=EFFECTIVE))) == EFFECTIVE


def test_the_first_info_that_gives_a_time_decides() -> None:
    later = datetime(2026, 3, 2, tzinfo=UTC)
    assert cap.event_time(alert(Info(), Info(effective=EFFECTIVE), Info(onset=later))) == EFFECTIVE


def test_without_onset_or_effective_the_event_time_is_sent() -> None:
    assert cap.event_time(alert()) == SENT
    assert cap.event_time(alert(Info(), Info())) == SENT


def test_the_event_time_of_a_stored_model_is_read_without_its_areas() -> None:
    from tests.cap.test_rules import CAP10

    with_onset = CAP10.replace("</eventCode>", f"</eventCode><onset>{ONSET.isoformat()}</onset>")
    parsed = cap.parse(with_onset.encode())
    assert cap.event_time(parsed) == ONSET
    light = cap.from_json(cap.to_json(parsed), areas=False)
    assert [i.areas for i in light.infos] == [[]]
    assert cap.event_time(light) == cap.event_time(parsed)
