"""Network status reports as posted: JSON checked rule by rule, turned into geo values.

A report says that from `time` on, the named cell sites and/or every site inside an area are
up, degraded or down. The area is RFC 7946 geometry (Polygon or MultiPolygon, positions
lon,lat) or a geodesic circle {"circle": {"lat", "lon", "radius_km"}}. Every refusal names its
rule (network.*, or geo.circle.* from `geo.areas`) and its place as a JSON pointer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shapely.geometry.base import BaseGeometry

from cap.errors import Finding
from cap.model import Area, Circle
from geo.areas import area_geometry, geometry_to_geojson
from geo.geojson import MULTI_POLYGON, POLYGON, read_geometry
from geo.layers import RADIOS, SiteKey, SiteState
from service.errors import Invalid
from service.http import parse_json

# Bounds on what one report may carry: a country's worth of named sites, and polygons as
# detailed as an admin-1 boundary (more vertices only cost time in every later point test).
MAX_SITES = 10_000
MAX_VERTICES = 20_000
MAX_NOTE = 1000
# A report may be backdated freely; a time ahead of our clock by more than this is a mistake.
CLOCK_SKEW = timedelta(minutes=5)

STATES = tuple(s.value for s in SiteState)
FIELDS = frozenset({"state", "time", "sites", "area", "note"})
_SITE_RANGES = {
    "mcc": (0, 999),
    "net": (0, 999),
    "area": (0, 2**32 - 1),
    "cell": (0, 2**63 - 1),
}


@dataclass(frozen=True, slots=True)
class StatusInput:
    """A checked report: its time and state, the named sites, and the area as geometry and as
    RFC 7946 GeoJSON (a circle already drawn as a polygon)."""

    time: datetime
    state: SiteState
    sites: tuple[SiteKey, ...]
    area: BaseGeometry | None
    area_json: dict[str, Any] | None
    note: str | None


def parse_status_request(raw: bytes, *, now: datetime) -> StatusInput:
    """Check a posted report; raises `Invalid` listing every broken rule found."""
    body = parse_json(raw, rule="network.body.json")
    if not isinstance(body, dict):
        raise Invalid.one("network.body.object", "the body must be a JSON object")
    findings: list[Finding] = [
        Finding("network.body.unknown-field", f"unknown field {key!r} (one of {sorted(FIELDS)})", f"/{key}")
        for key in body
        if key not in FIELDS
    ]
    state = _state(body.get("state"), findings)
    time = _time(body.get("time"), now, findings)
    sites = _sites(body.get("sites"), findings)
    area, area_json = _area(body.get("area"), findings)
    note = body.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        findings.append(
            Finding("network.note.invalid", f"note is text of at most {MAX_NOTE} characters", "/note")
        )
    if not sites and area is None and not any(f.path.startswith(("/sites", "/area")) for f in findings):
        findings.append(Finding("network.report.empty", "a report names sites, an area, or both", "/"))
    if findings or state is None or time is None:
        raise Invalid(findings or [Finding("network.body.invalid", "the report is not usable")])
    return StatusInput(time=time, state=state, sites=sites, area=area, area_json=area_json, note=note)


def _state(value: Any, findings: list[Finding]) -> SiteState | None:
    if value in STATES:
        return SiteState(value)
    problem = "is missing" if value is None else f"is {value!r}"
    findings.append(
        Finding("network.state.invalid", f"state {problem}; one of {', '.join(STATES)}", "/state")
    )
    return None


def _time(value: Any, now: datetime, findings: list[Finding]) -> datetime | None:
    if value is None:
        return now
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None:
        findings.append(Finding("network.time.format", f"time must be ISO 8601, got {value!r}", "/time"))
        return None
    if when.tzinfo is None:
        findings.append(
            Finding("network.time.no-offset", "time needs a UTC offset (e.g. +00:00 or Z)", "/time")
        )
        return None
    try:
        when = when.astimezone(UTC)
    except OverflowError:
        findings.append(
            Finding("network.time.range", f"time {value} is outside the years 1 to 9999 in UTC", "/time")
        )
        return None
    if when > now + CLOCK_SKEW:
        findings.append(
            Finding(
                "network.time.future",
                f"time {value} is ahead of the service clock ({now:%Y-%m-%dT%H:%M:%SZ})",
                "/time",
            )
        )
        return None
    return when


def _sites(value: Any, findings: list[Finding]) -> tuple[SiteKey, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        findings.append(Finding("network.sites.type", "sites must be a list of site objects", "/sites"))
        return ()
    if len(value) > MAX_SITES:
        findings.append(
            Finding("network.sites.too-many", f"{len(value)} sites; at most {MAX_SITES} per report", "/sites")
        )
        return ()
    keys: list[SiteKey] = []
    for i, site in enumerate(value):
        place = f"/sites/{i}"
        if not isinstance(site, dict):
            findings.append(
                Finding("network.site.type", "a site is an object {radio, mcc, net, area, cell}", place)
            )
            continue
        radio = site.get("radio")
        ok = True
        if radio not in RADIOS:
            findings.append(
                Finding(
                    "network.site.radio",
                    f"radio {radio!r} is not one of {', '.join(RADIOS)}",
                    f"{place}/radio",
                )
            )
            ok = False
        numbers: dict[str, int] = {}
        for name, (low, high) in _SITE_RANGES.items():
            number = site.get(name)
            if not isinstance(number, int) or isinstance(number, bool) or not low <= number <= high:
                findings.append(
                    Finding(
                        "network.site.field",
                        f"{name} must be an integer in [{low}, {high}], got {number!r}",
                        f"{place}/{name}",
                    )
                )
                ok = False
            else:
                numbers[name] = number
        extra = set(site) - {"radio", *_SITE_RANGES}
        if extra:
            findings.append(Finding("network.site.unknown-field", f"unknown field(s) {sorted(extra)}", place))
            ok = False
        if ok:
            keys.append(SiteKey(radio=str(radio), **numbers))
        if len(findings) > 50:
            break  # enough to fix the first mistakes; do not build a huge error body
    return tuple(dict.fromkeys(keys))


# --- areas ---------------------------------------------------------------------------------------


def _area(value: Any, findings: list[Finding]) -> tuple[BaseGeometry | None, dict[str, Any] | None]:
    if value is None:
        return None, None
    if not isinstance(value, dict):
        findings.append(
            Finding("network.area.type", "area must be a GeoJSON Polygon/MultiPolygon or a circle", "/area")
        )
        return None, None
    if "circle" in value:
        geometry = _circle(value, findings)
    elif value.get("type") in (POLYGON, MULTI_POLYGON):
        geometry = read_geometry(
            value,
            findings,
            path="/area",
            rule="network.area",
            kinds=(POLYGON, MULTI_POLYGON),
            max_vertices=MAX_VERTICES,
        )
    else:
        findings.append(
            Finding(
                "network.area.type",
                f"area type {value.get('type')!r}: give a GeoJSON Polygon or MultiPolygon (RFC 7946 §3.1.6), "
                'or {"circle": {"lat", "lon", "radius_km"}}',
                "/area",
            )
        )
        return None, None
    if geometry is None:
        return None, None
    return geometry, geometry_to_geojson(geometry)


def _circle(value: dict[str, Any], findings: list[Finding]) -> BaseGeometry | None:
    circle = value["circle"]
    numbers: dict[str, float] = {}
    for name in ("lat", "lon", "radius_km"):
        number = circle.get(name) if isinstance(circle, dict) else None
        if not isinstance(number, int | float) or isinstance(number, bool):
            findings.append(
                Finding("network.circle.field", f"{name} must be a number", f"/area/circle/{name}")
            )
        else:
            numbers[name] = float(number)
    if len(numbers) < 3:
        return None
    if numbers["radius_km"] <= 0:
        findings.append(
            Finding(
                "network.circle.radius",
                "radius_km must be above 0 (a point holds no site)",
                "/area/circle/radius_km",
            )
        )
        return None
    # The same geodesic circle (and the same geo.circle.* rules) as a CAP <circle>.
    drawn = area_geometry(Area(area_desc="status", circles=[Circle(**numbers)]), path="/area")
    if drawn.findings:
        findings.extend(Finding(f.rule, f.message, "/area/circle") for f in drawn.findings)
        return None
    return drawn.geometry
