"""Typed model of a CAP message (CAP 1.2, into which 1.0 and 1.1 are read too)."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import overload

# The parser builds these positionally (cheaper than keywords on its hot path), so the field
# order below is part of the interface; everyone else may keep using keywords.

# One vertex as CAP writes it: latitude, longitude in WGS 84 decimal degrees (CAP 1.2 §3.2.4).
LatLon = tuple[float, float]

_PAIR_BYTES = 16  # two float64


class Polygon(Sequence[LatLon]):
    """A CAP polygon: (lat, lon) pairs, the first equal to the last (CAP 1.2 §3.2.4).

    A sequence of (lat, lon) tuples that holds its numbers as one immutable buffer of float64
    (lat, lon, lat, lon...): national boundaries run to tens of thousands of pairs, and a tuple
    per pair cost more to build than reading the numbers (and gave the garbage collector tens
    of thousands of objects to visit). `values` hands the buffer to numpy without a copy
    (`numpy.frombuffer(polygon.values)`). It compares equal to the tuple of its pairs.
    """

    __slots__ = ("_data",)

    def __init__(self, pairs: Iterable[LatLon] = ()) -> None:
        flat = [float(v) for lat, lon in pairs for v in (lat, lon)]
        self._data = struct.pack(f"{len(flat)}d", *flat)

    @classmethod
    def from_values(cls, values: Sequence[float]) -> Polygon:
        """The polygon of lat, lon, lat, lon... (an even number of floats)."""
        return cls.from_buffer(struct.pack(f"{len(values)}d", *values))

    @classmethod
    def from_buffer(cls, data: bytes) -> Polygon:
        """The polygon whose lat, lon, lat, lon... are these native float64 bytes (kept, not copied)."""
        if len(data) % _PAIR_BYTES:
            raise ValueError("a polygon needs whole lat, lon pairs of float64")
        polygon = cls.__new__(cls)
        polygon._data = bytes(data)
        return polygon

    @property
    def values(self) -> memoryview[float]:
        """lat, lon, lat, lon... as a read-only float64 buffer."""
        return memoryview(self._data).cast("d")

    def __len__(self) -> int:
        return len(self._data) // _PAIR_BYTES

    @overload
    def __getitem__(self, index: int) -> LatLon: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[LatLon, ...]: ...
    def __getitem__(self, index: int | slice) -> LatLon | tuple[LatLon, ...]:
        if isinstance(index, slice):
            return tuple(self)[index]
        n = len(self)
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise IndexError("polygon index out of range")
        lat, lon = struct.unpack_from("2d", self._data, i * _PAIR_BYTES)
        return (lat, lon)

    def __iter__(self) -> Iterator[LatLon]:
        flat = self.values.tolist()
        return zip(flat[0::2], flat[1::2], strict=True)

    def __eq__(self, other: object) -> bool:
        # As floats compare (0.0 == -0.0), like the tuple of pairs it stands for.
        if isinstance(other, Polygon):
            return self.values.tolist() == other.values.tolist()
        if isinstance(other, tuple):
            return tuple(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"Polygon({list(self)!r})"

    def __reduce__(self) -> tuple[object, ...]:
        return (Polygon.from_values, (self.values.tolist(),))


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
    polygons: list[Polygon] = field(default_factory=list)
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
