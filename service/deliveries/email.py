"""E-mail deliveries: composing a message per event (or a digest of routine items) in the
recipient's working language, and sending through SMTP.

The body of an alert's message is taken from the alert's <info> in the recipient's language
where the alert has one (`cap.languages.best_language`, CAP 1.2 §3.2.2), else from its first
<info>, and says so. What the event says is the event JSON as the recipient's principal is told
it on the stream (the outbox made it so); the alert's content is that of an alert the principal
may see (its event passed the same decision).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import aiosmtplib

from cap.languages import best_language
from service.db.models import utcnow
from service.deliveries.outbox import Outcome
from service.settings import Settings

SUBJECT_CHARS = 200
# SMTP reply codes that say the server is unwell or busy (RFC 5321 §4.2.1: 4yz is transient),
# rather than refusing this one message: the whole channel waits.
TRANSIENT_FIRST_DIGIT = 4


@dataclass(slots=True, frozen=True)
class Item:
    """One event to tell: its delivery, the event JSON, and the alert's model when it is about one."""

    delivery_id: int
    event: Mapping[str, Any]
    priority: str
    alert: Mapping[str, Any] | None


def alert_id_of(body: str) -> int | None:
    """The alert an event JSON is about, if any."""
    value = json.loads(body).get("alert_id")
    return int(value) if isinstance(value, int) else None


def _info(alert: Mapping[str, Any] | None, language: str | None) -> tuple[Mapping[str, Any] | None, bool]:
    infos = list((alert or {}).get("info") or [])
    index, matched = best_language([i.get("language") for i in infos], language)
    return (infos[index] if index >= 0 else None), matched


def _line(label: str, value: Any) -> str | None:
    if value in (None, "", [], {}):
        return None
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value)
    return f"{label}: {value}"


def summary(item: Item, language: str | None) -> str:
    """One line naming the event: its type and the alert's headline (or the request's title)."""
    info, _ = _info(item.alert, language)
    event = item.event
    title = (
        (info or {}).get("headline")
        or (info or {}).get("event")
        or event.get("title")
        or event.get("identifier")
    )
    return f"{event.get('type')}: {title}" if title else str(event.get("type"))


def compose_one(item: Item, *, language: str | None, base_url: str) -> tuple[str, str, str | None]:
    """Subject, text and content language of the message telling one event."""
    event = item.event
    info, matched = _info(item.alert, language)
    lines: list[str | None] = []
    if info is not None:
        lines += [
            info.get("headline"),
            _line("Event", info.get("event")),
            _line("Severity", info.get("severity")),
            _line("Urgency", info.get("urgency")),
            _line("Certainty", info.get("certainty")),
            _line("Area", [a.get("areaDesc") for a in info.get("area") or []]),
            "",
            info.get("description"),
            _line("Instruction", info.get("instruction")),
            _line("From", info.get("senderName") or event.get("sender")),
            _line("Web", info.get("web")),
        ]
        if language and not matched:
            lines.append(
                f"(This alert has no information in {language}; shown in {info.get('language') or 'en-US'}.)"
            )
    else:
        lines += [
            _line(key.replace("_", " ").capitalize(), value)
            for key, value in event.items()
            if key not in ("audience",)
        ]
    lines += [
        "",
        _line("Event", f"{event.get('id')} {event.get('type')} at {event.get('at')}"),
        _line("State", event.get("state")),
        _line("Priority", item.priority),
    ]
    if event.get("alert_id") is not None:
        lines.append(_line("Alert", f"{base_url}/api/v1/alerts/{event['alert_id']}"))
    if event.get("request_id") is not None:
        lines.append(_line("Request", f"{base_url}/api/v1/requests/{event['request_id']}"))
    subject = f"[Tampere] {item.priority.upper()} {summary(item, language)}"[:SUBJECT_CHARS]
    text = "\n".join(line for line in lines if line is not None).strip() + "\n"
    return subject, text, (info or {}).get("language") if info is not None else None


def compose_digest(items: Sequence[Item], *, language: str | None, base_url: str) -> tuple[str, str]:
    """Subject and text of a digest of routine items, oldest first."""
    lines = [f"{len(items)} routine item(s) since the last digest:", ""]
    for item in items:
        event = item.event
        lines.append(f"- {event.get('at')}  {summary(item, language)}")
        if event.get("alert_id") is not None:
            lines.append(f"  {base_url}/api/v1/alerts/{event['alert_id']}")
        if event.get("request_id") is not None:
            lines.append(f"  {base_url}/api/v1/requests/{event['request_id']}")
    subject = f"[Tampere] Digest: {len(items)} routine item(s)"
    return subject, "\n".join(lines) + "\n"


def message(
    *, sender: str, to: str, subject: str, text: str, language: str | None, event_ids: Sequence[int]
) -> EmailMessage:
    """A plain-text UTF-8 message with the event ids it tells in a header of its own."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = format_datetime(utcnow())
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    mail["X-Tampere-Events"] = " ".join(str(i) for i in event_ids)
    mail.set_content(text)
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
