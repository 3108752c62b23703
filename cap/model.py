"""Typed model of a CAP message (CAP 1.2, into which 1.0 and 1.1 are read too)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# The parser builds these positionally (cheaper than keywords on its hot path), so the field
# order below is part of the interface; everyone else may keep using keywords.

# A polygon as CAP writes it: (lat, lon) pairs, first equal to last (CAP 1.2 §3.2.4).
LatLon = tuple[float, float]


@dataclass(slots=True)
class NamedValue:
    """A valueName/value pair: eventCode, parameter and geocode (CAP 1.2 §3.2.2, §3.2.4)."""

    value_name: str
    value: str


@dataclass(slots=True)
class Reference:
    """One entry of <references>: the sender, identifier and sent of an earlier message."""

    sender: str
    identifier: str
    sent: datetime


@dataclass(slots=True)
class Circle:
    """A circle: centre in WGS 84 and radius in kilometres (CAP 1.2 §3.2.4)."""

    lat: float
    lon: float
    radius_km: float


@dataclass(slots=True)
class Area:
    """One <area>: a description with polygons, circles and geocodes."""

    area_desc: str
    polygons: list[tuple[LatLon, ...]] = field(default_factory=list)
    circles: list[Circle] = field(default_factory=list)
    geocodes: list[NamedValue] = field(default_factory=list)
    altitude: float | None = None
    ceiling: float | None = None


@dataclass(slots=True)
class Resource:
    """One <resource>: a file that supplements the info (CAP 1.2 §3.2.3)."""

    resource_desc: str
    mime_type: str
    size: int | None = None
    uri: str | None = None
    deref_uri: str | None = None
    digest: str | None = None


@dataclass(slots=True)
class Info:
    """One <info> block: the event, its urgency, severity, certainty and areas."""

    language: str = "en-US"
    categories: list[str] = field(default_factory=list)
    event: str = ""
    response_types: list[str] = field(default_factory=list)
    urgency: str = ""
    severity: str = ""
    certainty: str = ""
    audience: str | None = None
    event_codes: list[NamedValue] = field(default_factory=list)
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    sender_name: str | None = None
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    web: str | None = None
    contact: str | None = None
    parameters: list[NamedValue] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    areas: list[Area] = field(default_factory=list)


@dataclass(slots=True)
class Alert:
    """A CAP <alert>. `version` is the CAP version it was read from ("1.0", "1.1", "1.2")."""

    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    version: str = "1.2"
    source: str | None = None
    restriction: str | None = None
    addresses: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    note: str | None = None
    references: list[Reference] = field(default_factory=list)
    incidents: list[str] = field(default_factory=list)
    infos: list[Info] = field(default_factory=list)
    # CAP 1.0 only: <password> (removed in 1.1); kept so nothing read is dropped.
    password: str | None = None

    @property
    def key(self) -> tuple[str, str, datetime]:
        """The (sender, identifier, sent) triple that names this message (CAP 1.2 §3.2.1)."""
        return (self.sender, self.identifier, self.sent)


def event_time(alert: Alert) -> datetime:
    """When the alerted event happens: the <onset>, else the <effective>, of the first <info>
    that gives either; else the message's <sent>.

    CAP 1.2 §3.2.2: <onset> is "the expected time of the beginning of the subject event";
    without <effective>, "the effective time SHALL be assumed to be the same as in <sent>".
    """
    for info in alert.infos:
        when = info.onset or info.effective
        if when is not None:
            return when
    return alert.sent
