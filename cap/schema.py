"""The structure of CAP 1.0, 1.1 and 1.2 as the official OASIS schemas define it.

These are the content models (element order and occurrence) and the enumerations of the three
XSDs, written as data so that one walk of the document checks them and can say, in a person's
words, which rule broke where. The XSD files themselves are not shipped.
"""

from __future__ import annotations

from dataclasses import dataclass

NS_10 = "http://www.incident.com/cap/1.0"
NS_11 = "urn:oasis:names:tc:emergency:cap:1.1"
NS_12 = "urn:oasis:names:tc:emergency:cap:1.2"
NS_DSIG = "http://www.w3.org/2000/09/xmldsig#"
VERSION_OF_NS = {NS_10: "1.0", NS_11: "1.1", NS_12: "1.2"}

U = 1 << 30  # maxOccurs="unbounded"

# A content model: the xs:sequence as (element, minOccurs, maxOccurs) in order.
Model = tuple[tuple[str, int, int], ...]


def _alert(version: str) -> Model:
    if version == "1.0":
        # CAP 1.0 XSD: password after msgType, scope optional.
        return (
            ("identifier", 1, 1), ("sender", 1, 1), ("sent", 1, 1), ("status", 1, 1),
            ("msgType", 1, 1), ("password", 0, 1), ("source", 0, 1), ("scope", 0, 1),
            ("restriction", 0, 1), ("addresses", 0, 1), ("code", 0, U), ("note", 0, 1),
            ("references", 0, 1), ("incidents", 0, 1), ("info", 0, U),
        )  # fmt: skip
    return (
        ("identifier", 1, 1), ("sender", 1, 1), ("sent", 1, 1), ("status", 1, 1),
        ("msgType", 1, 1), ("source", 0, 1), ("scope", 1, 1), ("restriction", 0, 1),
        ("addresses", 0, 1), ("code", 0, U), ("note", 0, 1), ("references", 0, 1),
        ("incidents", 0, 1), ("info", 0, U),
    )  # fmt: skip


def _info(version: str) -> Model:
    head: Model = (
        ("language", 0, 1),
        ("category", 0 if version == "1.0" else 1, U),
        ("event", 1, 1),
    )
    response: Model = () if version == "1.0" else (("responseType", 0, U),)
    tail: Model = (
        ("urgency", 1, 1), ("severity", 1, 1), ("certainty", 1, 1), ("audience", 0, 1),
        ("eventCode", 0, U), ("effective", 0, 1), ("onset", 0, 1), ("expires", 0, 1),
        ("senderName", 0, 1), ("headline", 0, 1), ("description", 0, 1),
        ("instruction", 0, 1), ("web", 0, 1), ("contact", 0, 1), ("parameter", 0, U),
        ("resource", 0, U), ("area", 0, U),
    )  # fmt: skip
    return head + response + tail


def _resource(version: str) -> Model:
    mime_min = 1 if version == "1.2" else 0
    deref: Model = () if version == "1.0" else (("derefUri", 0, 1),)
    return (
        ("resourceDesc", 1, 1),
        ("mimeType", mime_min, 1),
        ("size", 0, 1),
        ("uri", 0, 1),
        *deref,
        ("digest", 0, 1),
    )


AREA: Model = (
    ("areaDesc", 1, 1), ("polygon", 0, U), ("circle", 0, U), ("geocode", 0, U),
    ("altitude", 0, 1), ("ceiling", 0, 1),
)  # fmt: skip
NAMED_VALUE: Model = (("valueName", 1, 1), ("value", 1, 1))


@dataclass(frozen=True, slots=True)
class VersionSchema:
    """The content models and enumerations of one CAP version."""

    version: str
    ns: str
    alert: Model
    info: Model
    resource: Model
    area: Model
    # CAP 1.0 writes eventCode/parameter/geocode as "valueName=value" text.
    named_values_as_text: bool
    # Elements with element content (the rest hold text).
    complex_names: frozenset[str]
    enums: dict[str, frozenset[str]]


_COMMON_ENUMS = {
    "msgType": frozenset({"Alert", "Update", "Cancel", "Ack", "Error"}),
    "scope": frozenset({"Public", "Restricted", "Private"}),
    "urgency": frozenset({"Immediate", "Expected", "Future", "Past", "Unknown"}),
    "severity": frozenset({"Extreme", "Severe", "Moderate", "Minor", "Unknown"}),
}
_CATEGORIES_10 = frozenset(
    {"Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport",
     "Infra", "Other"}
)  # fmt: skip


def _schema(version: str, ns: str) -> VersionSchema:
    enums = dict(_COMMON_ENUMS)
    if version == "1.0":
        enums["status"] = frozenset({"Actual", "Exercise", "System", "Test"})
        enums["category"] = _CATEGORIES_10
        enums["certainty"] = frozenset({"Very Likely", "Likely", "Possible", "Unlikely", "Unknown"})
    else:
        enums["status"] = frozenset({"Actual", "Exercise", "System", "Test", "Draft"})
        enums["category"] = _CATEGORIES_10 | {"CBRNE"}
        enums["certainty"] = frozenset({"Observed", "Likely", "Possible", "Unlikely", "Unknown"})
        responses = {"Shelter", "Evacuate", "Prepare", "Execute", "Monitor", "Assess", "None"}
        if version == "1.2":
            responses |= {"Avoid", "AllClear"}
        enums["responseType"] = frozenset(responses)
    return VersionSchema(
        version=version,
        ns=ns,
        alert=_alert(version),
        info=_info(version),
        resource=_resource(version),
        area=AREA,
        named_values_as_text=version == "1.0",
        complex_names=frozenset({"info", "resource", "area", "Signature"})
        | (frozenset() if version == "1.0" else frozenset({"eventCode", "parameter", "geocode"})),
        enums=enums,
    )


SCHEMAS = {
    NS_10: _schema("1.0", NS_10),
    NS_11: _schema("1.1", NS_11),
    NS_12: _schema("1.2", NS_12),
}
