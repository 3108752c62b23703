""" "ipaws": CAP v1.2 USA IPAWS Profile v1.0 (OASIS CS01) and IPAWS-OPEN practice."""

from __future__ import annotations

import re
from collections.abc import Iterator

from cap.errors import Finding
from cap.model import Alert, Info
from cap.profiles.checks import (
    area_geocodes,
    categories,
    code_missing,
    differs,
    event_codes,
    info_path,
    missing,
    no_area,
    no_info,
    profile_rules,
    values_named,
)

_SAME_EVENT_RE = re.compile(r"[A-Z]{3}")
_SAME_LOCATION_RE = re.compile(r"\d{6}")
# 47 CFR §11.31: the SAME originator codes.
_EAS_ORG_CODES = frozenset({"EAS", "CIV", "WXR", "PEP"})
_EAS_ORGS = ", ".join(sorted(_EAS_ORG_CODES))
_BLOCKCHANNELS = frozenset({"CMAS", "EAS", "NWEM", "PUBLIC", "CAPEXCH"})

RULES = profile_rules([
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
])  # fmt: skip


def check(alert: Alert) -> Iterator[Finding]:
    must = "the IPAWS profile requires it"
    yield from code_missing(
        alert,
        "profile.ipaws.code",
        lambda c: c == "IPAWSv1.0",
        "IPAWSv1.0",
        "it names the profile version",
    )
    # The profile's schema makes <info> required (minOccurs 1), whatever the msgType.
    yield from no_info(alert, "profile.ipaws.info-missing", "the IPAWS profile schema requires one", None)
    yield from missing(alert, "profile.ipaws.expires-missing", "expires", must)
    yield from differs(alert, "profile.ipaws.event-codes-differ", "<eventCode>s", event_codes, must)
    yield from differs(alert, "profile.ipaws.categories-differ", "<category> values", categories, must)
    yield from no_area(alert, "profile.ipaws.area-missing", must)
    yield from missing(
        alert, "profile.ipaws.description-missing", "description", "IPAWS messages should have one"
    )
    yield from missing(
        alert, "profile.ipaws.instruction-missing", "instruction", "IPAWS messages should have one"
    )
    yield from area_geocodes(
        alert,
        "profile.ipaws.same-geocode",
        lambda g: g.value_name == "SAME" and bool(_SAME_LOCATION_RE.fullmatch(g.value)),
        'this <area> has no <geocode> "SAME" with a 6-digit SAME location code (extended FIPS)',
    )
    for i, info in enumerate(alert.infos, 1):
        p = info_path(i)
        same = values_named(info.event_codes, "SAME")
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
    blocked = {v.strip().upper() for _, v in values_named(info.parameters, "BLOCKCHANNEL")}
    for k, v in values_named(info.parameters, "BLOCKCHANNEL"):
        if v.strip().upper() not in _BLOCKCHANNELS:
            yield Finding(
                "profile.ipaws.blockchannel-value",
                f'BLOCKCHANNEL "{v}" is not one of {", ".join(sorted(_BLOCKCHANNELS))}',
                f"{p}/parameter[{k}]",
            )
    eas_org = values_named(info.parameters, "EAS-ORG")
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
    cmam = values_named(info.parameters, "CMAMtext")
    # WEAHandling (Imminent Threat, Presidential, ...) marks a message meant for WEA (CMAS).
    if not cmam and values_named(info.parameters, "WEAHandling") and "CMAS" not in blocked:
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
        for k, v in values_named(info.parameters, name):
            if len(v) > limit:
                yield Finding(
                    rule,
                    f"{name} is {len(v)} characters; Wireless Emergency Alerts carry at most {limit}",
                    f"{p}/parameter[{k}]",
                )
