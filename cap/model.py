"""Typed model of a CAP message (CAP 1.2, into which 1.0 and 1.1 are read too)."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, overload

import numpy as np

# The parser builds these positionally (cheaper than keywords on its hot path), so the field
# order below is part of the interface; everyone else may keep using keywords.

# One pair of a polygon as CAP writes it: latitude, longitude (CAP 1.2 §3.2.4).
LatLon = tuple[float, float]

PAIR = struct.Struct("2d")  # one (lat, lon) pair of a polygon's float64 buffer


class Polygon(Sequence[LatLon]):
    """A polygon as CAP writes it: (lat, lon) pairs, first equal to last (CAP 1.2 §3.2.4), held
    as one buffer of float64 numbers lat, lon, lat, lon...

    National boundaries run to tens of thousands of pairs (41,009 for Burkina Faso): a tuple of
    two float objects per pair was most of the time reading one took, so the pairs stay in the
    buffer the parser read them into. A pair becomes a tuple only when asked for (indexing,
    iterating); `array` and `tolist` hand the whole buffer over in C. A Polygon compares equal to
    any sequence of the same pairs, a tuple of tuples included, and hashes like that tuple.
    """

    __slots__ = ("_data",)

    def __init__(self, pairs: Iterable[LatLon] = ()) -> None:
        # Each pair unpacked: a pair of anything but two numbers fails here, not later.
        flat = [float(v) for lat, lon in pairs for v in (lat, lon)]
        self._data = struct.pack(f"{len(flat)}d", *flat)

    @classmethod
    def from_buffer(cls, data: bytes) -> Polygon:
        """The polygon of `data`: float64 numbers in native byte order, lat, lon, lat, lon..."""
        if len(data) % PAIR.size:
            raise ValueError(f"{len(data)} bytes are not whole (lat, lon) float64 pairs")
        polygon = cls.__new__(cls)
        polygon._data = bytes(data)  # no copy when `data` is bytes already
        return polygon

    @property
    def buffer(self) -> bytes:
        """The float64 numbers lat, lon, lat, lon... (native byte order)."""
        return self._data

    @property
    def array(self) -> np.ndarray:
        """The pairs as a read-only n x 2 float64 array (columns lat, lon) over the buffer."""
        return np.frombuffer(self._data).reshape(-1, 2)

    def tolist(self) -> list[list[float]]:
        """[[lat, lon], ...]: the JSON form, built in C."""
        result: list[list[float]] = self.array.tolist()
        return result

    def __len__(self) -> int:
        return len(self._data) // PAIR.size

    @overload
    def __getitem__(self, index: int) -> LatLon: ...

    @overload
    def __getitem__(self, index: slice) -> Polygon: ...

    def __getitem__(self, index: int | slice) -> LatLon | Polygon:
        if isinstance(index, slice):
            return Polygon.from_buffer(self.array[index].tobytes())
        n = len(self)
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise IndexError("polygon index out of range")
        pair: LatLon = PAIR.unpack_from(self._data, i * PAIR.size)
        return pair

    def __iter__(self) -> Iterator[LatLon]:
        return PAIR.iter_unpack(self._data)  # type: ignore[return-value]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Polygon):
            # Equal bytes are equal numbers; different bytes may still be (0.0 and -0.0).
            return self._data == other._data or (
                len(self._data) == len(other._data) and bool(np.array_equal(self.array, other.array))
            )
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))  # as the tuple of the same pairs, which compares equal

    def __repr__(self) -> str:
        return f"Polygon({list(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Polygon.from_buffer, (self._data,))


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
    # Any sequence of (lat, lon) pairs; what the library reads is a `Polygon`.
    polygons: list[Sequence[LatLon]] = field(default_factory=list)
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
