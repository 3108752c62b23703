""" "cap-au": CAP-AU-STD, the Australian profile (OASIS EDXL CAP1.2-AU v1.0)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from cap.errors import Finding
from cap.model import Alert
from cap.profiles.checks import (
    area_geocodes,
    categories,
    code_missing,
    differs,
    event_codes,
    event_per_language,
    geocode_only,
    info_path,
    missing,
    no_area,
    no_info,
    profile_rules,
    status_test,
)

_CAP_AU_CODE = "urn:oasis:names:tc:emergency:cap:1.2:profile:CAP-AU:1.0"
# The authorised event list (AUeventLIST) is named by the govshare handle in CAP-AU-STD 1.0;
# the Bureau of Meteorology names it by URN. Both are read as the same list.
_CAP_AU_EVENT_LISTS = frozenset(
    {"https://govshare.gov.au/xmlui/handle/10772/6495", _CAP_AU_CODE + ":AUeventLIST:1.0"}
)
# CAP-AU-STD 2.4: recognised geocode schemes (G-NAF, ISO 3166, GA place names, postcodes).
_CAP_AU_GEOCODES = frozenset(
    {
        "http://www.psma.com.au/?product=g-naf",
        "http://www.iso.org/iso/country_codes.html",
        "http://www.ga.gov.au/place-name/",
        "http://www.psma.com.au/?product=postcode-boundaries",
    }
)
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w.-]+")

RULES = profile_rules([
    ("cap-au.code", "CAP-AU version <code> missing", "CAP-AU-STD"),
    ("cap-au.info-missing", "Alert/Update/Cancel without <info>", "CAP-AU-STD"),
    ("cap-au.event-code", "no eventCode from AUeventLIST", "CAP-AU-STD"),
    ("cap-au.event-code-single", "more than one AUeventLIST eventCode", "CAP-AU-STD"),
    ("cap-au.event-codes-differ", "infos with different eventCodes", "CAP-AU-STD"),
    ("cap-au.categories-differ", "infos with different categories", "CAP-AU-STD"),
    ("cap-au.event-differs-same-language", "same language, different <event>", "CAP-AU-STD"),
    ("cap-au.effective-with-cancel", "<effective> in a Cancel", "CAP-AU-STD"),
    ("cap-au.area-missing", "<info> without <area>", "CAP-AU-STD"),
    ("cap-au.sender-email", "sender not an example@domain address", "CAP-AU-STD"),
    ("cap-au.status-test", "Test alert is log-only", "CAP-AU-STD"),
    ("cap-au.expires-missing", "<expires> missing", "CAP-AU-STD"),
    ("cap-au.sender-name-missing", "<senderName> missing", "CAP-AU-STD"),
    ("cap-au.response-type-missing", "<responseType> missing", "CAP-AU-STD"),
    ("cap-au.instruction-missing", "<instruction> missing", "CAP-AU-STD"),
    ("cap-au.geocode", "area without a recognised geocode", "CAP-AU-STD 2.4"),
    ("cap-au.polygon-or-circle", "areas given by geocode only", "CAP-AU-STD"),
])  # fmt: skip


def check(alert: Alert) -> Iterator[Finding]:
    must = "CAP-AU requires it"
    rec = "CAP-AU strongly recommends it"
    yield from code_missing(alert, "profile.cap-au.code", lambda c: c == _CAP_AU_CODE, _CAP_AU_CODE, must)
    yield from no_info(
        alert,
        "profile.cap-au.info-missing",
        "CAP-AU requires one",
        frozenset({"Alert", "Update", "Cancel"}),
    )
    if _EMAIL_RE.fullmatch(alert.sender) is None:
        yield Finding(
            "profile.cap-au.sender-email",
            f'<sender> "{alert.sender}" should be an address like warnings@agency.gov.au '
            "naming the issuing agency",
            "/alert/sender",
        )
    yield from status_test(
        alert,
        "profile.cap-au.status-test",
        "CAP-AU systems log it and do not broadcast it",
        only="Test",
    )
    yield from differs(alert, "profile.cap-au.categories-differ", "<category> values", categories, must)
    yield from differs(alert, "profile.cap-au.event-codes-differ", "<eventCode>s", event_codes, must)
    yield from event_per_language(alert, "profile.cap-au.event-differs-same-language", must)
    yield from no_area(alert, "profile.cap-au.area-missing", must)
    yield from missing(alert, "profile.cap-au.expires-missing", "expires", rec)
    yield from missing(alert, "profile.cap-au.sender-name-missing", "senderName", rec)
    yield from missing(alert, "profile.cap-au.response-type-missing", "responseType", rec)
    yield from missing(alert, "profile.cap-au.instruction-missing", "instruction", rec)
    yield from area_geocodes(
        alert,
        "profile.cap-au.geocode",
        lambda g: g.value_name in _CAP_AU_GEOCODES,
        "this <area> has no <geocode> from a recognised scheme (ISO 3166, G-NAF, postcode, GA place name)",
    )
    yield from geocode_only(alert, "profile.cap-au.polygon-or-circle", "CAP-AU prefers them to geocodes")
    authorised: set[tuple[str, str]] = set()
    for i, info in enumerate(alert.infos, 1):
        p = info_path(i)
        listed = {
            (nv.value_name, nv.value) for nv in info.event_codes if nv.value_name in _CAP_AU_EVENT_LISTS
        }
        if not listed:
            yield Finding(
                "profile.cap-au.event-code",
                "no <eventCode> from the authorised AUeventLIST (valueName "
                f'"{min(_CAP_AU_EVENT_LISTS)}"); CAP-AU requires one',
                p,
            )
        authorised |= listed
        if alert.msg_type == "Cancel" and info.effective is not None:
            yield Finding(
                "profile.cap-au.effective-with-cancel",
                "CAP-AU: do not use <effective> in a Cancel",
                f"{p}/effective",
            )
    if len({value for _, value in authorised}) > 1:
        yield Finding(
            "profile.cap-au.event-code-single",
            "the message carries several AUeventLIST event codes ("
            + ", ".join(sorted({v for _, v in authorised}))
            + "); CAP-AU allows one event per alert",
            "/alert",
        )
