"""E-mail deliveries: composing a message per event (or a digest of routine items) in the
recipient's working language, and sending through SMTP.

The recipient's language is the channel's, else the first listed among its contact point's
people (`Recipient`); labels, subjects, event names and the CAP vocabulary are in it when it is
one of the six UN languages, else English (service.deliveries.words). The body of an alert's
message is taken from the alert's <info> in that language where the alert has one
(`cap.languages.best_language`, CAP 1.2 §3.2.2), else from its first <info>, and says so.
Each message has a plain-text part and an HTML part (`<html lang dir>`: right to left for
Arabic; the alert's own text marked with its language).

A message says what the recipient needs to act: what happened (an escalation's from and to, an
acknowledgement's by), its own routing entry (priority, deadline, rule, reasons, the facts used
that are not verified) and, until acknowledged, how to acknowledge (the web app's link to the
alert, the API route). What the event says is the event JSON as the recipient's principal is
told it on the stream (the outbox made it so); the alert's content is that of an alert the
principal may see (its event passed the same decision).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from html import escape
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiosmtplib

from cap.languages import best_language
from service.db.models import utcnow
from service.deliveries.outbox import Outcome
from service.deliveries.words import Words, label_language
from service.events import log as event_log
from service.settings import Settings

SUBJECT_CHARS = 200
# SMTP reply codes that say the server is unwell or busy (RFC 5321 §4.2.1: 4yz is transient),
# rather than refusing this one message: the whole channel waits.
TRANSIENT_FIRST_DIGIT = 4
ESCALATIONS = (event_log.ALERT_ESCALATED, event_log.REQUEST_ESCALATED)
ACKNOWLEDGEMENTS = (event_log.ALERT_ROUTING_ACKNOWLEDGED, event_log.REQUEST_ACKNOWLEDGED)


@dataclass(slots=True, frozen=True)
class Item:
    """One event to tell: its delivery, the event JSON, the alert's model when it is about one,
    and the recipient's own routing entry of the alert or request (None: not routed to it)."""

    delivery_id: int
    event: Mapping[str, Any]
    priority: str
    alert: Mapping[str, Any] | None
    entry: Mapping[str, Any] | None = None


@dataclass(slots=True, frozen=True)
class Recipient:
    """Whom a message is for: the contact point of the channel, the registry roles it is written
    to (service.deliveries.registry_channels: none for a subscription), and the language asked
    for (the channel's, else the contact point's people's, else None: English labels)."""

    contact_id: str
    language: str | None
    roles: tuple[str, ...] = ()
    # An IANA time zone of the recipient's people: deadlines are also given in its local time.
    time_zone: str | None = None

    def when(self, value: Any) -> str | None:
        """An ISO 8601 time as stored, with the local time where a time zone is known."""
        if not value:
            return None
        try:
            at = datetime.fromisoformat(str(value))
            local = at.astimezone(ZoneInfo(self.time_zone)) if self.time_zone and at.tzinfo else None
        except (ValueError, ZoneInfoNotFoundError):
            return str(value)
        return str(value) if local is None else f"{value} ({local:%Y-%m-%d %H:%M} {self.time_zone})"

    @property
    def words(self) -> Words:
        """The words of the messages: the recipient's language if one of the six, else English."""
        return Words.of(self.language)


def alert_id_of(body: str) -> int | None:
    """The alert an event JSON is about, if any."""
    value = json.loads(body).get("alert_id")
    return int(value) if isinstance(value, int) else None


def request_id_of(body: str) -> int | None:
    """The request an event JSON is about, if any."""
    value = json.loads(body).get("request_id")
    return int(value) if isinstance(value, int) else None


def _info(alert: Mapping[str, Any] | None, language: str | None) -> tuple[Mapping[str, Any] | None, bool]:
    infos = list((alert or {}).get("info") or [])
    index, matched = best_language([i.get("language") for i in infos], language)
    return (infos[index] if index >= 0 else None), matched


# --- what a message holds: blocks, written out as text and as HTML ------------------------------


@dataclass(slots=True, frozen=True)
class Block:
    """One part of a message. `kind`: "title", "field" (label and value), "text" (a paragraph),
    "heading", "link" (label and URL) or "gap". `language` is that of the value when it is
    the alert's own text (its <info> language), not the labels'."""

    kind: str
    text: str = ""
    value: str = ""
    language: str | None = None


def _field(label: str, value: Any, language: str | None = None) -> Block | None:
    if value in (None, "", [], {}):
        return None
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value)
    return Block("field", label, str(value), language)


def _render_text(blocks: Sequence[Block], words: Words) -> str:
    lines = []
    for block in blocks:
        if block.kind in ("field", "link"):
            lines.append(words.line(block.text, block.value))
        elif block.kind == "gap":
            lines.append("")
        else:
            lines.append(block.text)
    return "\n".join(lines).strip() + "\n"


def _render_html(blocks: Sequence[Block], words: Words) -> str:
    """The HTML part: `lang` and `dir` of the labels' language on the root (Arabic right to left),
    the alert's own text marked with its language and `dir="auto"`."""

    def lang(block: Block) -> str:
        # dir="auto": a value (an id, a time, an English reason) keeps its own direction.
        return f' lang="{escape(block.language)}" dir="auto"' if block.language else ' dir="auto"'

    colon = escape(words.colon)
    body = []
    for block in blocks:
        text = escape(block.text)
        if block.kind == "title":
            body.append(f"<h1{lang(block)}>{text}</h1>")
        elif block.kind == "heading":
            body.append(f"<h2>{text}</h2>")
        elif block.kind == "field":
            body.append(f"<p><b>{text}</b>{colon}<span{lang(block)}>{escape(block.value)}</span></p>")
        elif block.kind == "link":
            url = escape(block.value)
            body.append(f'<p><b>{text}</b>{colon}<a href="{url}" dir="ltr">{url}</a></p>')
        elif block.kind == "text":
            body.append(f"<p{lang(block)}>{text}</p>")
    return (
        f'<!DOCTYPE html><html lang="{words.language}" dir="{words.direction}"><head><meta charset="utf-8">'
        f"</head><body>{''.join(body)}</body></html>\n"
    )


# --- composing -------------------------------------------------------------------------------------


def summary(item: Item, language: str | None) -> str:
    """One line naming the event in words of the recipient's language: its type and the alert's
    headline (or the request's title)."""
    words = Words.of(language)
    info, _ = _info(item.alert, language)
    event = item.event
    title = (
        (info or {}).get("headline")
        or (info or {}).get("event")
        or event.get("title")
        or event.get("identifier")
    )
    name = words.term("event", event.get("type"))
    return f"{name}{words.colon}{title}" if title else name


# Event fields told in a section of their own (or not at all: the audience is the stream's).
_SHOWN = frozenset(
    {"id", "type", "at", "audience", "alert_id", "request_id", "state", "priority", "from", "to", "level"}
    | {"due", "note", "by", "contact_points", "acknowledged_at", "contact_point", "to_whom"}
)


def _field_label(words: Words, key: str) -> str:
    """The label of an event field in words (the table's `field.*`), else the key itself."""
    try:
        return words.get(f"field.{key}")
    except KeyError:
        return key.replace("_", " ").capitalize()


def _event_blocks(event: Mapping[str, Any], recipient: Recipient) -> list[Block | None]:
    """What happened, as the event says it: who did not acknowledge and who is asked now (an
    escalation), who acknowledged (an acknowledgement), whom the routing reached, the note."""
    words = recipient.words
    kind = event.get("type")
    blocks: list[Block | None] = []
    if kind in ESCALATIONS:
        blocks += [
            _field(words.get("label.escalation_from"), event.get("from")),
            _field(words.get("label.escalation_to"), event.get("to")),
            _field(words.get("label.escalation_level"), event.get("level")),
            _field(words.get("label.missed_deadline"), recipient.when(event.get("due"))),
        ]
    elif kind in ACKNOWLEDGEMENTS:
        blocks += [
            _field(words.get("label.acknowledged_by"), event.get("by")),
            _field(words.get("label.contact_points"), event.get("contact_points")),
            _field(words.get("label.acknowledged_at"), event.get("acknowledged_at") or event.get("at")),
        ]
    else:
        blocks += [
            _field(words.get("label.contact_points"), event.get("contact_points")),
            _field(words.get("label.by"), event.get("by")),
        ]
    blocks.append(_field(words.get("label.note"), event.get("note")))
    return blocks


def _entry_blocks(item: Item, recipient: Recipient, base_url: str) -> list[Block | None]:
    """The recipient's own routing entry (priority, deadline, rule, reasons, the facts used that
    are not verified) and how to acknowledge: the web app and the API route."""
    words = recipient.words
    entry = item.entry
    event = item.event
    if entry is None:
        return []
    blocks: list[Block | None] = [
        Block("gap"),
        Block("heading", words.get("heading.routing", contact=recipient.contact_id)),
        _field(words.get("label.priority"), words.term("priority", entry.get("priority"))),
        _field(words.get("label.ack_deadline"), recipient.when(entry.get("ack_deadline"))),
        _field(words.get("label.rule"), entry.get("rule")),
        _field(words.get("label.reasons"), list(entry.get("reasons") or [])),
        _field(words.get("label.acknowledged_at"), entry.get("acknowledged_at")),
        _field(words.get("label.acknowledged_by"), entry.get("acknowledged_by")),
        _field(words.get("label.escalated_to"), entry.get("escalated_to")),
    ]
    provenance = list(entry.get("provenance") or [])
    unverified = [p for p in provenance if not p.get("verified")]
    for fact in unverified:
        source = f" ({words.get('label.source')}{words.colon}{fact['source']})" if fact.get("source") else ""
        blocks.append(Block("field", words.get("label.unverified"), f"{fact.get('fact')}{source}"))
    if provenance and not unverified:
        blocks.append(Block("text", words.get("note.verified_all")))
    if entry.get("acknowledged_at"):
        return blocks
    alert_id, request_id = event.get("alert_id"), event.get("request_id")
    if alert_id is not None:
        # The web app opens the alert's panel from this link (web/src/main.js).
        app: str | None = f"{base_url}/?alert={alert_id}"
        api = f"POST {base_url}/api/v1/alerts/{alert_id}/ack"
    elif request_id is not None:
        app, api = None, f"POST {base_url}/api/v1/requests/{request_id}/ack"
    else:
        return blocks
    token = words.get("note.ack_token", contact=recipient.contact_id)
    blocks += [Block("gap"), Block("heading", words.get("heading.ack"))]
    if app is not None:
        blocks.append(Block("link", words.get("label.open_app"), app))
    blocks.append(Block("field", words.get("label.ack_api"), f"{api} ({token})"))
    return blocks


def compose_one(item: Item, *, recipient: Recipient, base_url: str) -> tuple[str, str, str, str | None]:
    """Subject, text, HTML and content language of the message telling one event, labels in the
    recipient's language (one of the six UN languages, else English)."""
    words = recipient.words
    language = recipient.language
    event = item.event
    kind = event.get("type")
    info, matched = _info(item.alert, language or words.language)
    blocks: list[Block | None] = []
    for role in recipient.roles:
        if role in ("deputies", "head") and event.get("type") in ESCALATIONS:
            person = event.get("to") or ""
            if str(person).casefold().endswith(f"#{role}"):
                blocks.append(Block("text", words.get(f"note.asked_as.{role}", contact=recipient.contact_id)))
    info_language = (info or {}).get("language") or "en-US"
    if info is not None:
        blocks += [
            Block("title", str(info.get("headline") or info.get("event") or ""), language=info_language),
            _field(words.get("label.cap_event"), info.get("event"), info_language),
            _field(
                words.get("label.severity"),
                info.get("severity") and words.term("severity", info["severity"]),
            ),
            _field(
                words.get("label.urgency"),
                info.get("urgency") and words.term("urgency", info["urgency"]),
            ),
            _field(
                words.get("label.certainty"),
                info.get("certainty") and words.term("certainty", info["certainty"]),
            ),
            _field(
                words.get("label.area"),
                [a.get("areaDesc") for a in info.get("area") or []],
                info_language,
            ),
            Block("gap"),
            Block("text", str(info.get("description") or ""), language=info_language),
            _field(words.get("label.instruction"), info.get("instruction"), info_language),
            _field(words.get("label.sender"), info.get("senderName") or event.get("sender")),
            _field(words.get("label.web"), info.get("web")),
        ]
        if not matched:
            blocks.append(
                Block(
                    "text", words.get("note.no_info", wanted=language or words.language, shown=info_language)
                )
            )
        blocks.append(Block("gap"))
        blocks += _event_blocks(event, recipient)
    else:
        blocks += _event_blocks(event, recipient)
        blocks += [
            _field(_field_label(words, key), value) for key, value in event.items() if key not in _SHOWN
        ]
    blocks += [
        Block("gap"),
        _field(
            words.get("label.notification"),
            f"{event.get('id')} {words.term('event', kind)} ({kind}), {event.get('at')}",
        ),
        _field(words.get("label.state"), event.get("state") and words.term("state", event["state"])),
        _field(words.get("label.priority"), words.term("priority", item.priority)),
    ]
    if event.get("alert_id") is not None:
        blocks.append(
            Block("link", words.get("label.alert_api"), f"{base_url}/api/v1/alerts/{event['alert_id']}")
        )
    if event.get("request_id") is not None:
        blocks.append(
            Block("link", words.get("label.request_api"), f"{base_url}/api/v1/requests/{event['request_id']}")
        )
    blocks += _entry_blocks(item, recipient, base_url)
    kept = [b for b in blocks if b is not None and (b.kind == "gap" or b.text or b.value)]
    priority = words.term("priority", item.priority).upper()
    subject = f"[Tampere] {priority} {summary(item, language or words.language)}"[:SUBJECT_CHARS]
    return (
        subject,
        _render_text(kept, words),
        _render_html(kept, words),
        _content_language(words, info, matched),
    )


def _content_language(words: Words, info: Mapping[str, Any] | None, matched: bool) -> str:
    """The languages a message is in: the labels', and the alert's text where it is another
    (RFC 3282 allows a list); the alert's own tag alone when it is the labels' language."""
    if info is None:
        return words.language
    shown = str(info.get("language") or "en-US")
    if label_language(shown) == words.language and (matched or words.language == "en"):
        return shown
    return f"{words.language}, {shown}"


def compose_digest(
    items: Sequence[Item], *, recipient: Recipient, base_url: str
) -> tuple[str, str, str, str]:
    """Subject, text, HTML and content language of a digest of routine items, oldest first: one
    language, the recipient's (each alert's headline in it where the alert has it)."""
    words = recipient.words
    blocks = [Block("text", words.get("digest.intro", count=len(items))), Block("gap")]
    for item in items:
        event = item.event
        blocks.append(
            Block("text", f"- {event.get('at')}  {summary(item, recipient.language or words.language)}")
        )
        if event.get("alert_id") is not None:
            blocks.append(
                Block("link", words.get("label.alert_api"), f"{base_url}/api/v1/alerts/{event['alert_id']}")
            )
        if event.get("request_id") is not None:
            blocks.append(
                Block(
                    "link",
                    words.get("label.request_api"),
                    f"{base_url}/api/v1/requests/{event['request_id']}",
                )
            )
    subject = f"[Tampere] {words.get('digest.subject', count=len(items))}"
    return subject, _render_text(blocks, words), _render_html(blocks, words), words.language


def message(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    language: str | None,
    event_ids: Sequence[int],
    html: str | None = None,
) -> EmailMessage:
    """A UTF-8 message (plain text, and an HTML alternative when given) with the event ids it
    tells in a header of its own."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = format_datetime(utcnow())
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    mail["X-Tampere-Events"] = " ".join(str(i) for i in event_ids)
    mail.set_content(text)
    if html is not None:
        mail.add_alternative(html, subtype="html")
    if language:  # after set_content, which replaces every Content-* header
        mail["Content-Language"] = language
    return mail


@dataclass(slots=True)
class Mailer:
    """Sends messages through the configured SMTP server (TAMPERE_SMTP_*), one connection per
    batch; None of it happens without a host."""

    settings: Settings

    @property
    def configured(self) -> bool:
        """Whether an SMTP host is set."""
        return bool(self.settings.smtp_host)

    async def send(self, batches: Sequence[tuple[EmailMessage, Sequence[int]]]) -> list[Outcome]:
        """Send each message (one or more deliveries each) in order; stop at the first failure
        that says the server is unwell. The outcomes of the deliveries tried."""
        s = self.settings
        outcomes: list[Outcome] = []
        at = utcnow()
        started = time.perf_counter()

        def failed(ids: Sequence[int], error: str, status: int | None, down: bool) -> None:
            elapsed = (time.perf_counter() - started) * 1000
            outcomes.extend(
                Outcome(i, at, elapsed, False, status=status, error=error, endpoint_down=down) for i in ids
            )

        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            use_tls=s.smtp_tls,
            start_tls=s.smtp_starttls if not s.smtp_tls else False,
            username=s.smtp_username or None,
            password=s.smtp_password or None,
            timeout=s.smtp_timeout_seconds,
        )
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            for _mail, ids in batches[:1]:
                failed(
                    ids,
                    f"SMTP {s.smtp_host}:{s.smtp_port}: {type(exc).__name__}: {exc}"[:500],
                    _code(exc),
                    True,
                )
            return outcomes
        try:
            for mail, ids in batches:
                at = utcnow()
                started = time.perf_counter()
                try:
                    await client.send_message(mail)
                except (aiosmtplib.SMTPException, OSError) as exc:
                    code = _code(exc)
                    down = code is None or code // 100 == TRANSIENT_FIRST_DIGIT
                    failed(ids, f"{type(exc).__name__}: {exc}"[:500], code, down)
                    if down:
                        break
                    continue
                elapsed = (time.perf_counter() - started) * 1000
                outcomes.extend(Outcome(i, at, elapsed, True, status=250) for i in ids)
        finally:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()
        return outcomes


def _code(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)
    if code is None:
        # SMTPRecipientsRefused carries one refusal per recipient.
        for refusal in getattr(exc, "recipients", None) or ():
            code = getattr(refusal, "code", None)
            if code is not None:
                break
    return int(code) if isinstance(code, int) and code > 0 else None
