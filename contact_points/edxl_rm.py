"""OASIS EDXL-RM 1.0 (Emergency Data Exchange Language Resource Messaging, OASIS Standard
incorporating Approved Errata, 22 December 2009): the vocabulary of resource messages and the
XML of one message, built with lxml from values.

What Tampere speaks of it: an assistance request is a `RequestResource`; the offices answer
it (`ResponseToRequestResource`, Accept with what they could supply, or Decline), commit
(`CommitResource`, what they commit, per item), later the requester releases what it no
longer needs (`ReleaseResource`), the owner of lent equipment asks for it back
(`RequestReturn`, ITU's IFCE terminals are lent) and the requester answers
(`ResponseToRequestReturn`, Accept or Decline).

Namespaces and order (the message schemas, EDXL-RM<Type>.xsd): a message's own elements and
those declared inline in it (ResourceInformation and its ResourceInfoElementID, Resource,
AssignmentInformation, ScheduleInformation and their children) are in the message namespace
`urn:oasis:names:tc:emergency:EDXL:RM:1.0:msg`; the content of the common types (IncidentInformation,
ContactInformation, ValueList, Quantity, ResponseInformation, Location) is in
`urn:oasis:names:tc:emergency:EDXL:RM:1.0`; people and numbers in a contact are OASIS CIQ
xPIL/xNL 3.0. Elements are written in schema order:

    MessageID, SentDateTime, MessageContentType, MessageDescription?, OriginatingMessageID?,
    PrecedingMessageID?, IncidentInformation*, ContactInformation+, ResourceInformation*
    ResourceInformation: ResourceInfoElementID, ResponseInformation?, Resource?,
        AssignmentInformation?, ScheduleInformation*
    Resource: Name?, TypeStructure?, Keyword*, Description?
    AssignmentInformation: Quantity?, AnticipatedFunction?
    ScheduleInformation: ScheduleType, DateTime?, Location?

Public API: `MSG_NS`, `RM_NS`, `MESSAGE_TYPES`, `SCHEDULE_TYPES`, `RESPONSE_TYPES`, the values
`Contact`, `Resource`, `Message`, and `message_xml(message) -> bytes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

MSG_NS = "urn:oasis:names:tc:emergency:EDXL:RM:1.0:msg"
RM_NS = "urn:oasis:names:tc:emergency:EDXL:RM:1.0"
XPIL_NS = "urn:oasis:names:tc:ciq:xpil:3"
XNL_NS = "urn:oasis:names:tc:ciq:xnl:3"
NSMAP = {None: MSG_NS, "rm": RM_NS, "xpil": XPIL_NS, "xnl": XNL_NS}

REQUEST_RESOURCE = "RequestResource"
RESPONSE_TO_REQUEST_RESOURCE = "ResponseToRequestResource"
COMMIT_RESOURCE = "CommitResource"
RELEASE_RESOURCE = "ReleaseResource"
REQUEST_RETURN = "RequestReturn"
RESPONSE_TO_REQUEST_RETURN = "ResponseToRequestReturn"
# The messages a request's parties send after it (POST /api/v1/requests/{id}/messages).
MESSAGE_TYPES = (
    RESPONSE_TO_REQUEST_RESOURCE,
    COMMIT_RESOURCE,
    RELEASE_RESOURCE,
    REQUEST_RETURN,
    RESPONSE_TO_REQUEST_RETURN,
)
# The messages that answer another with a ResponseType.
RESPONSES = (RESPONSE_TO_REQUEST_RESOURCE, RESPONSE_TO_REQUEST_RETURN)
# EDXL-RM ResponseInformation/ResponseType, as an answer to a RequestResource or RequestReturn.
ACCEPT, DECLINE = "Accept", "Decline"
RESPONSE_TYPES = (ACCEPT, DECLINE)
# EDXL-RM ScheduleInformation/ScheduleType.
SCHEDULE_TYPES = (
    "RequestedArrival",
    "EstimatedArrival",
    "ActualArrival",
    "RequestedDeparture",
    "EstimatedDeparture",
    "ActualDeparture",
    "RequestedReturnDeparture",
    "EstimatedReturnDeparture",
    "ActualReturnDeparture",
    "RequestedReturnArrival",
    "EstimatedReturnArrival",
    "ActualReturnArrival",
    "BeginAvailable",
    "EndAvailable",
    "Committed",
    "Current",
    "ReportTo",
    "Route",
)


@dataclass(frozen=True, slots=True)
class Term:
    """A term of a named vocabulary (EDXL-RM ValueListType)."""

    list: str
    value: str


@dataclass(frozen=True, slots=True)
class Schedule:
    """One ScheduleInformation: its type, and when or where."""

    type: str
    at: datetime | None = None
    location: str | None = None

    def as_json(self) -> dict[str, str]:
        """The entry as stored and answered: its type, and `at` and `location` where given."""
        body = {"type": self.type}
        if self.at:
            body["at"] = self.at.isoformat()
        if self.location:
            body["location"] = self.location
        return body


@dataclass(frozen=True, slots=True)
class Contact:
    """One ContactInformation: who (description, role) and how to reach them (CIQ xPIL)."""

    description: str
    role: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class Resource:
    """One ResourceInformation: the element id, what resource and how many."""

    element_id: int
    name: str | None = None
    type: Term | None = None
    keywords: tuple[Term, ...] = ()
    description: str | None = None
    quantity: int | None = None
    unit: str | None = None
    anticipated_function: str | None = None
    schedule: tuple[Schedule, ...] = ()
    # ResponseInformation: the element answered and Accept/Decline.
    response: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """One EDXL-RM message."""

    content_type: str
    message_id: str
    sent: datetime
    contacts: Sequence[Contact]
    resources: Sequence[Resource] = ()
    description: str | None = None
    originating_id: str | None = None
    preceding_id: str | None = None
    incident_id: str | None = None
    incident_description: str | None = None


def _msg(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{MSG_NS}}}{name}")
    if text is not None:
        element.text = text
    return element


def _rm(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{RM_NS}}}{name}")
    if text is not None:
        element.text = text
    return element


def _datetime(value: datetime) -> str:
    # xsd:dateTime with an explicit offset (EDXL-RM DateTimeType requires one), UTC, whole seconds.
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


def _term(parent: etree._Element, name: str, term: Term) -> None:
    element = _msg(parent, name)
    _rm(element, "ValueListURN", term.list)
    _rm(element, "Value", term.value)


def _contact(root: etree._Element, contact: Contact) -> None:
    element = _msg(root, "ContactInformation")
    _rm(element, "ContactDescription", contact.description)
    _rm(element, "ContactRole", contact.role)
    if contact.name or contact.phone or contact.email:
        party = _rm(element, "AdditionalContactInformation")
        if contact.name:
            person = etree.SubElement(
                etree.SubElement(party, f"{{{XPIL_NS}}}PartyName"), f"{{{XNL_NS}}}PersonName"
            )
            etree.SubElement(person, f"{{{XNL_NS}}}NameElement").text = contact.name
        if contact.phone:
            numbers = etree.SubElement(party, f"{{{XPIL_NS}}}ContactNumbers")
            number = etree.SubElement(numbers, f"{{{XPIL_NS}}}ContactNumber")
            etree.SubElement(number, f"{{{XPIL_NS}}}ContactNumberElement").text = contact.phone
        if contact.email:
            addresses = etree.SubElement(party, f"{{{XPIL_NS}}}ElectronicAddressIdentifiers")
            address = etree.SubElement(addresses, f"{{{XPIL_NS}}}ElectronicAddressIdentifier")
            address.text = contact.email


def _resource(root: etree._Element, resource: Resource) -> None:
    element = _msg(root, "ResourceInformation")
    _msg(element, "ResourceInfoElementID", str(resource.element_id))
    if resource.response is not None:
        answer = _msg(element, "ResponseInformation")
        _rm(answer, "PrecedingResourceInfoElementID", str(resource.element_id))
        _rm(answer, "ResponseType", resource.response)
    if resource.name or resource.type or resource.keywords or resource.description:
        described = _msg(element, "Resource")
        if resource.name:
            _msg(described, "Name", resource.name)
        if resource.type:
            _term(described, "TypeStructure", resource.type)
        for keyword in resource.keywords:
            _term(described, "Keyword", keyword)
        if resource.description:
            _msg(described, "Description", resource.description)
    if resource.quantity is not None or resource.anticipated_function:
        assignment = _msg(element, "AssignmentInformation")
        if resource.quantity is not None:
            measured = _rm(_msg(assignment, "Quantity"), "MeasuredQuantity")
            _rm(measured, "Amount", str(resource.quantity))
            if resource.unit:
                _rm(measured, "UnitOfMeasure", resource.unit)
        if resource.anticipated_function:
            _msg(assignment, "AnticipatedFunction", resource.anticipated_function)
    for entry in resource.schedule:
        schedule = _msg(element, "ScheduleInformation")
        _msg(schedule, "ScheduleType", entry.type)
        if entry.at is not None:
            _msg(schedule, "DateTime", _datetime(entry.at))
        if entry.location:
            _rm(_msg(schedule, "Location"), "LocationDescription", entry.location)


def message_xml(message: Message) -> bytes:
    """The message as an EDXL-RM 1.0 XML document (UTF-8, with declaration)."""
    root = etree.Element(f"{{{MSG_NS}}}{message.content_type}", nsmap=NSMAP)
    _msg(root, "MessageID", message.message_id)
    _msg(root, "SentDateTime", _datetime(message.sent))
    _msg(root, "MessageContentType", message.content_type)
    if message.description:
        _msg(root, "MessageDescription", message.description)
    if message.originating_id:
        _msg(root, "OriginatingMessageID", message.originating_id)
    if message.preceding_id:
        _msg(root, "PrecedingMessageID", message.preceding_id)
    if message.incident_id or message.incident_description:
        incident = _msg(root, "IncidentInformation")
        if message.incident_description:
            _rm(incident, "IncidentDescription", message.incident_description)
        if message.incident_id:
            _rm(incident, "IncidentID", message.incident_id)
    for contact in message.contacts:
        _contact(root, contact)
    for resource in message.resources:
        _resource(root, resource)
    xml: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return xml
