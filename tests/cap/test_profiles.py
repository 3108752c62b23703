"""CAP profiles as warnings: CAP's own SHOULDs, Google Public Alerts, IPAWS, CAP-AU, CAP-CP.

The hand-written base message below satisfies every profile at once (it carries each profile's
codes, event codes and geocodes); each case changes one thing and expects exactly the findings
that change should cause, by rule id and path.
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from xml.sax.saxutils import escape

import pytest

import cap
from cap.profiles import PROFILE_RULES, PROFILES, check_profiles
from cap.rules import RULES
from tests.conftest import SHARED

VALID = SHARED / "corpus" / "cap" / "valid"

AU_CODE = "urn:oasis:names:tc:emergency:cap:1.2:profile:CAP-AU:1.0"
AU_EVENTS = "https://govshare.gov.au/xmlui/handle/10772/6495"
AU_ISO = "http://www.iso.org/iso/country_codes.html"
CP_EVENT = "profile:CAP-CP:Event:0.4"
CP_LOCATION = "profile:CAP-CP:Location:0.3"
POLYGON = "45.0,-75.0 45.0,-74.0 46.0,-74.0 46.0,-75.0 45.0,-75.0"

# Every profile's markers at once, so the base conforms to all five profiles.
BASE_EVENT_CODES = [("SAME", "FLW"), (AU_EVENTS, "flood"), (CP_EVENT, "flood")]
BASE_GEOCODES = [("SAME", "048201"), (AU_ISO, "AU-NSW"), (CP_LOCATION, "3537001")]
BASE_AREA: dict[str, Any] = {"polygons": [POLYGON], "geocodes": BASE_GEOCODES}
BASE_INFO: dict[str, Any] = {
    "language": "en-CA",
    "categories": ["Met"],
    "event": "Flood",
    "response_types": ["Prepare"],
    "urgency": "Expected",
    "severity": "Severe",
    "certainty": "Likely",
    "event_codes": BASE_EVENT_CODES,
    "effective": None,
    "expires": "2030-01-02T10:00:00-05:00",
    "sender_name": "Example Weather Service",
    "headline": "Flood warning for Riverside",
    "description": "The river is expected to overflow its banks tonight.",
    "instruction": "Move to higher ground before dark.",
    "web": "https://example.org/alerts/1",
    "contact": "+1 555 0100",
    "parameters": [("EAS-ORG", "WXR")],
    "resources": [],
    "areas": [BASE_AREA],
}
BASE_INFOS = [BASE_INFO, {**BASE_INFO, "language": "fr-CA", "event": "Inondation"}]


def _named(tag: str, pairs: list[tuple[str, str]]) -> str:
    return "".join(
        f"<{tag}><valueName>{escape(n)}</valueName><value>{escape(v)}</value></{tag}>" for n, v in pairs
    )


def _area(polygons: tuple[str, ...] = (), circles: tuple[str, ...] = (), geocodes=()) -> str:
    return (
        "<area><areaDesc>Riverside</areaDesc>"
        + "".join(f"<polygon>{p}</polygon>" for p in polygons)
        + "".join(f"<circle>{c}</circle>" for c in circles)
        + _named("geocode", list(geocodes))
        + "</area>"
    )


def _opt(tag: str, value: str | None) -> str:
    return "" if value is None else f"<{tag}>{escape(value)}</{tag}>"


def _info(d: dict[str, Any]) -> str:
    """One <info> in the CAP 1.2 schema order."""
    resources = "".join(
        f"<resource><resourceDesc>map</resourceDesc><mimeType>image/png</mimeType>"
        f"{_opt('uri', r.get('uri'))}{_opt('derefUri', r.get('deref'))}</resource>"
        for r in d["resources"]
    )
    return (
        f"<info>{_opt('language', d['language'])}"
        + "".join(f"<category>{c}</category>" for c in d["categories"])
        + _opt("event", d["event"])
        + "".join(f"<responseType>{r}</responseType>" for r in d["response_types"])
        + f"<urgency>{d['urgency']}</urgency><severity>{d['severity']}</severity>"
        + f"<certainty>{d['certainty']}</certainty>"
        + _named("eventCode", d["event_codes"])
        + _opt("effective", d["effective"])
        + _opt("expires", d["expires"])
        + _opt("senderName", d["sender_name"])
        + _opt("headline", d["headline"])
        + _opt("description", d["description"])
        + _opt("instruction", d["instruction"])
        + _opt("web", d["web"])
        + _opt("contact", d["contact"])
        + _named("parameter", d["parameters"])
        + resources
        + "".join(_area(**a) for a in d["areas"])
        + "</info>"
    )


def message(
    infos: list[dict[str, Any]] | None = None,
    *,
    first: dict[str, Any] | None = None,
    every: dict[str, Any] | None = None,
    sender: str = "warnings@example.org",
    status: str = "Actual",
    msg_type: str = "Alert",
    scope: str = "Public",
    restriction: str | None = None,
    codes: tuple[str, ...] = ("IPAWSv1.0", AU_CODE, "profile:CAP-CP:0.4"),
    note: str | None = None,
    references: str | None = None,
) -> bytes:
    """The base CAP 1.2 message; `first` changes <info> 1, `every` changes every <info>."""
    blocks = [dict(d) for d in (BASE_INFOS if infos is None else infos)]
    for i, d in enumerate(blocks):
        d.update(every or {})
        if i == 0:
            d.update(first or {})
    xml = (
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
        f"<identifier>EX-1</identifier><sender>{escape(sender)}</sender>"
        f"<sent>2030-01-01T10:00:00-05:00</sent><status>{status}</status>"
        f"<msgType>{msg_type}</msgType><scope>{scope}</scope>"
        + _opt("restriction", restriction)
        + "".join(f"<code>{escape(c)}</code>" for c in codes)
        + _opt("note", note)
        + _opt("references", references)
        + "".join(_info(d) for d in blocks)
        + "</alert>"
    )
    return xml.encode()


def found(data: bytes, profile: str) -> set[tuple[str, str]]:
    """(rule, path) of the warnings `profile` adds when the message is validated."""
    report = cap.validate(data, profiles=[profile])
    assert report.alert is not None, report.errors
    return {(w.rule, w.path) for w in report.warnings if w.rule.startswith(f"profile.{profile}.")}


I1, I2 = "/alert/info[1]", "/alert/info[2]"
REFS = "other@example.org,EX-0,2030-01-01T09:00:00-05:00"
GEOCODE_ONLY = {"areas": [{"geocodes": BASE_GEOCODES}]}
FR = {**BASE_INFO, "language": "fr-CA"}
EARLY = "2030-01-01T09:00:00-05:00"


def case(profile: str, what: str, expected: tuple[str, ...] = (), **change: Any) -> Any:
    """A change to the base message and what `profile` must say: ("rule-name path", ...)."""
    pairs = {(f"profile.{profile}.{e.split()[0]}", e.split()[1]) for e in expected}
    return pytest.param(profile, change, pairs, id=f"{profile}: {what}")


def geo(*geocodes: tuple[str, str]) -> dict[str, Any]:
    """<info> changes giving it one area with a polygon and these geocodes."""
    return {"areas": [{"polygons": [POLYGON], "geocodes": list(geocodes)}]}


def params(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"parameters": list(pairs)}


CASES = [
    # "cap": the specification's own recommendations.
    case("cap", "Alert without info", ("info-missing /alert",), infos=[]),
    case("cap", "Cancel without info", (), infos=[], msg_type="Cancel", references=REFS),
    case("cap", "no expires", (f"expires-missing {I1}",), first={"expires": None}),
    case(
        "cap",
        "expires before sent",
        (f"expires-before-sent {I1}/expires",),
        first={"expires": EARLY},
    ),
    case("cap", "early expires, earlier effective", (), first={"expires": EARLY, "effective": EARLY}),
    case("cap", "headline of 160", (), first={"headline": "x" * 160}),
    case("cap", "headline of 161", (f"headline-length {I1}/headline",), first={"headline": "x" * 161}),
    case("cap", "no senderName", (f"sender-name-missing {I1}",), first={"sender_name": None}),
    case(
        "cap",
        "empty senderName",
        (f"sender-name-missing {I1}/senderName",),
        first={"sender_name": ""},
    ),
    case(
        "cap",
        "no description",
        (f"description-missing {I1}", f"description-missing {I2}"),
        every={"description": None},
    ),
    case(
        "cap",
        "web without scheme",
        (f"web-not-absolute {I1}/web",),
        first={"web": "www.example.org/a"},
    ),
    case(
        "cap",
        "relative resource uri",
        (f"resource-uri-not-absolute {I1}/resource[1]/uri",),
        first={"resources": [{"uri": "maps/1.png"}]},
    ),
    case(
        "cap",
        "relative uri naming a derefUri",
        (),
        first={"resources": [{"uri": "1.png", "deref": "AAAA"}]},
    ),
    case("cap", "geocode-only area", (f"geocode-without-geometry {I1}/area[1]",), first=GEOCODE_ONLY),
    case("cap", "Error without note", ("error-note /alert",), msg_type="Error", references=REFS),
    case("cap", "Error with note", (), msg_type="Error", references=REFS, note="unknown area"),
    case(
        "cap",
        "acronyms not in capitals",
        (
            f"acronym-case {I1}/area[1]/geocode[1]/valueName",
            f"acronym-case {I1}/area[1]/geocode[2]/valueName",
        ),
        first=geo(("same", "048201"), ("F.I.P.S.", "48201")),
    ),
    # "google": Google Public Alerts.
    case("google", "Test status", ("status-not-actual /alert/status",), status="Test"),
    case(
        "google",
        "Restricted scope",
        ("scope-not-public /alert/scope",),
        scope="Restricted",
        restriction="officials",
    ),
    case(
        "google",
        "Cancel without info",
        ("info-missing /alert",),
        infos=[],
        msg_type="Cancel",
        references=REFS,
    ),
    case(
        "google",
        "categories differ",
        (f"categories-differ {I2}",),
        infos=[BASE_INFO, {**FR, "categories": ["Geo"]}],
    ),
    case(
        "google",
        "event codes differ",
        (f"event-codes-differ {I2}",),
        infos=[BASE_INFO, {**FR, "event_codes": BASE_EVENT_CODES[:2]}],
    ),
    case("google", "event of 34 characters", (), first={"event": "e" * 34}),
    case("google", "event of 35 characters", (f"event-length {I1}/event",), first={"event": "e" * 35}),
    case("google", "no description", (f"description-missing {I1}",), first={"description": None}),
    case("google", "empty web", (f"web-missing {I1}/web",), first={"web": ""}),
    case("google", "no expires", (f"expires-missing {I1}",), first={"expires": None}),
    case(
        "google",
        "expires before sent",
        (f"expires-before-sent {I1}/expires",),
        first={"expires": EARLY},
    ),
    case("google", "no area", (f"area-missing {I1}",), first={"areas": []}),
    case(
        "google",
        "area with only a description",
        (f"area-location {I1}/area[2]",),
        first={"areas": [BASE_AREA, {}]},
    ),
    case("google", "no senderName", (f"sender-name-missing {I1}",), first={"sender_name": None}),
    case("google", "no responseType", (f"response-type-missing {I1}",), first={"response_types": []}),
    case("google", "no instruction", (f"instruction-missing {I1}",), first={"instruction": None}),
    case("google", "no contact", (f"contact-missing {I1}",), first={"contact": None}),
    case("google", "headline of 140", (), first={"headline": "h" * 140}),
    case(
        "google",
        "headline of 141",
        (f"headline-length {I1}/headline",),
        first={"headline": "h" * 141},
    ),
    case(
        "google",
        "description repeats headline",
        (f"headline-equals-description {I1}/headline",),
        first={"description": BASE_INFO["headline"]},
    ),
    case(
        "google",
        "instruction repeats description",
        (f"description-equals-instruction {I1}/description",),
        first={"instruction": BASE_INFO["description"]},
    ),
    case(
        "google",
        "Unknown urgency, severity, certainty",
        (
            f"urgency-unknown {I1}/urgency",
            f"severity-unknown {I1}/severity",
            f"certainty-unknown {I1}/certainty",
        ),
        first={"urgency": "Unknown", "severity": "Unknown", "certainty": "Unknown"},
    ),
    case(
        "google",
        "circle of radius 0",
        (f"circle-radius-zero {I1}/area[1]/circle[1]",),
        first={"areas": [{"circles": ["45.5,-74.5 0"]}]},
    ),
    case("google", "geocode-only areas", (f"polygon-or-circle {I1}/area[1]",), first=GEOCODE_ONLY),
    case(
        "google",
        "two events in one language",
        (f"event-differs-same-language {I2}/event",),
        infos=[BASE_INFO, {**BASE_INFO, "event": "Flash flood"}],
    ),
    case(
        "google",
        "empty geocode value",
        (f"geocode-empty {I1}/area[1]/geocode[4]",),
        first=geo(*BASE_GEOCODES, ("UGC", "")),
    ),
    # "ipaws": CAP v1.2 USA IPAWS Profile v1.0.
    case("ipaws", "no IPAWSv1.0 code", ("code /alert",), codes=(AU_CODE,)),
    case(
        "ipaws",
        "Cancel without info",
        ("info-missing /alert",),
        infos=[],
        msg_type="Cancel",
        references=REFS,
    ),
    case("ipaws", "no expires", (f"expires-missing {I1}",), first={"expires": None}),
    case(
        "ipaws",
        "no SAME event code",
        (f"same-event-code {I1}", f"same-event-code {I2}"),
        every={"event_codes": BASE_EVENT_CODES[1:]},
    ),
    case(
        "ipaws",
        "SAME event code of 4 letters",
        (f"same-event-code {I1}", f"same-event-code {I2}"),
        every={"event_codes": [("SAME", "FLWX")]},
    ),
    case(
        "ipaws",
        "two SAME event codes",
        (f"same-event-code {I1}", f"same-event-code {I2}"),
        every={"event_codes": [("SAME", "FLW"), ("SAME", "FFW")]},
    ),
    case(
        "ipaws",
        "event codes and categories differ",
        (f"event-codes-differ {I2}", f"categories-differ {I2}"),
        infos=[BASE_INFO, {**BASE_INFO, "categories": ["Geo"], "event_codes": [("SAME", "FFW")]}],
    ),
    case("ipaws", "no area", (f"area-missing {I1}",), first={"areas": []}),
    case(
        "ipaws",
        "5-digit SAME geocode",
        (f"same-geocode {I1}/area[1]",),
        first=geo(("SAME", "48201")),
    ),
    case("ipaws", "no EAS-ORG", (f"eas-org {I1}",), first=params()),
    case("ipaws", "no EAS-ORG, EAS blocked", (), first=params(("BLOCKCHANNEL", "EAS"))),
    case(
        "ipaws",
        "EAS-ORG not an originator",
        (f"eas-org-value {I1}/parameter[1]",),
        first=params(("EAS-ORG", "NWS")),
    ),
    case(
        "ipaws",
        "WEA without CMAMtext",
        (f"cmam-text-missing {I1}",),
        first=params(("EAS-ORG", "CIV"), ("WEAHandling", "Imminent Threat")),
    ),
    case(
        "ipaws",
        "WEA texts at their limits",
        (),
        first=params(("EAS-ORG", "CIV"), ("CMAMtext", "t" * 90), ("CMAMlongtext", "l" * 360)),
    ),
    case(
        "ipaws",
        "WEA texts over their limits",
        (f"cmam-text-length {I1}/parameter[2]", f"cmam-longtext-length {I1}/parameter[3]"),
        first=params(("EAS-ORG", "CIV"), ("CMAMtext", "t" * 91), ("CMAMlongtext", "l" * 361)),
    ),
    case(
        "ipaws",
        "unknown BLOCKCHANNEL",
        (f"blockchannel-value {I1}/parameter[2]",),
        first=params(("EAS-ORG", "CIV"), ("BLOCKCHANNEL", "SMS")),
    ),
    case("ipaws", "no description", (f"description-missing {I1}",), first={"description": None}),
    case("ipaws", "no instruction", (f"instruction-missing {I1}",), first={"instruction": None}),
    # "cap-au": CAP-AU-STD.
    case("cap-au", "no CAP-AU code", ("code /alert",), codes=("IPAWSv1.0",)),
    case(
        "cap-au",
        "Update without info",
        ("info-missing /alert",),
        infos=[],
        msg_type="Update",
        references=REFS,
    ),
    case(
        "cap-au",
        "no AUeventLIST code",
        (f"event-code {I1}", f"event-codes-differ {I2}"),
        first={"event_codes": [("SAME", "FLW"), ("local", "flood")]},
    ),
    case(
        "cap-au",
        "two AUeventLIST events",
        ("event-code-single /alert",),
        every={"event_codes": [(AU_EVENTS, "flood"), (AU_EVENTS, "storm")]},
    ),
    case(
        "cap-au",
        "categories differ",
        (f"categories-differ {I2}",),
        infos=[BASE_INFO, {**FR, "categories": ["Geo"]}],
    ),
    case(
        "cap-au",
        "two events in one language",
        (f"event-differs-same-language {I2}/event",),
        infos=[BASE_INFO, {**BASE_INFO, "event": "Flash flood"}],
    ),
    case(
        "cap-au",
        "Cancel with effective",
        (f"effective-with-cancel {I1}/effective",),
        msg_type="Cancel",
        references=REFS,
        first={"effective": "2030-01-01T10:00:00-05:00"},
    ),
    case("cap-au", "no area", (f"area-missing {I1}",), first={"areas": []}),
    case("cap-au", "sender not an address", ("sender-email /alert/sender",), sender="bom.gov.au"),
    case("cap-au", "Test status", ("status-test /alert/status",), status="Test"),
    case("cap-au", "Exercise status", (), status="Exercise"),
    case("cap-au", "no expires", (f"expires-missing {I1}",), first={"expires": None}),
    case("cap-au", "no senderName", (f"sender-name-missing {I1}",), first={"sender_name": None}),
    case("cap-au", "no responseType", (f"response-type-missing {I1}",), first={"response_types": []}),
    case("cap-au", "no instruction", (f"instruction-missing {I1}",), first={"instruction": None}),
    case("cap-au", "no recognised geocode", (f"geocode {I1}/area[1]",), first=geo(("SAME", "048201"))),
    case("cap-au", "geocode-only areas", (f"polygon-or-circle {I1}/area[1]",), first=GEOCODE_ONLY),
    # "cap-cp": Canadian Profile.
    case("cap-cp", "no CAP-CP code", ("code /alert",), codes=("IPAWSv1.0",)),
    case("cap-cp", "Alert without info", ("info-missing /alert",), infos=[]),
    case("cap-cp", "Ack without info", (), infos=[], msg_type="Ack", references=REFS),
    case(
        "cap-cp",
        "French info without CAP-CP event",
        (f"event-code {I2}", f"event-codes-differ {I2}"),
        infos=[BASE_INFO, {**FR, "event_codes": [("SAME", "FLW")]}],
    ),
    case("cap-cp", "no area", (f"area-missing {I1}",), first={"areas": []}),
    case(
        "cap-cp",
        "area without CAP-CP location",
        (f"location-geocode {I1}/area[2]",),
        first={"areas": [BASE_AREA, geo(("layer:EC:1.0:CLC", "003380"))["areas"][0]]},
    ),
    case(
        "cap-cp",
        "location not an SGC code",
        (f"location-format {I1}/area[1]/geocode[1]",),
        first=geo((CP_LOCATION, "35370")),
    ),
    case("cap-cp", "English only", ("languages /alert",), infos=[BASE_INFO]),
    case("cap-cp", "no expires", (f"expires-missing {I1}",), first={"expires": None}),
    case("cap-cp", "no senderName", (f"sender-name-missing {I1}",), first={"sender_name": None}),
    case("cap-cp", "no responseType", (f"response-type-missing {I1}",), first={"response_types": []}),
    case("cap-cp", "no instruction", (f"instruction-missing {I1}",), first={"instruction": None}),
    case("cap-cp", "geocode-only areas", (f"polygon-or-circle {I1}/area[1]",), first=GEOCODE_ONLY),
]


@pytest.mark.parametrize("profile", list(PROFILES))
def test_base_message_satisfies_every_profile(profile: str) -> None:
    report = cap.validate(message(), profiles=[profile])
    assert report.valid, report.errors
    assert report.warnings == []


@pytest.mark.parametrize(("profile", "change", "expected"), CASES)
def test_profile_finds_exactly_what_the_change_breaks(
    profile: str, change: dict[str, Any], expected: set[tuple[str, str]]
) -> None:
    assert found(message(**change), profile) == expected


def test_every_profile_rule_is_reached_by_a_case() -> None:
    reached = {rule for c in CASES for rule, _ in c.values[2]}
    assert reached == {r.id for r in PROFILE_RULES}


def test_profile_rules_are_registered_non_fatal_warnings() -> None:
    ids = [r.id for r in PROFILE_RULES]
    assert len(ids) == len(set(ids))
    core = {rid for rid in RULES if not rid.startswith("profile.")}
    assert not set(ids) & core
    for rule in PROFILE_RULES:
        assert RULES[rule.id] is rule
        assert rule.level == "warning" and not rule.fatal
        assert rule.id.split(".")[1] in PROFILES, rule.id
        assert rule.summary and rule.clause


def test_profile_warnings_keep_the_message_valid() -> None:
    report = cap.validate(message(first={"expires": None, "web": None}), profiles=["google", "cap"])
    assert report.valid and report.ingestible
    assert report.errors == []
    rules = [w.rule for w in report.warnings]
    assert rules == [
        "profile.google.web-missing",
        "profile.google.expires-missing",
        "profile.cap.expires-missing",
    ]
    message_text = report.warnings[1].message
    assert "<expires>" in message_text and "Google Public Alerts" in message_text


def test_no_profile_means_no_profile_warnings() -> None:
    report = cap.validate(message(first={"expires": None, "web": None}))
    assert not [w for w in report.warnings if w.rule.startswith("profile.")]


def test_profiles_are_applied_once_each_in_the_order_given() -> None:
    alert = cap.parse(message(codes=()))
    rules = [f.rule for f in check_profiles(alert, ["cap-cp", "ipaws", "cap-cp"])]
    assert rules == ["profile.cap-cp.code", "profile.ipaws.code"]


def test_unknown_profile_is_refused_by_name() -> None:
    alert = cap.parse(message())
    with pytest.raises(ValueError, match=r"unknown CAP profile nz.*known: cap, google"):
        check_profiles(alert, ["google", "nz"])


def test_cap10_acronym_path_stops_at_the_element() -> None:
    # CAP 1.0 writes "valueName=value" as text: there is no <valueName> child to point at.
    data = (
        b'<alert xmlns="http://www.incident.com/cap/1.0"><identifier>X</identifier>'
        b"<sender>a@b.org</sender><sent>2003-06-17T14:57:00-07:00</sent><status>Actual</status>"
        b"<msgType>Alert</msgType><scope>Public</scope><info><category>Met</category>"
        b"<event>SEVERE THUNDERSTORM</event><urgency>Immediate</urgency><severity>Severe</severity>"
        b"<certainty>Likely</certainty><eventCode>same=SVR</eventCode></info></alert>"
    )
    assert ("profile.cap.acronym-case", "/alert/info[1]/eventCode[1]") in found(data, "cap")


# --- the public corpus ---------------------------------------------------------------------------

CANADA_CAP_CP_04 = ("eccc_canada-update-en-fr.xml", "naads_canada-signed.xml",
                    "pelmorex-naads_wind-update-signed.xml")  # fmt: skip
IPAWS_FILES = ("ipaws_civil-emergency-large-signed.xml", "ipaws_eas-audio-resource-signed.xml",
               "ipaws_rmt-puerto-rico-signed.xml")  # fmt: skip


@pytest.fixture(scope="module")
def corpus_findings() -> dict[str, Counter[tuple[str, str]]]:
    """Per valid corpus file: count of (rule, path) of every profile's warnings."""
    if not VALID.is_dir():
        pytest.skip(f"corpus not found at {VALID}")
    out: dict[str, Counter[tuple[str, str]]] = {}
    for path in sorted(VALID.glob("*.xml")):
        report = cap.validate(path.read_bytes(), profiles=list(PROFILES), verify_signature=False)
        assert report.alert is not None, (path.name, report.errors)
        out[path.name] = Counter((w.rule, w.path) for w in report.warnings if w.rule.startswith("profile."))
    return out


def _rules(c: Counter[tuple[str, str]], profile: str) -> set[str]:
    return {rule for rule, _ in c if rule.startswith(f"profile.{profile}.")}


@pytest.mark.corpus
def test_corpus_profile_summary(corpus_findings: dict[str, Counter[tuple[str, str]]]) -> None:
    width = max(len(n) for n in corpus_findings)
    print("\n" + "file".ljust(width) + "".join(f"{p:>8}" for p in PROFILES))
    totals = Counter[str]()
    for name, c in corpus_findings.items():
        row = {p: sum(n for (r, _), n in c.items() if r.startswith(f"profile.{p}.")) for p in PROFILES}
        totals.update(row)
        print(name.ljust(width) + "".join(f"{row[p]:>8}" for p in PROFILES))
    print("total".ljust(width) + "".join(f"{totals[p]:>8}" for p in PROFILES))
    assert len(corpus_findings) >= 30


@pytest.mark.corpus
def test_corpus_ipaws_messages_meet_the_ipaws_profile(corpus_findings) -> None:
    for name in IPAWS_FILES:
        # They carry IPAWSv1.0, one SAME event code, EAS-ORG, SAME geocodes and <expires>;
        # the one thing they leave out is <instruction>.
        assert _rules(corpus_findings[name], "ipaws") == {"profile.ipaws.instruction-missing"}, name
    # The AtHoc Cancel goes without <info>, which the profile's schema requires.
    assert _rules(corpus_findings["athoc_cancel-no-info-signed.xml"], "ipaws") == {
        "profile.ipaws.info-missing"
    }


@pytest.mark.corpus
def test_corpus_canadian_messages_meet_the_cap_cp_profile(corpus_findings) -> None:
    structural = {"code", "event-code", "location-geocode", "location-format", "languages",
                  "event-codes-differ", "area-missing", "info-missing"}  # fmt: skip
    for name in CANADA_CAP_CP_04:
        got = {r.split(".")[2] for r in _rules(corpus_findings[name], "cap-cp")}
        assert not got & structural, (name, got)
    # The older CAP 1.1 Environment Canada message names CAP-CP 1.0 but places its 8 areas by the
    # EC CLC code only, not by CAP-CP Location.
    cap11 = corpus_findings["eccc_canada-cap11-8areas.xml"]
    assert _rules(cap11, "cap-cp") == {"profile.cap-cp.location-geocode"}
    assert sum(n for (r, _), n in cap11.items() if r == "profile.cap-cp.location-geocode") == 8


@pytest.mark.corpus
def test_corpus_australian_messages_meet_the_cap_au_profile(corpus_findings) -> None:
    assert _rules(corpus_findings["nsw-rfs_australia-2info-circles.xml"], "cap-au") == set()
    bom = _rules(corpus_findings["bom_australia-amoc.xml"], "cap-au")
    assert not bom & {"profile.cap-au.code", "profile.cap-au.event-code", "profile.cap-au.geocode"}
    # The BoM headline is 180 characters: over CAP's 160 target and Google's 140.
    assert ("profile.cap.headline-length", "/alert/info[1]/headline") in corpus_findings[
        "bom_australia-amoc.xml"
    ]
    assert ("profile.google.headline-length", "/alert/info[1]/headline") in corpus_findings[
        "bom_australia-amoc.xml"
    ]


@pytest.mark.corpus
def test_corpus_national_markers_are_absent_from_other_messages(corpus_findings) -> None:
    oasis = corpus_findings["oasis-cap1.2-A2-thunderstorm.xml"]
    for rule in ("profile.ipaws.code", "profile.cap-au.code", "profile.cap-cp.code"):
        assert (rule, "/alert") in oasis
    assert ("profile.cap.info-missing", "/alert") in corpus_findings["usgs_minimal-no-info-cap11.xml"]
