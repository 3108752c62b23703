"""Common Alerting Protocol (CAP 1.0, 1.1, 1.2; ITU-T X.1303): model, hardened parsing, validation."""

from cap.api import check_alert_element, parse, validate
from cap.errors import CapError, Finding
from cap.limits import DEFAULT_LIMITS, Limits
from cap.model import Alert, Area, Circle, Info, NamedValue, Polygon, Reference, Resource, event_time
from cap.report import Report
from cap.serialize import from_json, to_json, to_json_bytes, to_xml
from cap.trust import TrustAnchors

__all__ = [
    "DEFAULT_LIMITS",
    "Alert",
    "Area",
    "CapError",
    "Circle",
    "Finding",
    "Info",
    "Limits",
    "NamedValue",
    "Polygon",
    "Reference",
    "Report",
    "Resource",
    "TrustAnchors",
    "check_alert_element",
    "event_time",
    "from_json",
    "parse",
    "to_json",
    "to_json_bytes",
    "to_xml",
    "validate",
]
