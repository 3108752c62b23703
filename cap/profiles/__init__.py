"""CAP profiles: the specification's recommendations and the common national/platform profiles.

Every profile finding is a warning: a message can be valid CAP and still fall short of what a
profile asks. Profiles, selected by name, one module each:

- "cap": the SHOULDs and recommendations of CAP 1.2 itself (`specification`);
- "google": Google Public Alerts CAP requirements (`google`);
- "ipaws": CAP v1.2 USA IPAWS Profile v1.0 (`ipaws`);
- "cap-au": CAP-AU-STD, the Australian profile (`cap_au`);
- "cap-cp": CAP-CP, the Canadian profile (`cap_cp`).

Rule ids are "profile.<profile>.<rule>"; all of them are in `PROFILE_RULES` (and, through
`cap.rules`, in the one registry of every rule).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from cap.errors import Finding, Rule
from cap.model import Alert
from cap.profiles import cap_au, cap_cp, google, ipaws, specification

PROFILES: dict[str, Callable[[Alert], Iterator[Finding]]] = {
    "cap": specification.check,
    "google": google.check,
    "ipaws": ipaws.check,
    "cap-au": cap_au.check,
    "cap-cp": cap_cp.check,
}

PROFILE_RULES: list[Rule] = [
    *specification.RULES,
    *google.RULES,
    *ipaws.RULES,
    *cap_au.RULES,
    *cap_cp.RULES,
]


def check_profiles(alert: Alert, profiles: Sequence[str]) -> list[Finding]:
    """Warnings for `alert` under each named profile (see PROFILES), in the order given."""
    unknown = [p for p in profiles if p not in PROFILES]
    if unknown:
        raise ValueError(f"unknown CAP profile {', '.join(unknown)}; known: {', '.join(PROFILES)}")
    out: list[Finding] = []
    for name in dict.fromkeys(profiles):  # each profile once, order kept
        out.extend(PROFILES[name](alert))
    return out


__all__ = ["PROFILES", "PROFILE_RULES", "check_profiles"]
