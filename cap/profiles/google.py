""" "google": Google Public Alerts CAP requirements (developers.google.com/public-alerts)."""

from __future__ import annotations

from collections.abc import Iterator

from cap.errors import Finding
from cap.model import Alert
from cap.profiles.checks import (
    categories,
    differs,
    event_codes,
    event_per_language,
    expires_before_sent,
    geocode_only,
    headline_length,
    info_path,
    missing,
    no_area,
    no_info,
    profile_rules,
    status_test,
)

RULES = profile_rules([
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
])  # fmt: skip


def check(alert: Alert) -> Iterator[Finding]:
    req = "Google Public Alerts requires it"
    rec = "Google Public Alerts strongly recommends it"
    yield from status_test(
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
    yield from no_info(alert, "profile.google.info-missing", "at least one is required", None)
    yield from differs(alert, "profile.google.categories-differ", "<category> values", categories, req)
    yield from differs(alert, "profile.google.event-codes-differ", "<eventCode>s", event_codes, req)
    yield from missing(alert, "profile.google.description-missing", "description", req)
    yield from missing(alert, "profile.google.web-missing", "web", req)
    yield from missing(alert, "profile.google.expires-missing", "expires", req)
    yield from expires_before_sent(alert, "profile.google.expires-before-sent", req + " to be later")
    yield from no_area(alert, "profile.google.area-missing", req)
    yield from missing(alert, "profile.google.sender-name-missing", "senderName", rec)
    yield from missing(alert, "profile.google.response-type-missing", "responseType", rec)
    yield from missing(alert, "profile.google.instruction-missing", "instruction", rec)
    yield from missing(
        alert, "profile.google.contact-missing", "contact", "Google Public Alerts recommends it"
    )
    yield from headline_length(alert, "profile.google.headline-length", 140, "Google Public Alerts asks for")
    yield from event_per_language(
        alert,
        "profile.google.event-differs-same-language",
        "Google Public Alerts expects one event",
    )
    yield from geocode_only(
        alert,
        "profile.google.polygon-or-circle",
        "Google Public Alerts encourages them as more accurate than geocodes",
    )
    for i, info in enumerate(alert.infos, 1):
        p = info_path(i)
        if len(info.event) >= 35:
            yield Finding(
                "profile.google.event-length",
                f"<event> is {len(info.event)} characters; Google Public Alerts asks for fewer than 35",
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
                    "<area> has no <polygon>, <circle> or <geocode>; Google Public Alerts needs one",
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
