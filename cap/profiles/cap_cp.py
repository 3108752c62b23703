""" "cap-cp": CAP-CP, the Canadian profile (rules numbered as in "CAP-CP Intro & Rules")."""

from __future__ import annotations

import re
from collections.abc import Iterator

from cap.errors import Finding
from cap.model import Alert
from cap.profiles.checks import (
    area_geocodes,
    code_missing,
    differs,
    event_codes,
    geocode_only,
    info_path,
    missing,
    no_area,
    no_info,
    profile_rules,
)

_CAP_CP_CODE = "profile:CAP-CP:"
_CAP_CP_EVENT = "profile:CAP-CP:Event:"
_CAP_CP_LOCATION = "profile:CAP-CP:Location:"
# Statistics Canada SGC: province (2 digits), census division (4), subdivision (7).
_SGC_RE = re.compile(r"\d{2}|\d{4}|\d{7}")

RULES = profile_rules([
    ("cap-cp.code", "CAP-CP version <code> missing", "CAP-CP rule 3"),
    ("cap-cp.info-missing", "Alert/Update/Cancel without <info>", "CAP-CP rule 5"),
    ("cap-cp.event-codes-differ", "infos with different eventCodes", "CAP-CP rule 2"),
    ("cap-cp.event-code", "no CAP-CP Event eventCode", "CAP-CP rule 8"),
    ("cap-cp.area-missing", "<info> without <area>", "CAP-CP rule 10"),
    ("cap-cp.location-geocode", "area without a CAP-CP Location geocode", "CAP-CP rule 9"),
    ("cap-cp.location-format", "CAP-CP Location value is not an SGC code", "CAP-CP rule 9"),
    ("cap-cp.languages", "no English and French <info> pair", "CAP-CP rule 6"),
    ("cap-cp.expires-missing", "<expires> missing", "CAP-CP rule 13"),
    ("cap-cp.sender-name-missing", "<senderName> missing", "CAP-CP rule 14"),
    ("cap-cp.response-type-missing", "<responseType> missing", "CAP-CP rule 15"),
    ("cap-cp.instruction-missing", "<instruction> missing", "CAP-CP rule 15"),
    ("cap-cp.polygon-or-circle", "areas given by geocode only", "CAP-CP rule 18"),
])  # fmt: skip


def check(alert: Alert) -> Iterator[Finding]:
    must = "CAP-CP requires it"
    rec = "CAP-CP strongly recommends it"
    yield from code_missing(
        alert,
        "profile.cap-cp.code",
        lambda c: c.startswith(_CAP_CP_CODE),
        "profile:CAP-CP:0.4",
        must,
    )
    yield from no_info(
        alert,
        "profile.cap-cp.info-missing",
        "CAP-CP requires one",
        frozenset({"Alert", "Update", "Cancel"}),
    )
    yield from differs(
        alert,
        "profile.cap-cp.event-codes-differ",
        "<eventCode>s",
        event_codes,
        "CAP-CP allows one event",
    )
    yield from no_area(alert, "profile.cap-cp.area-missing", must)
    yield from area_geocodes(
        alert,
        "profile.cap-cp.location-geocode",
        lambda g: g.value_name.startswith(_CAP_CP_LOCATION),
        'this <area> has no <geocode> "profile:CAP-CP:Location:0.3" (Statistics Canada SGC code); '
        "CAP-CP requires one for areas in Canada",
    )
    yield from missing(alert, "profile.cap-cp.expires-missing", "expires", rec)
    yield from missing(alert, "profile.cap-cp.sender-name-missing", "senderName", rec)
    yield from missing(alert, "profile.cap-cp.response-type-missing", "responseType", rec)
    yield from missing(alert, "profile.cap-cp.instruction-missing", "instruction", rec)
    yield from geocode_only(alert, "profile.cap-cp.polygon-or-circle", "CAP-CP prefers them to geocodes")
    for i, info in enumerate(alert.infos, 1):
        p = info_path(i)
        if not any(nv.value_name.startswith(_CAP_CP_EVENT) for nv in info.event_codes):
            yield Finding(
                "profile.cap-cp.event-code",
                'no <eventCode> "profile:CAP-CP:Event:0.4" from the CAP-CP event list; CAP-CP requires one',
                p,
            )
        for j, area in enumerate(info.areas, 1):
            for k, g in enumerate(area.geocodes, 1):
                if g.value_name.startswith(_CAP_CP_LOCATION) and not _SGC_RE.fullmatch(g.value):
                    yield Finding(
                        "profile.cap-cp.location-format",
                        f'"{g.value}" is not a Statistics Canada SGC code (2, 4 or 7 digits)',
                        f"{p}/area[{j}]/geocode[{k}]",
                    )
    # Rule 6: public alerts in Canada go out in English and French, one <info> each.
    languages = {info.language.lower().split("-")[0] for info in alert.infos}
    if alert.infos and not {"en", "fr"} <= languages:
        yield Finding(
            "profile.cap-cp.languages",
            "the message should carry one <info> in English (en-CA) and one in French (fr-CA); "
            f"found {', '.join(sorted({i.language for i in alert.infos}))}",
            "/alert",
        )
