"""CAP profiles: the specification's recommendations and the common national/platform profiles.

Every profile finding is a warning: a message can be valid CAP and still fall short of what a
profile asks. Profiles, selected by name:

- "cap": the SHOULDs and recommendations of CAP 1.2 itself (OASIS, ITU-T X.1303);
- "google": Google Public Alerts CAP requirements (developers.google.com/public-alerts);
- "ipaws": CAP v1.2 USA IPAWS Profile v1.0 (OASIS CS01) and IPAWS-OPEN practice;
- "cap-au": CAP-AU-STD, the Australian profile (OASIS EDXL CAP1.2-AU v1.0);
- "cap-cp": CAP-CP, the Canadian profile (rules numbered as in "CAP-CP Intro & Rules").

Rule ids are "profile.<profile>.<rule>"; all of them are in `PROFILE_RULES`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence

from cap.errors import Finding
from cap.model import Alert, Info, NamedValue
from cap.rules import Rule

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
_CAP_CP_CODE = "profile:CAP-CP:"
_CAP_CP_EVENT = "profile:CAP-CP:Event:"
_CAP_CP_LOCATION = "profile:CAP-CP:Location:"
# Statistics Canada SGC: province (2 digits), census division (4), subdivision (7).
_SGC_RE = re.compile(r"\d{2}|\d{4}|\d{7}")
_SAME_EVENT_RE = re.compile(r"[A-Z]{3}")
_SAME_LOCATION_RE = re.compile(r"\d{6}")
# 47 CFR §11.31: the SAME originator codes.
_EAS_ORG_CODES = frozenset({"EAS", "CIV", "WXR", "PEP"})
_EAS_ORGS = ", ".join(sorted(_EAS_ORG_CODES))
_BLOCKCHANNELS = frozenset({"CMAS", "EAS", "NWEM", "PUBLIC", "CAPEXCH"})
_ABSOLUTE_URI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")
_DOTTED_ACRONYM_RE = re.compile(r"(?:[A-Za-z]\.){2,}[A-Za-z]?\.?")
_ACRONYMS = frozenset({"SAME", "FIPS", "FIPS6", "UGC", "ZIP", "VTEC"})
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w.-]+")

_R: list[tuple[str, str, str]] = [
    # The specification's own recommendations.
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
    # Google Public Alerts.
    ("google.info-missing", "no <info>", "Google CAP requirements: info"),
    ("google.categories-differ", "infos with different categories", "Google CAP requirements"),
    ("google.event-codes-differ", "infos with different eventCodes", "Google CAP requirements"),
    ("google.event-length", "<event> 35 characters or longer", "Google CAP requirements: info"),
    ("google.description-missing", "<description> missing or empty", "Google CAP requirements"),
    ("google.web-missing", "<web> missing or empty", "Google CAP requirements"),
    ("google.expires-missing", "<expires> missing", "Google CAP requirements"),
    ("google.expires-before-sent", "expires before sent with no <effective>", "Google CAP"),
    ("google.area-missing", "<info> without <area>", "Google CAP requirements"),
    ("google.area-location", "area without polygon, circle or geocode", "Google CAP"),
    ("google.sender-name-missing", "<senderName> missing", "Google CAP requirements"),
    ("google.response-type-missing", "<responseType> missing", "Google CAP requirements: info"),
    ("google.instruction-missing", "<instruction> missing", "Google CAP requirements"),
    ("google.contact-missing", "<contact> missing", "Google CAP requirements"),
    ("google.headline-length", "headline longer than 140 characters", "Google CAP requirements"),
    ("google.headline-equals-description", "headline identical to description", "Google CAP"),
    ("google.description-equals-instruction", "description identical to instruction", "Google"),
    ("google.urgency-unknown", "urgency Unknown", "Google CAP requirements: info"),
    ("google.severity-unknown", "severity Unknown", "Google CAP requirements: info"),
    ("google.certainty-unknown", "certainty Unknown", "Google CAP requirements: info"),
    ("google.circle-radius-zero", "circle with radius 0", "Google CAP requirements"),
    ("google.polygon-or-circle", "areas given by geocode only", "Google CAP requirements"),
    ("google.event-differs-same-language", "same language, different <event>", "Google CAP"),
    ("google.geocode-empty", "geocode with empty valueName or value", "Google CAP"),
    ("google.status-not-actual", "status other than Actual", "Google Public Alerts: launch"),
    ("google.scope-not-public", "scope other than Public", "Google Public Alerts"),
    # CAP v1.2 USA IPAWS Profile v1.0.
    ("ipaws.code", "<code>IPAWSv1.0</code> missing", "IPAWS profile 3.2.1"),
    ("ipaws.info-missing", "no <info>", "IPAWS profile XSD"),
    ("ipaws.expires-missing", "<expires> missing", "IPAWS profile 3.2.2"),
    ("ipaws.same-event-code", "not exactly one SAME eventCode", "IPAWS profile 3.2.2"),
    ("ipaws.event-codes-differ", "infos with different eventCodes", "IPAWS profile 3.2.2"),
    ("ipaws.categories-differ", "infos with different categories", "IPAWS profile 3.2.2"),
    ("ipaws.area-missing", "<info> without <area>", "IPAWS profile 3.2.4"),
    ("ipaws.same-geocode", "area without a SAME 6-digit geocode", "IPAWS profile 3.2.4"),
    ("ipaws.eas-org", "EAS-ORG parameter missing", "IPAWS profile 3.2.2 (EAS)"),
    ("ipaws.eas-org-value", "EAS-ORG not a SAME originator code", "IPAWS profile; 47 CFR 11.31"),
    ("ipaws.cmam-text-missing", "WEA alert without CMAMtext", "IPAWS profile 3.2.2 (CMAS)"),
    ("ipaws.cmam-text-length", "CMAMtext longer than 90 characters", "IPAWS profile (CMAS)"),
    ("ipaws.cmam-longtext-length", "CMAMlongtext longer than 360 characters", "IPAWS-OPEN"),
    ("ipaws.blockchannel-value", "unknown BLOCKCHANNEL value", "IPAWS-OPEN"),
    ("ipaws.description-missing", "<description> missing", "IPAWS profile 3.2.2"),
    ("ipaws.instruction-missing", "<instruction> missing", "IPAWS profile 3.2.2"),
    # CAP-AU-STD.
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
    # CAP-CP (Canadian Profile).
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
]

PROFILE_RULES: list[Rule] = [
    Rule(f"profile.{key}", "warning", False, summary, clause) for key, summary, clause in _R
]


# --- paths and small helpers -------------------------------------------------------------------


def _info_path(i: int) -> str:
    return f"/alert/info[{i}]"


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _values(named: Iterable[NamedValue], name: str) -> list[tuple[int, str]]:
    """(1-based position, value) of every pair called `name`, for paths like parameter[3]."""
    return [(k, nv.value) for k, nv in enumerate(named, 1) if nv.value_name == name]


def _no_info(
    alert: Alert, rule: str, why: str, msg_types: frozenset[str] | None
) -> Iterator[Finding]:
    if not alert.infos and (msg_types is None or alert.msg_type in msg_types):
        yield Finding(rule, f"this {alert.msg_type} message has no <info>; {why}", "/alert")


def _missing(alert: Alert, rule: str, element: str, why: str) -> Iterator[Finding]:
    """An <info> child that is absent or empty: `element` is the CAP name of an Info field."""
    attr = _ATTR[element]
    for i, info in enumerate(alert.infos, 1):
        value = getattr(info, attr)
        if value is None or value == []:
            yield Finding(rule, f"<{element}> is missing; {why}", _info_path(i))
        elif isinstance(value, str) and not value.strip():
            yield Finding(rule, f"<{element}> is empty; {why}", f"{_info_path(i)}/{element}")


_ATTR = {
    "expires": "expires",
    "responseType": "response_types",
    "senderName": "sender_name",
    "description": "description",
    "instruction": "instruction",
    "web": "web",
    "contact": "contact",
}


def _no_area(alert: Alert, rule: str, why: str) -> Iterator[Finding]:
    for i, info in enumerate(alert.infos, 1):
        if not info.areas:
            yield Finding(rule, f"<info> has no <area>; {why}", _info_path(i))


def _differs(
    alert: Alert, rule: str, what: str, key: Callable[[Info], Hashable], why: str
) -> Iterator[Finding]:
    """Every <info> after the first must carry the same `what` as the first."""
    if not alert.infos:
        return
    first = key(alert.infos[0])
    for i, info in enumerate(alert.infos[1:], 2):
        if key(info) != first:
            yield Finding(
                rule, f"<info> {i} has different {what} from <info> 1; {why}", _info_path(i)
            )


def _categories(info: Info) -> Hashable:
    return frozenset(info.categories)


def _event_codes(info: Info) -> Hashable:
    return frozenset((nv.value_name, nv.value) for nv in info.event_codes)


def _event_per_language(alert: Alert, rule: str, why: str) -> Iterator[Finding]:
    seen: dict[str, tuple[int, str]] = {}
    for i, info in enumerate(alert.infos, 1):
        first = seen.setdefault(info.language, (i, info.event))
        if first[1] != info.event:
            yield Finding(
                rule,
                f'<event> "{info.event}" differs from "{first[1]}" in <info> {first[0]}, '
                f"which has the same language {info.language}; {why}",
                f"{_info_path(i)}/event",
            )


def _geocode_only(alert: Alert, rule: str, why: str) -> Iterator[Finding]:
    """Infos whose areas are all geocodes: a recipient needs the code list to place them."""
    for i, info in enumerate(alert.infos, 1):
        if info.areas and not any(a.polygons or a.circles for a in info.areas):
            yield Finding(
                rule,
                f"no <area> of this <info> has a <polygon> or <circle>; {why}",
                f"{_info_path(i)}/area[1]",
            )


def _area_geocodes(
    alert: Alert, rule: str, accept: Callable[[NamedValue], bool], message: str
) -> Iterator[Finding]:
    """Each area needs at least one geocode that `accept`s."""
    for i, info in enumerate(alert.infos, 1):
        for j, area in enumerate(info.areas, 1):
            if not any(accept(g) for g in area.geocodes):
                yield Finding(rule, message, f"{_info_path(i)}/area[{j}]")


def _code(
    alert: Alert, rule: str, accept: Callable[[str], bool], expected: str, why: str
) -> Iterator[Finding]:
    if not any(accept(c) for c in alert.codes):
        yield Finding(rule, f"no <code>{expected}</code>; {why}", "/alert")


def _expires_before_sent(alert: Alert, rule: str, why: str) -> Iterator[Finding]:
    # CAP 1.2 §3.2.2 <effective>: "If this item is not included, the effective time SHALL be
    # assumed to be the same as in <sent>". With <onset> present parsing already compared it.
    for i, info in enumerate(alert.infos, 1):
        if (
            info.effective is None
            and info.onset is None
            and info.expires
            and info.expires < alert.sent
        ):
            yield Finding(
                rule,
                f"<expires> {info.expires.isoformat()} is before <sent> {alert.sent.isoformat()}, "
                f"so the alert has expired before it takes effect; {why}",
                f"{_info_path(i)}/expires",
            )


def _headline_length(alert: Alert, rule: str, limit: int, why: str) -> Iterator[Finding]:
    for i, info in enumerate(alert.infos, 1):
        if info.headline is not None and len(info.headline) > limit:
            yield Finding(
                rule,
                f"<headline> is {len(info.headline)} characters; {why} at most {limit}",
                f"{_info_path(i)}/headline",
            )


def _status_test(
    alert: Alert, rule: str, why: str, *, only: str | None = None
) -> Iterator[Finding]:
    """A status other than Actual (or, with `only`, that one status)."""
    if alert.status != "Actual" and only in (None, alert.status):
        yield Finding(rule, f'<status> is "{alert.status}"; {why}', "/alert/status")


# --- "cap": the specification's own recommendations ----------------------------------------------


def _is_absolute_uri(value: str) -> bool:
    return bool(_ABSOLUTE_URI_RE.fullmatch(value.strip()))


def _acronym_case(value_name: str) -> bool:
    """True when `value_name` is an acronym written other than in capitals without periods."""
    bare = value_name.replace(".", "")
    if _DOTTED_ACRONYM_RE.fullmatch(value_name):
        return True
    return bare.upper() in _ACRONYMS and value_name != bare.upper()


def _check_cap(alert: Alert) -> Iterator[Finding]:
    yield from _no_info(
        alert,
        "profile.cap.info-missing",
        "without one recipients get no event, urgency, severity or area to act on",
        frozenset({"Alert", "Update"}),
    )
    # CAP 1.2 §3.2.2 <expires>: "If this item is not provided, each recipient is free to
    # enforce its own policy as to when the message is no longer in effect."
    yield from _missing(
        alert,
        "profile.cap.expires-missing",
        "expires",
        "each recipient will then decide alone when the alert ends",
    )
    yield from _expires_before_sent(alert, "profile.cap.expires-before-sent", "check both times")
    # CAP 1.2 §3.2.2 <headline>: some displays show only the headline; "160 characters MAY be a
    # useful target limit for headline length".
    yield from _headline_length(
        alert,
        "profile.cap.headline-length",
        160,
        "short-message displays may show only the headline: keep it",
    )
    yield from _missing(
        alert,
        "profile.cap.sender-name-missing",
        "senderName",
        "it tells the public which authority speaks",
    )
    yield from _missing(
        alert,
        "profile.cap.description-missing",
        "description",
        "it describes the hazard for the public",
    )
    for i, info in enumerate(alert.infos, 1):
        yield from _cap_info(info, _info_path(i), alert.version)
    # CAP 1.2 §3.2.1 <msgType> Error: "explanation SHOULD appear in <note>".
    if alert.msg_type == "Error" and _blank(alert.note):
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


# --- "google": Google Public Alerts --------------------------------------------------------------


def _check_google(alert: Alert) -> Iterator[Finding]:
    req = "Google Public Alerts requires it"
    rec = "Google Public Alerts strongly recommends it"
    yield from _status_test(
        alert,
        "profile.google.status-not-actual",
        "Google Public Alerts keeps Test alerts from the public and publishes real (Actual) alerts",
    )
    if alert.scope != "Public":
        yield Finding(
            "profile.google.scope-not-public",
            f'<scope> is "{alert.scope}"; Google Public Alerts publishes only Public alerts',
            "/alert/scope",
        )
    yield from _no_info(alert, "profile.google.info-missing", "at least one is required", None)
    yield from _differs(
        alert, "profile.google.categories-differ", "<category> values", _categories, req
    )
    yield from _differs(
        alert, "profile.google.event-codes-differ", "<eventCode>s", _event_codes, req
    )
    yield from _missing(alert, "profile.google.description-missing", "description", req)
    yield from _missing(alert, "profile.google.web-missing", "web", req)
    yield from _missing(alert, "profile.google.expires-missing", "expires", req)
    yield from _expires_before_sent(
        alert, "profile.google.expires-before-sent", req + " to be later"
    )
    yield from _no_area(alert, "profile.google.area-missing", req)
    yield from _missing(alert, "profile.google.sender-name-missing", "senderName", rec)
    yield from _missing(alert, "profile.google.response-type-missing", "responseType", rec)
    yield from _missing(alert, "profile.google.instruction-missing", "instruction", rec)
    yield from _missing(
        alert, "profile.google.contact-missing", "contact", "Google Public Alerts recommends it"
    )
    yield from _headline_length(
        alert, "profile.google.headline-length", 140, "Google Public Alerts asks for"
    )
    yield from _event_per_language(
        alert,
        "profile.google.event-differs-same-language",
        "Google Public Alerts expects one event",
    )
    yield from _geocode_only(
        alert,
        "profile.google.polygon-or-circle",
        "Google Public Alerts encourages them as more accurate than geocodes",
    )
    for i, info in enumerate(alert.infos, 1):
        p = _info_path(i)
        if len(info.event) >= 35:
            yield Finding(
                "profile.google.event-length",
                f"<event> is {len(info.event)} characters; Google Public Alerts asks for "
                "fewer than 35",
                f"{p}/event",
            )
        if info.headline and info.description == info.headline:
            yield Finding(
                "profile.google.headline-equals-description",
                "<description> repeats the <headline>; it should give more detail",
                f"{p}/headline",
            )
        if info.instruction and info.description == info.instruction:
            yield Finding(
                "profile.google.description-equals-instruction",
                "<instruction> repeats the <description>; one describes the hazard, the other "
                "says what to do",
                f"{p}/description",
            )
        for name in ("urgency", "severity", "certainty"):
            if getattr(info, name) == "Unknown":
                yield Finding(
                    f"profile.google.{name}-unknown",
                    f"<{name}> is Unknown; Google Public Alerts cannot rank such alerts well",
                    f"{p}/{name}",
                )
        for j, area in enumerate(info.areas, 1):
            ap = f"{p}/area[{j}]"
            if not (area.polygons or area.circles or area.geocodes):
                yield Finding(
                    "profile.google.area-location",
                    "<area> has no <polygon>, <circle> or <geocode>; Google Public Alerts "
                    "needs one",
                    ap,
                )
            for k, circle in enumerate(area.circles, 1):
                if circle.radius_km == 0:
                    yield Finding(
                        "profile.google.circle-radius-zero",
                        "circle radius is 0: an <area> is where people should be alerted, "
                        "not the point of the event",
                        f"{ap}/circle[{k}]",
                    )
            for k, g in enumerate(area.geocodes, 1):
                if not g.value_name or not g.value:
                    yield Finding(
                        "profile.google.geocode-empty",
                        "<geocode> has an empty <valueName> or <value>",
                        f"{ap}/geocode[{k}]",
                    )


# --- "ipaws": CAP v1.2 USA IPAWS Profile v1.0 ----------------------------------------------------


def _check_ipaws(alert: Alert) -> Iterator[Finding]:
    must = "the IPAWS profile requires it"
    yield from _code(
        alert,
        "profile.ipaws.code",
        lambda c: c == "IPAWSv1.0",
        "IPAWSv1.0",
        "it names the profile version",
    )
    # The profile's schema makes <info> required (minOccurs 1), whatever the msgType.
    yield from _no_info(
        alert, "profile.ipaws.info-missing", "the IPAWS profile schema requires one", None
    )
    yield from _missing(alert, "profile.ipaws.expires-missing", "expires", must)
    yield from _differs(
        alert, "profile.ipaws.event-codes-differ", "<eventCode>s", _event_codes, must
    )
    yield from _differs(
        alert, "profile.ipaws.categories-differ", "<category> values", _categories, must
    )
    yield from _no_area(alert, "profile.ipaws.area-missing", must)
    yield from _missing(
        alert, "profile.ipaws.description-missing", "description", "IPAWS messages should have one"
    )
    yield from _missing(
        alert, "profile.ipaws.instruction-missing", "instruction", "IPAWS messages should have one"
    )
    yield from _area_geocodes(
        alert,
        "profile.ipaws.same-geocode",
        lambda g: g.value_name == "SAME" and bool(_SAME_LOCATION_RE.fullmatch(g.value)),
        'this <area> has no <geocode> "SAME" with a 6-digit SAME location code (extended FIPS)',
    )
    for i, info in enumerate(alert.infos, 1):
        p = _info_path(i)
        same = _values(info.event_codes, "SAME")
        if len(same) != 1 or not _SAME_EVENT_RE.fullmatch(same[0][1]):
            found = ", ".join(f'"{v}"' for _, v in same) or "none"
            yield Finding(
                "profile.ipaws.same-event-code",
                'EAS, WEA and HazCollect need exactly one <eventCode> "SAME" with a three-letter '
                f"SAME event code; found {found}",
                p,
            )
        yield from _ipaws_parameters(info, p)


def _ipaws_parameters(info: Info, p: str) -> Iterator[Finding]:
    """EAS-ORG, CMAMtext, CMAMlongtext and BLOCKCHANNEL parameters of one <info>."""
    blocked = {v.strip().upper() for _, v in _values(info.parameters, "BLOCKCHANNEL")}
    for k, v in _values(info.parameters, "BLOCKCHANNEL"):
        if v.strip().upper() not in _BLOCKCHANNELS:
            yield Finding(
                "profile.ipaws.blockchannel-value",
                f'BLOCKCHANNEL "{v}" is not one of {", ".join(sorted(_BLOCKCHANNELS))}',
                f"{p}/parameter[{k}]",
            )
    eas_org = _values(info.parameters, "EAS-ORG")
    if not eas_org and "EAS" not in blocked:
        yield Finding(
            "profile.ipaws.eas-org",
            'no <parameter> "EAS-ORG": a message for EAS must name its SAME originator '
            f"({_EAS_ORGS}); if it is not meant for EAS, add BLOCKCHANNEL EAS",
            p,
        )
    for k, v in eas_org:
        if v not in _EAS_ORG_CODES:
            yield Finding(
                "profile.ipaws.eas-org-value",
                f'EAS-ORG "{v}" is not a SAME originator code ({_EAS_ORGS})',
                f"{p}/parameter[{k}]",
            )
    cmam = _values(info.parameters, "CMAMtext")
    # WEAHandling (Imminent Threat, Presidential, ...) marks a message meant for WEA (CMAS).
    if not cmam and _values(info.parameters, "WEAHandling") and "CMAS" not in blocked:
        yield Finding(
            "profile.ipaws.cmam-text-missing",
            'the message has WEAHandling but no <parameter> "CMAMtext", the 90-character text '
            "Wireless Emergency Alerts display",
            p,
        )
    for name, rule, limit in (
        ("CMAMtext", "profile.ipaws.cmam-text-length", 90),
        ("CMAMlongtext", "profile.ipaws.cmam-longtext-length", 360),
    ):
        for k, v in _values(info.parameters, name):
            if len(v) > limit:
                yield Finding(
                    rule,
                    f"{name} is {len(v)} characters; Wireless Emergency Alerts carry at "
                    f"most {limit}",
                    f"{p}/parameter[{k}]",
                )


# --- "cap-au": CAP-AU-STD ------------------------------------------------------------------------


def _check_cap_au(alert: Alert) -> Iterator[Finding]:
    must = "CAP-AU requires it"
    rec = "CAP-AU strongly recommends it"
    yield from _code(alert, "profile.cap-au.code", lambda c: c == _CAP_AU_CODE, _CAP_AU_CODE, must)
    yield from _no_info(
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
    yield from _status_test(
        alert,
        "profile.cap-au.status-test",
        "CAP-AU systems log it and do not broadcast it",
        only="Test",
    )
    yield from _differs(
        alert, "profile.cap-au.categories-differ", "<category> values", _categories, must
    )
    yield from _differs(
        alert, "profile.cap-au.event-codes-differ", "<eventCode>s", _event_codes, must
    )
    yield from _event_per_language(alert, "profile.cap-au.event-differs-same-language", must)
    yield from _no_area(alert, "profile.cap-au.area-missing", must)
    yield from _missing(alert, "profile.cap-au.expires-missing", "expires", rec)
    yield from _missing(alert, "profile.cap-au.sender-name-missing", "senderName", rec)
    yield from _missing(alert, "profile.cap-au.response-type-missing", "responseType", rec)
    yield from _missing(alert, "profile.cap-au.instruction-missing", "instruction", rec)
    yield from _area_geocodes(
        alert,
        "profile.cap-au.geocode",
        lambda g: g.value_name in _CAP_AU_GEOCODES,
        "this <area> has no <geocode> from a recognised scheme (ISO 3166, G-NAF, postcode, "
        "GA place name)",
    )
    yield from _geocode_only(
        alert, "profile.cap-au.polygon-or-circle", "CAP-AU prefers them to geocodes"
    )
    authorised: set[tuple[str, str]] = set()
    for i, info in enumerate(alert.infos, 1):
        p = _info_path(i)
        listed = {
            (nv.value_name, nv.value)
            for nv in info.event_codes
            if nv.value_name in _CAP_AU_EVENT_LISTS
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


# --- "cap-cp": Canadian Profile ------------------------------------------------------------------


def _check_cap_cp(alert: Alert) -> Iterator[Finding]:
    must = "CAP-CP requires it"
    rec = "CAP-CP strongly recommends it"
    yield from _code(
        alert,
        "profile.cap-cp.code",
        lambda c: c.startswith(_CAP_CP_CODE),
        "profile:CAP-CP:0.4",
        must,
    )
    yield from _no_info(
        alert,
        "profile.cap-cp.info-missing",
        "CAP-CP requires one",
        frozenset({"Alert", "Update", "Cancel"}),
    )
    yield from _differs(
        alert,
        "profile.cap-cp.event-codes-differ",
        "<eventCode>s",
        _event_codes,
        "CAP-CP allows one event",
    )
    yield from _no_area(alert, "profile.cap-cp.area-missing", must)
    yield from _area_geocodes(
        alert,
        "profile.cap-cp.location-geocode",
        lambda g: g.value_name.startswith(_CAP_CP_LOCATION),
        'this <area> has no <geocode> "profile:CAP-CP:Location:0.3" (Statistics Canada SGC code); '
        "CAP-CP requires one for areas in Canada",
    )
    yield from _missing(alert, "profile.cap-cp.expires-missing", "expires", rec)
    yield from _missing(alert, "profile.cap-cp.sender-name-missing", "senderName", rec)
    yield from _missing(alert, "profile.cap-cp.response-type-missing", "responseType", rec)
    yield from _missing(alert, "profile.cap-cp.instruction-missing", "instruction", rec)
    yield from _geocode_only(
        alert, "profile.cap-cp.polygon-or-circle", "CAP-CP prefers them to geocodes"
    )
    for i, info in enumerate(alert.infos, 1):
        p = _info_path(i)
        if not any(nv.value_name.startswith(_CAP_CP_EVENT) for nv in info.event_codes):
            yield Finding(
                "profile.cap-cp.event-code",
                'no <eventCode> "profile:CAP-CP:Event:0.4" from the CAP-CP event list; '
                "CAP-CP requires one",
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


PROFILES: dict[str, Callable[[Alert], Iterator[Finding]]] = {
    "cap": _check_cap,
    "google": _check_google,
    "ipaws": _check_ipaws,
    "cap-au": _check_cap_au,
    "cap-cp": _check_cap_cp,
}


def check_profiles(alert: Alert, profiles: Sequence[str]) -> list[Finding]:
    """Warnings for `alert` under each named profile (see PROFILES), in the order given."""
    unknown = [p for p in profiles if p not in PROFILES]
    if unknown:
        raise ValueError(f"unknown CAP profile {', '.join(unknown)}; known: {', '.join(PROFILES)}")
    out: list[Finding] = []
    for name in dict.fromkeys(profiles):  # each profile once, order kept
        out.extend(PROFILES[name](alert))
    return out
