"""E-mail subscriptions of contact points, delivered through a real SMTP server on loopback
(aiosmtpd, started by the test): each item in the recipient's working language where the alert
has it, routine items collected in a digest."""

from __future__ import annotations

import asyncio
import email
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import Message
from pathlib import Path
from typing import Any

from tests.conftest import CAP12, NAIROBI, cap_time, make_cap
from tests.service.deliveries.conftest import WAIT, Mailbox, tampere

OFFICE = "ro-addis-ababa"
MAIL = f"/api/v1/contact-points/{OFFICE}/email"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def bilingual(identifier: str, *, severity: str = "Severe", urgency: str = "Immediate") -> bytes:
    """A Kenyan alert with an English and a French <info> (CAP 1.2 §3.2.2: one per language)."""

    def info(language: str, headline: str, description: str) -> str:
        return (
            f"<info><language>{language}</language><category>Met</category><event>Flood</event>"
            f"<urgency>{urgency}</urgency><severity>{severity}</severity><certainty>Likely</certainty>"
            f"<headline>{headline}</headline><description>{description}</description>"
            f"<area><areaDesc>Nairobi</areaDesc><polygon>{NAIROBI}</polygon></area></info>"
        )

    return (
        f'<?xml version="1.0" encoding="UTF-8"?><alert xmlns="{CAP12}"><identifier>{identifier}</identifier>'
        f"<sender>alerts@meteo.go.ke</sender><sent>{cap_time(T0)}</sent><status>Actual</status>"
        "<msgType>Alert</msgType><scope>Public</scope>"
        + info("en-KE", "Flash flood warning", "Heavy rain expected.")
        + info("fr", "Avertissement de crue soudaine", "De fortes pluies sont attendues.")
        + "</alert>"
    ).encode()


def smtp(mailbox: Mailbox) -> dict[str, Any]:
    return {"smtp_host": "127.0.0.1", "smtp_port": mailbox.port, "smtp_from": "tampere@itu.example"}


def parsed(raw: bytes) -> Message:
    """A message as a mail client reads it: headers decoded (RFC 2047)."""
    return email.message_from_bytes(raw, policy=policy.default)


def text_of(message: Message) -> str:
    """The plain-text part (the message itself, or its text/plain alternative)."""
    if message.is_multipart():
        message = next(part for part in message.walk() if part.get_content_type() == "text/plain")
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(message.get_content_charset() or "utf-8")


async def subscribe(t: Any, token: str, **body: Any) -> dict[str, Any]:
    response = await t.call("POST", MAIL, token, json={"events": ["alert.received"], **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_each_item_in_the_recipients_language_where_the_alert_has_it(
    database_url: str, tmp_path: Path, smtp_server: Mailbox
) -> None:
    async with tampere(database_url, tmp_path / "var", **smtp(smtp_server)) as t:
        admin = await t.token("administration", country="KEN", senders=["alerts@meteo.go.ke"])
        office = await t.token("office", office=OFFICE)
        french = await subscribe(t, office, address="veille@itu.example", language="fr-CA")
        english = await subscribe(t, office, address="duty@itu.example", language="en")
        arabic = await subscribe(t, office, address="arabic@itu.example", language="ar")
        assert french["language"] == "fr-CA" and french["warnings"] == []
        stored = await t.post_alert(bilingual("MAIL-1"), admin)
        messages = await smtp_server.wait_for(3)
        by_rcpt = {rcpts[0]: parsed(raw) for rcpts, raw in messages}
        fr = by_rcpt["veille@itu.example"]
        assert "Avertissement de crue soudaine" in fr["Subject"] and fr["Content-Language"] == "fr"
        assert "De fortes pluies sont attendues." in text_of(fr)
        assert f"/api/v1/alerts/{stored['id']}" in text_of(fr)
        assert fr["From"] == "tampere@itu.example" and fr["X-Tampere-Events"]
        en = by_rcpt["duty@itu.example"]
        assert "Flash flood warning" in en["Subject"] and en["Content-Language"] == "en-KE"
        # No Arabic <info>: the first block, and the message says so.
        ar = by_rcpt["arabic@itu.example"]
        assert "Flash flood warning" in ar["Subject"] and "لا يتضمن هذا الإنذار معلومات باللغة ar" in text_of(
            ar
        )
        async with asyncio.timeout(WAIT):  # recorded after the server took it
            while True:
                log = (await t.call("GET", f"{MAIL}/{arabic['id']}/deliveries", office)).json()["deliveries"]
                if log[0]["state"] == "delivered":
                    break
                await asyncio.sleep(0.05)
        assert [(e["state"], e["log"][0]["status"]) for e in log] == [("delivered", 250)]
        assert english["address"] == "duty@itu.example"


async def test_routine_items_wait_for_the_digest_and_others_go_at_once(
    database_url: str, tmp_path: Path, smtp_server: Mailbox
) -> None:
    async with tampere(database_url, tmp_path / "var", **smtp(smtp_server)) as t:
        admin = await t.token("administration", country="KEN", senders=["alerts@meteo.go.ke"])
        office = await t.token("office", office=OFFICE)
        # A digest every 0.05 min (3 s) instead of every N minutes: the same rule, faster.
        sub = await subscribe(t, office, address="duty@itu.example", digest_minutes=0.05)
        routine = dict(severity="Minor")  # Minor and not Immediate: routine (contact_points.routing)
        for n in range(3):
            body = make_cap(
                f"ROUTINE-{n}", sent=T0 + timedelta(minutes=n), headline=f"Light rain {n}", **routine
            )
            body = body.replace(b"<urgency>Immediate</urgency>", b"<urgency>Expected</urgency>")
            await t.post_alert(body, admin)
        await t.post_alert(make_cap("URGENT-1", sent=T0 + timedelta(hours=1), headline="Dam breach"), admin)
        first = await smtp_server.wait_for(1)
        assert "Dam breach" in parsed(first[0][1])["Subject"] and "FLASH" in parsed(first[0][1])["Subject"]
        log = (await t.call("GET", f"{MAIL}/{sub['id']}/deliveries", office)).json()["deliveries"]
        waiting = [e for e in log if e["state"] == "pending"]
        assert len(waiting) == 3 and all(e["digest"] and e["priority"] == "routine" for e in waiting)
        messages = await smtp_server.wait_for(2, timeout=WAIT)
        digest = parsed(messages[1][1])
        assert digest["Subject"] == "[Tampere] Digest, routine items: 3"
        body = text_of(digest)
        assert [f"Light rain {n}" in body for n in range(3)] == [True] * 3
        await asyncio.sleep(0.5)
        assert len(smtp_server.messages) == 2  # one digest for the three, nothing twice


async def test_without_an_smtp_server_deliveries_are_kept_pending_not_dropped(
    database_url: str, tmp_path: Path
) -> None:
    async with tampere(database_url, tmp_path / "var") as t:
        admin = await t.token("administration", country="KEN", senders=["alerts@meteo.go.ke"])
        office = await t.token("office", office=OFFICE)
        sub = await subscribe(t, office, address="duty@itu.example")
        assert [w["rule"] for w in sub["warnings"]] == ["delivery.email.smtp-not-configured"]
        await t.post_alert(make_cap("KEPT-1"), admin)
        await asyncio.sleep(1.0)
        log = (await t.call("GET", f"{MAIL}/{sub['id']}/deliveries", office)).json()["deliveries"]
        assert [(e["state"], e["attempts"]) for e in log] == [("pending", 0)]


async def test_bad_subscriptions_are_refused_with_the_rule_and_the_place(
    database_url: str, tmp_path: Path
) -> None:
    async with tampere(database_url, tmp_path / "var") as t:
        operator = await t.token("operator")
        cases = [
            (
                {"address": "not an address", "events": ["alert.received"]},
                "delivery.email.address",
                "/address",
            ),
            (
                {"address": "a@b.example", "events": ["alert.received"], "language": "français"},
                "delivery.email.language",
                "/language",
            ),
            (
                {"address": "a@b.example", "events": ["alert.received"], "digest_minutes": 0},
                "delivery.email.digest",
                "/digest_minutes",
            ),
            ({"address": "a@b.example", "events": ["alert.nope"]}, "delivery.events.unknown", "/events/0"),
        ]
        for body, rule, path in cases:
            response = await t.call("POST", MAIL, operator, json=body)
            assert response.status_code == 422, body
            assert [(e["rule"], e["path"]) for e in response.json()["errors"]] == [(rule, path)]
