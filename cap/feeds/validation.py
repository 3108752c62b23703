"""The verdict on a feed: its own conformance plus one report per message it carries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from cap.errors import Finding
from cap.feeds.document import read_feed
from cap.feeds.model import Feed, FeedEntry
from cap.parsing import check_alert_element
from cap.report import Report
from cap.trust import Trust


@dataclass(frozen=True, slots=True)
class MessageChecks:
    """How embedded XML messages are checked (as `cap.validate` takes them)."""

    profiles: Sequence[str] = ()
    verify_signature: bool = True
    trusted_certs: Trust = ()


def _placed(findings: list[Finding], alert_path: str) -> list[Finding]:
    # The embedded alert was checked as its own document ("/alert/info[1]/..."); name the place
    # in the feed instead, so one path leads to the fault.
    out: list[Finding] = []
    for f in findings:
        if f.path == "/alert" or f.path.startswith("/alert/"):
            out.append(replace(f, path=alert_path + f.path[len("/alert") :]))
        elif f.path.startswith("/"):
            out.append(replace(f, path=alert_path + ("" if f.path == "/" else f.path)))
        else:
            out.append(f)
    return out


def _message_report(entry: FeedEntry, checks: MessageChecks) -> Report | None:
    if entry.alert_xml is not None:
        report = check_alert_element(
            entry.alert_xml,
            verify_signature=checks.verify_signature,
            profiles=checks.profiles,
            trusted_certs=checks.trusted_certs,
        )
        where = entry.alert_path or entry.path
        report.errors = _placed(report.errors, where)
        report.warnings = _placed(report.warnings, where)
        return report
    if entry.alert is not None or entry.errors:
        return Report(
            valid=not entry.errors,
            ingestible=entry.alert is not None,
            version="1.2" if entry.alert is not None else None,
            kind="alert",
            errors=list(entry.errors),
            warnings=list(entry.warnings),
            alert=entry.alert,
        )
    return None  # an index entry: the message is elsewhere, behind entry.link


def _invalid_message(entry: FeedEntry, message: Report) -> Finding:
    # Named at feed level too, so `valid: false` always comes with an error that says why.
    first = message.errors[0] if message.errors else None
    detail = f"; first: {first.rule} at {first.path}: {first.message}" if first else ""
    count = len(message.errors)
    name = message.alert.identifier if message.alert is not None else entry.id
    return Finding(
        "feed.message-invalid",
        f"CAP message {name or '(no identifier)'} is not valid, {count} error(s){detail}",
        entry.alert_path or entry.path,
    )


def feed_report(feed: Feed, checks: MessageChecks = MessageChecks()) -> Report:
    """Turn a read feed into a Report: valid only if the feed and every message conform."""
    errors = list(feed.errors)
    messages: list[Report] = []
    for entry in feed.entries:
        message = _message_report(entry, checks)
        if message is None:
            continue
        messages.append(message)
        if not message.valid:
            errors.append(_invalid_message(entry, message))
    versions = {m.version for m in messages if m.version}
    return Report(
        valid=not errors,
        ingestible=not feed.fatal and all(m.ingestible for m in messages),
        version=versions.pop() if len(versions) == 1 else None,
        kind=feed.kind,
        errors=errors,
        warnings=list(feed.warnings),
        messages=messages,
    )


def validate_feed(
    data: bytes,
    *,
    now: datetime | None = None,
    profiles: Sequence[str] = (),
    verify_signature: bool = True,
    trusted_certs: Trust = (),
) -> Report:
    """Validate a feed of CAP messages; never raises on bad input.

    Embedded XML messages get `cap.parsing.check_alert_element` with the given profiles and
    signature settings; `now` resolves api.weather.gov's relative date templates.
    """
    checks = MessageChecks(profiles=profiles, verify_signature=verify_signature, trusted_certs=trusted_certs)
    return feed_report(read_feed(data, now=now), checks)
