"""Common Alerting Protocol (CAP 1.0, 1.1, 1.2; ITU-T X.1303): model, hardened parsing, validation."""

from cap.errors import CapError, Finding
from cap.model import Alert, Area, Circle, Info, NamedValue, Reference, Resource

__all__ = [
    "Alert",
    "Area",
    "CapError",
    "Circle",
    "Finding",
    "Info",
    "NamedValue",
    "Reference",
    "Resource",
]
