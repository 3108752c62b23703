"""The EDXL-RM 1.0 messages that follow an assistance request: who sends which, when, and what
the quantities allow.

A request is EDXL-RM's RequestResource; its items are its ResourceInformation elements,
numbered from 1 in the order given (ResourceInfoElementID). After it:

- ResponseToRequestResource, by a recipient while the request is open, acknowledged or in
  progress, once per office: Accept (listing, if it likes, how much of each item it could
  supply, at most what was asked) or Decline (of the request as a whole: no items). An answer
  is an acknowledgement: an open request goes acknowledged.
- CommitResource, by a recipient (an office, BDT) while the request is open, acknowledged or
  in progress: what it commits, per item; an open or acknowledged request goes in-progress.
- ReleaseResource, by the requester while it is in progress or fulfilled: what it no longer needs.
- RequestReturn, by a recipient while it is in progress, fulfilled or closed: what is to come back.
- ResponseToRequestReturn, by the requester in the same states: Accept or Decline of one
  RequestReturn (its items are those of the RequestReturn).

Quantities add up per item: all commitments together at most what was asked, releases at most
what was committed, a return at most what was committed; a RequestReturn is answered once.
A request that lists no items is committed to as a whole (a message without items).

Public API: `MessageItem`, `ResourceMessage`, `parse_message(body)` (RequestInvalid, rule ids
`request.message.*`), `Sent` (a message already sent, as the store holds it) and
`check_message(message, state, parties, requested, sent)` -> `Outcome` (Refusal or
RequestInvalid when the request does not allow it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cap.errors import Finding
from contact_points.edxl_rm import (
    ACCEPT,
    COMMIT_RESOURCE,
    MESSAGE_TYPES,
    RELEASE_RESOURCE,
    REQUEST_RETURN,
    RESPONSE_TO_REQUEST_RESOURCE,
    RESPONSE_TO_REQUEST_RETURN,
    RESPONSE_TYPES,
    RESPONSES,
    Schedule,
)
from contact_points.requests import (
    MAX_ITEMS,
    MAX_NOTE,
    MAX_QUANTITY,
    RECIPIENT,
    REQUESTER,
    Refusal,
    RequestInvalid,
    RequestState,
    body_fields,
    edxl_term,
    read_schedule,
    read_text,
    state_after_ack,
)

FIELDS = frozenset({"type", "items", "note", "preceding", "response"})
_OPEN, _ACKED, _IN_PROGRESS = RequestState.OPEN, RequestState.ACKNOWLEDGED, RequestState.IN_PROGRESS
_FULFILLED, _CLOSED = RequestState.FULFILLED, RequestState.CLOSED


@dataclass(frozen=True, slots=True)
class Rule:
    """Who sends a message type, in which states of the request, and whether it lists items."""

    party: str
    states: frozenset[RequestState]
    with_items: bool


RULES: Mapping[str, Rule] = {
    RESPONSE_TO_REQUEST_RESOURCE: Rule(RECIPIENT, frozenset({_OPEN, _ACKED, _IN_PROGRESS}), False),
    COMMIT_RESOURCE: Rule(RECIPIENT, frozenset({_OPEN, _ACKED, _IN_PROGRESS}), True),
    RELEASE_RESOURCE: Rule(REQUESTER, frozenset({_IN_PROGRESS, _FULFILLED}), True),
    REQUEST_RETURN: Rule(RECIPIENT, frozenset({_IN_PROGRESS, _FULFILLED, _CLOSED}), True),
    RESPONSE_TO_REQUEST_RETURN: Rule(REQUESTER, frozenset({_IN_PROGRESS, _FULFILLED, _CLOSED}), False),
}


@dataclass(frozen=True, slots=True)
class MessageItem:
    """A quantity of one of the request's items (its ResourceInfoElementID), and its schedule."""

    element_id: int
    quantity: int
    schedule: tuple[Schedule, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The item as stored and answered."""
        body: dict[str, Any] = {"element_id": self.element_id, "quantity": self.quantity}
        if self.schedule:
            body["schedule"] = [e.as_json() for e in self.schedule]
        return body


@dataclass(frozen=True, slots=True)
class ResourceMessage:
    """A checked message body."""

    type: str
    items: tuple[MessageItem, ...] = ()
    note: str | None = None
    # ResponseToRequestReturn: the number of the RequestReturn answered; both responses: Accept
    # or Decline.
    preceding: int | None = None
    response: str | None = None


@dataclass(frozen=True, slots=True)
class Sent:
    """A message already sent on the request: its number (from 1), type, items and what it answered."""

    number: int
    type: str
    items: tuple[MessageItem, ...]
    preceding: int | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an accepted message does: the message it follows (0: the request) and the
    request's state after it."""

    preceding: int
    state: RequestState


def parse_message(body: Any) -> ResourceMessage:
    """Check a JSON-decoded message body; raises RequestInvalid listing every broken rule."""
    findings: list[Finding] = []
    fields = body_fields(body, FIELDS, findings)
    if body is None:
        findings.append(Finding("request.body.object", "the body must be a JSON object", "/"))
    kind = fields.get("type")
    edxl_term(kind, MESSAGE_TYPES, "message type", "/type", "request.message.type", findings)
    note = None
    if fields.get("note") is not None:
        note = read_text(fields["note"], "/note", "request.note", MAX_NOTE, findings)
    items = _message_items(fields.get("items"), findings)
    preceding, response = None, None
    if kind in RESPONSES:
        response = fields.get("response")
        edxl_term(response, RESPONSE_TYPES, "ResponseType", "/response", "request.message.response", findings)
    else:
        if fields.get("response") is not None:
            findings.append(
                Finding("request.message.field", "response belongs to a response message", "/response")
            )
    if kind == RESPONSE_TO_REQUEST_RETURN:
        preceding = fields.get("preceding")
        if not isinstance(preceding, int) or isinstance(preceding, bool) or not 1 <= preceding <= 2**31:
            findings.append(
                Finding(
                    "request.message.preceding",
                    "preceding is the number of the RequestReturn answered",
                    "/preceding",
                )
            )
        if fields.get("items") is not None:
            findings.append(
                Finding(
                    "request.message.items",
                    "a ResponseToRequestReturn answers the items of its RequestReturn; it lists none",
                    "/items",
                )
            )
    elif fields.get("preceding") is not None:
        findings.append(
            Finding(
                "request.message.field",
                "preceding belongs to a ResponseToRequestReturn (the others follow the request)",
                "/preceding",
            )
        )
    if kind == RESPONSE_TO_REQUEST_RESOURCE and response != ACCEPT and fields.get("items") is not None:
        findings.append(
            Finding(
                "request.message.items",
                "a Decline answers the request as a whole; only an Accept lists what it could supply",
                "/items",
            )
        )
    if findings:
        raise RequestInvalid(findings[:50])
    return ResourceMessage(type=str(kind), items=items, note=note, preceding=preceding, response=response)


def _message_items(value: Any, findings: list[Finding]) -> tuple[MessageItem, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        findings.append(
            Finding(
                "request.message.items",
                f"items is a list of at most {MAX_ITEMS} {{element_id, quantity, schedule?}}",
                "/items",
            )
        )
        return ()
    items: list[MessageItem] = []
    seen: set[int] = set()
    for i, entry in enumerate(value):
        place = f"/items/{i}"
        if not isinstance(entry, dict) or set(entry) - {"element_id", "quantity", "schedule"}:
            findings.append(
                Finding("request.message.item", "an item is {element_id, quantity, schedule?}", place)
            )
            continue
        element, quantity = entry.get("element_id"), entry.get("quantity")
        if not isinstance(element, int) or isinstance(element, bool) or not 1 <= element <= MAX_ITEMS:
            findings.append(
                Finding(
                    "request.message.item.element",
                    "element_id is the item's number in the request (its ResourceInfoElementID, from 1)",
                    f"{place}/element_id",
                )
            )
            continue
        if element in seen:
            findings.append(
                Finding(
                    "request.message.item.duplicate",
                    f"element {element} is listed twice; give one quantity",
                    f"{place}/element_id",
                )
            )
            continue
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_QUANTITY:
            findings.append(
                Finding(
                    "request.message.item.quantity",
                    f"quantity must be a whole number from 1 to {MAX_QUANTITY}, got {quantity!r}",
                    f"{place}/quantity",
                )
            )
            continue
        schedule: tuple[Schedule, ...] = ()
        if entry.get("schedule") is not None:
            schedule = read_schedule(entry["schedule"], f"{place}/schedule", findings)
        seen.add(element)
        items.append(MessageItem(element, quantity, schedule))
    return tuple(items)


def _totals(sent: Sequence[Sent], kind: str) -> Counter[int]:
    totals: Counter[int] = Counter()
    for message in sent:
        if message.type == kind:
            for item in message.items:
                totals[item.element_id] += item.quantity
    return totals


def check_message(
    message: ResourceMessage,
    *,
    state: RequestState,
    parties: Collection[str],
    requested: Sequence[int],
    sent: Sequence[Sent],
) -> Outcome:
    """Whether one of `parties` may send `message` on a request in `state` asking for
    `requested` (quantities per item, element 1 first) after the messages `sent`.

    Raises Refusal (`forbidden`: the party may never send it; else a conflict with the state
    or the quantities) or RequestInvalid (an item the request does not have)."""
    rule = RULES[message.type]
    if rule.party not in parties:
        who = "recipients (the offices and BDT)" if rule.party == RECIPIENT else "requester"
        raise Refusal("request.message.forbidden", f"a {message.type} is sent by the {who}", True)
    if state not in rule.states:
        allowed = ", ".join(sorted(rule.states))
        raise Refusal(
            "request.message.state",
            f"a {message.type} is sent while the request is {allowed}; it is {state}",
            False,
        )
    _check_items(message, rule, requested)
    if message.type == RESPONSE_TO_REQUEST_RESOURCE:
        # What one office could supply, each at most what was asked (offices answer apart).
        _within(message, Counter(), requested, "request.message.over-offer", "asked for")
        return Outcome(0, state_after_ack(state))
    committed = _totals(sent, COMMIT_RESOURCE)
    if message.type == COMMIT_RESOURCE:
        _within(message, committed, requested, "request.message.over-commit", "asked for")
        return Outcome(0, _IN_PROGRESS if state in (_OPEN, _ACKED) else state)
    limit = [committed[e] for e in range(1, len(requested) + 1)]
    if message.type == RELEASE_RESOURCE:
        _within(message, _totals(sent, RELEASE_RESOURCE), limit, "request.message.over-release", "committed")
        return Outcome(_last(sent, COMMIT_RESOURCE), state)
    if message.type == REQUEST_RETURN:
        _within(message, Counter(), limit, "request.message.over-return", "committed")
        return Outcome(_last(sent, RELEASE_RESOURCE) or _last(sent, COMMIT_RESOURCE), state)
    answered = {m.preceding for m in sent if m.type == RESPONSE_TO_REQUEST_RETURN}
    target = next((m for m in sent if m.number == message.preceding), None)
    if target is None or target.type != REQUEST_RETURN:
        raise RequestInvalid(
            [
                Finding(
                    "request.message.preceding",
                    f"message {message.preceding} of this request is not a RequestReturn",
                    "/preceding",
                )
            ]
        )
    if target.number in answered:
        raise Refusal("request.message.answered", f"RequestReturn {target.number} is answered already", False)
    return Outcome(target.number, state)


def _check_items(message: ResourceMessage, rule: Rule, requested: Sequence[int]) -> None:
    findings = [
        Finding(
            "request.message.item.unknown",
            f"the request has {len(requested)} item(s); there is no element {item.element_id}",
            f"/items/{i}/element_id",
        )
        for i, item in enumerate(message.items)
        if item.element_id > len(requested)
    ]
    if rule.with_items and requested and not message.items:
        findings.append(
            Finding("request.message.items", f"a {message.type} says which items and how many", "/items")
        )
    if findings:
        raise RequestInvalid(findings)


def _within(
    message: ResourceMessage, so_far: Counter[int], limit: Sequence[int], rule: str, what: str
) -> None:
    for item in message.items:
        allowed = limit[item.element_id - 1] - so_far[item.element_id]
        if item.quantity > allowed:
            raise Refusal(
                rule,
                f"element {item.element_id}: {item.quantity} is more than the {max(allowed, 0)} left of "
                f"what was {what}",
                False,
            )


def _last(sent: Sequence[Sent], kind: str) -> int:
    return max((m.number for m in sent if m.type == kind), default=0)
