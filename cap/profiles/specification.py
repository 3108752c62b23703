""" "cap": the SHOULDs and recommendations of CAP 1.2 itself (OASIS, ITU-T X.1303)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from cap.errors import Finding
from cap.model import Alert, Info
from cap.profiles.checks import (
    blank,
    expires_before_sent,
    headline_length,
    info_path,
    missing,
    no_info,
    profile_rules,
)

_ABSOLUTE_URI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")
_DOTTED_ACRONYM_RE = re.compile(r"(?:[A-Za-z]\.){2,}[A-Za-z]?\.?")
_ACRONYMS = frozenset({"SAME", "FIPS", "FIPS6", "UGC", "ZIP", "VTEC"})

RULES = profile_rules([
    ("cap.info-missing", "Alert/Update without <info>", "CAP 1.2 §3.2.2"),
    ("cap.expires-missing", "<expires> not given", "CAP 1.2 §3.2.2"),
    ("cap.expires-before-sent", "expires before sent with no <effective>", "CAP 1.2 §3.2.2"),
    ("cap.headline-length", "headline longer than 160 characters", "CAP 1.2 §3.2.2"),
    ("cap.sender-name-missing", "<senderName> not given", "CAP 1.2 §3.2.2"),
    ("cap.description-missing", "<description> not given", "CAP 1.2 §3.2.2"),
    ("cap.web-not-absolute", "<web> is not a full absolute URI", "CAP 1.2 §3.2.2"),
    ("cap.resource-uri-not-absolute", "resource <uri> is not absolute", "CAP 1.2 §3.2.3"),
    ("cap.geocode-without-geometry", "area has geocodes but no polygon/circle", "CAP 1.2 §3.2.4"),
    ("cap.error-note", "msgType Error without <note>", "CAP 1.2 §3.2.1"),
    ("cap.acronym-case", "acronym valueName not in capitals", "CAP 1.2 §3.2.2, §3.2.4"),
])  # fmt: skip


def _is_absolute_uri(value: str) -> bool:
    return bool(_ABSOLUTE_URI_RE.fullmatch(value.strip()))


def _acronym_case(value_name: str) -> bool:
    """True when `value_name` is an acronym written other than in capitals without periods."""
    bare = value_name.replace(".", "")
    if _DOTTED_ACRONYM_RE.fullmatch(value_name):
        return True
    return bare.upper() in _ACRONYMS and value_name != bare.upper()


def check(alert: Alert) -> Iterator[Finding]:
    yield from no_info(
        alert,
        "profile.cap.info-missing",
        "without one recipients get no event, urgency, severity or area to act on",
        frozenset({"Alert", "Update"}),
    )
    # CAP 1.2 §3.2.2 <expires>: "If this item is not provided, each recipient is free to
    # enforce its own policy as to when the message is no longer in effect."
    yield from missing(
        alert,
        "profile.cap.expires-missing",
        "expires",
        "each recipient will then decide alone when the alert ends",
    )
    yield from expires_before_sent(alert, "profile.cap.expires-before-sent", "check both times")
    # CAP 1.2 §3.2.2 <headline>: some displays show only the headline; "160 characters MAY be a
    # useful target limit for headline length".
    yield from headline_length(
        alert,
        "profile.cap.headline-length",
        160,
        "short-message displays may show only the headline: keep it",
    )
    yield from missing(
        alert,
        "profile.cap.sender-name-missing",
        "senderName",
        "it tells the public which authority speaks",
    )
    yield from missing(
        alert,
        "profile.cap.description-missing",
        "description",
        "it describes the hazard for the public",
    )
    for i, info in enumerate(alert.infos, 1):
        yield from _cap_info(info, info_path(i), alert.version)
    # CAP 1.2 §3.2.1 <msgType> Error: "explanation SHOULD appear in <note>".
    if alert.msg_type == "Error" and blank(alert.note):
        yield Finding(
            "profile.cap.error-note",
            "an Error message should explain the rejection in <note>",
            "/alert",
        )


def _cap_info(info: Info, p: str, version: str) -> Iterator[Finding]:
    """The "cap" recommendations that concern one <info> at path `p`."""
    # CAP 1.2 §3.2.2 <web>: "A full, absolute URI for an HTML page or other text resource".
    if info.web is not None and not _is_absolute_uri(info.web):
        shown = f'"{info.web}" is not' if info.web else "is empty, not"
        yield Finding(
            "profile.cap.web-not-absolute",
            f"<web> {shown} a full absolute URI such as https://example.org/alert",
            f"{p}/web",
        )
    # CAP 1.2 §3.2.3 <uri>: absolute, or relative only to name the content of a <derefUri>.
    for k, res in enumerate(info.resources, 1):
        if res.uri and res.deref_uri is None and not _is_absolute_uri(res.uri):
            yield Finding(
                "profile.cap.resource-uri-not-absolute",
                f'<uri> "{res.uri}" is relative but the resource has no <derefUri>',
                f"{p}/resource[{k}]/uri",
            )
    # CAP 1.2 §3.2.4 <geocode>: "it SHOULD be used in concert with an equivalent description
    # in the more universally understood <polygon> and <circle> forms whenever possible".
    for j, area in enumerate(info.areas, 1):
        if area.geocodes and not area.polygons and not area.circles:
            yield Finding(
                "profile.cap.geocode-without-geometry",
                "this <area> is given only by <geocode>; add the equivalent <polygon> or "
                "<circle> so recipients without the code list can place it",
                f"{p}/area[{j}]",
            )
    # CAP 1.2 §3.2.2, §3.2.4: acronym valueNames "SHOULD be represented in all capital
    # letters without periods (e.g., SAME, FIPS, ZIP)".
    # CAP 1.0 writes "valueName=value" as the element's text: no <valueName> child.
    value_name = "" if version == "1.0" else "/valueName"
    named = [("eventCode", k, nv) for k, nv in enumerate(info.event_codes, 1)]
    named += [("parameter", k, nv) for k, nv in enumerate(info.parameters, 1)]
    for j, area in enumerate(info.areas, 1):
        named += [(f"area[{j}]/geocode", k, nv) for k, nv in enumerate(area.geocodes, 1)]
    for element, k, nv in named:
        if _acronym_case(nv.value_name):
            yield Finding(
                "profile.cap.acronym-case",
                f'<valueName> "{nv.value_name}" is an acronym: write it in capitals without '
                f'periods ("{nv.value_name.replace(".", "").upper()}")',
                f"{p}/{element}[{k}]{value_name}",
            )
