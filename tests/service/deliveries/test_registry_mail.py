"""The registry's e-mail addresses are delivery channels, and every e-mail speaks its recipient's
language and says what the recipient needs to act: through the API, a real SMTP server on
loopback (aiosmtpd) and a clock the test moves for the escalation deadlines."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from email.message import Message
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from service.alerts.escalation import sweep_once
from tests.service.alerts.test_acknowledgement import Clock
from tests.service.alerts.test_routing import HAITI, alert
from tests.service.assistance.test_requests import body as request_body
from tests.service.deliveries.conftest import WAIT, Mailbox, tampere
from tests.service.deliveries.test_email import bilingual, parsed, smtp, text_of

BRIDGETOWN = "/api/v1/contact-points/ao-bridgetown"
ADDIS = "/api/v1/contact-points/ro-addis-ababa"
BASE = "https://tampere.itu.example"
# French writes a non-breaking space before a colon.
FR = "\u00a0: "


def html_of(message: Message) -> str:
    part = next(p for p in message.walk() if p.get_content_type() == "text/html")
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(part.get_content_charset() or "utf-8")


async def mail_for(mailbox: Mailbox, address: str, count: int = 1) -> list[Message]:
    """The messages addressed to `address`, once `count` have arrived."""
    async with asyncio.timeout(WAIT):
        while True:
            found = [parsed(raw) for rcpts, raw in mailbox.messages if address in rcpts]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.02)


def addressed(mailbox: Mailbox) -> Sequence[str]:
    return [rcpt for rcpts, _ in mailbox.messages for rcpt in rcpts]


def earthquake(identifier: str) -> bytes:
    return alert(
        identifier, HAITI, event="Earthquake", category="Geo", urgency="Immediate", certainty="Observed"
    )


async def test_registry_addresses_get_the_routed_alert_and_the_escalation_steps_addressed_to_them(
    database_url: str, tmp_path: Path, smtp_server: Mailbox
) -> None:
    clock = Clock()
    settings = dict(ack_flash_seconds=600, alert_escalation_seconds=3600, public_base_url=BASE)
    async with tampere(database_url, tmp_path / "var", clock=clock, **settings, **smtp(smtp_server)) as t:
        operator = await t.token("operator")
        office = await t.token("office", office="ao-bridgetown")
        record = (await t.call("GET", BRIDGETOWN, operator)).json()
        record["people"] = [
            {
                "name": "Marie Joseph",
                "role": "deputy",
                "languages": ["fr"],
                "time_zone": "America/Barbados",
                "email": "marie@bgi.example",
            },
            {"name": "Ana Ruiz", "role": "head of office", "languages": ["es"], "email": "head@bgi.example"},
        ]
        record["deputies"], record["head"] = ["Marie Joseph"], "Ana Ruiz"
        record["channels"]["email"] = ["registry-bgi@bgi.example"]
        put = await t.call("PUT", BRIDGETOWN, operator, json=record)
        assert put.status_code == 200, put.text
        # An explicit subscription beside the registry's addresses keeps working, in English.
        sub = await t.call(
            "POST",
            f"{BRIDGETOWN}/email",
            office,
            json={"address": "sub@bgi.example", "events": ["alert.received"], "language": "en"},
        )
        assert sub.status_code == 201, sub.text
        hook = await t.call(
            "POST",
            f"{BRIDGETOWN}/webhooks",
            office,
            json={"url": "http://127.0.0.1:9/h", "events": ["alert.received"]},
        )
        assert hook.status_code == 201, hook.text

        # The contact point as its own office and the operator see it: the real channels.
        for token in (office, operator):
            channels = (await t.call("GET", BRIDGETOWN, token)).json()["channels"]
            assert [w["url"] for w in channels["webhooks"]] == ["http://127.0.0.1:9/h"]
            assert "secret" not in channels["webhooks"][0]
            listed = {e["address"]: e["registry"] for e in channels["email_subscriptions"]}
            assert listed == {
                "registry-bgi@bgi.example": ["contact"],
                "marie@bgi.example": ["deputies"],
                "head@bgi.example": ["head"],
                "sub@bgi.example": None,
            }
        outsider = await t.token("office", office="ro-bangkok")
        seen = (await t.call("GET", BRIDGETOWN, outsider)).json()["channels"]
        assert "webhooks" not in seen and "email_subscriptions" not in seen
        # What GET answered, sent back, is a valid body that changes nothing.
        again = (await t.call("GET", BRIDGETOWN, operator)).json()
        assert (await t.call("PUT", BRIDGETOWN, operator, json=again)).status_code == 200

        posted = await t.post_alert(earthquake("EQ-MAIL-1"), operator)
        alert_id = posted["id"]
        entry = next(e for e in posted["routing"] if e["contact_point"] == "ao-bridgetown")
        assert entry["escalate_to"][:2] == ["ao-bridgetown#deputies", "ao-bridgetown#head"]

        [routed] = await mail_for(smtp_server, "registry-bgi@bgi.example")
        [subscribed] = await mail_for(smtp_server, "sub@bgi.example")
        assert {"marie@bgi.example", "head@bgi.example"}.isdisjoint(addressed(smtp_server))
        # No language on the registry address: the people's (the first listed: French).
        body = text_of(routed)
        assert routed["Content-Language"].startswith("fr")
        assert f"Gravité{FR}Grave" in body and f"Priorité{FR}Flash" in body
        assert "Votre entrée d'acheminement (ao-bridgetown)" in body
        assert f"Règle{FR}{entry['rule']}" in body
        # The deadline, and the same in the local time of the people (Barbados: UTC-4).
        local = datetime.fromisoformat(entry["ack_deadline"]).astimezone(ZoneInfo("America/Barbados"))
        deadline = f"{entry['ack_deadline']} ({local:%Y-%m-%d %H:%M} America/Barbados)"
        assert f"Accuser réception avant{FR}{deadline}" in body
        for reason in entry["reasons"]:
            assert reason in body
        unverified = [p for p in entry["provenance"] if not p["verified"]]
        assert unverified, entry["provenance"]  # the area office's coverage is not verified
        for fact in unverified:
            assert f"Non vérifié{FR}{fact['fact']}" in body
        assert f"{BASE}/?alert={alert_id}" in body
        assert f"POST {BASE}/api/v1/alerts/{alert_id}/ack" in body
        assert "Severity: Severe" in text_of(subscribed)

        # Ten minutes without an acknowledgement: the deputy is asked, in French; not the head.
        clock.advance(seconds=601)
        assert await sweep_once(t.app.state.runtime) == 1
        [deputy] = await mail_for(smtp_server, "marie@bgi.example")
        text = text_of(deputy)
        assert "Alerte remontée" in deputy["Subject"]
        assert f"Réception non confirmée à temps par{FR}ao-bridgetown" in text
        assert f"Désormais sollicité{FR}ao-bridgetown#deputies" in text
        assert "en tant qu'adjoint de ao-bridgetown" in text
        assert f"POST {BASE}/api/v1/alerts/{alert_id}/ack" in text
        # The contact point's own address is told its item left it.
        await mail_for(smtp_server, "registry-bgi@bgi.example", 2)
        await asyncio.sleep(0.3)
        assert "head@bgi.example" not in addressed(smtp_server)

        # Ten more: the head, in Spanish; the deputy hears nothing of it.
        clock.advance(seconds=600)
        assert await sweep_once(t.app.state.runtime) == 1
        [head] = await mail_for(smtp_server, "head@bgi.example")
        text = text_of(head)
        assert "Alerta escalada" in head["Subject"] and head["Content-Language"].startswith("es")
        assert "Recepción no confirmada a tiempo por: ao-bridgetown" in text
        assert "Ahora se solicita a: ao-bridgetown#head" in text
        assert "como responsable de ao-bridgetown" in text
        assert len(await mail_for(smtp_server, "marie@bgi.example")) == 1

        # The office acknowledges: its address is told who did it.
        ack = await t.call("POST", f"/api/v1/alerts/{alert_id}/ack", office)
        assert ack.status_code == 200, ack.text
        messages = await mail_for(smtp_server, "registry-bgi@bgi.example", 4)
        told = next(m for m in messages if "alert.routing.acknowledged" in text_of(m))
        assert f"Réception confirmée par{FR}office:ao-bridgetown" in text_of(told)

        # A registry address's channel goes with the address: not by DELETE, by the registry.
        channels = (await t.call("GET", BRIDGETOWN, operator)).json()["channels"]["email_subscriptions"]
        registry = next(c for c in channels if c["address"] == "registry-bgi@bgi.example")
        refused = await t.call("DELETE", f"{BRIDGETOWN}/email/{registry['id']}", operator)
        assert refused.status_code == 409
        assert [(e["rule"], e["path"]) for e in refused.json()["errors"]] == [
            ("delivery.email.registry-address", "{channel_id}")
        ]
        record = (await t.call("GET", BRIDGETOWN, operator)).json()
        record["channels"]["email"] = []
        assert (await t.call("PUT", BRIDGETOWN, operator, json=record)).status_code == 200
        channels = (await t.call("GET", BRIDGETOWN, operator)).json()["channels"]["email_subscriptions"]
        assert sorted(c["address"] for c in channels) == [
            "head@bgi.example",
            "marie@bgi.example",
            "sub@bgi.example",
        ]


async def test_labels_and_vocabulary_in_the_subscribers_language_and_the_peoples_without_one(
    database_url: str, tmp_path: Path, smtp_server: Mailbox
) -> None:
    async with tampere(database_url, tmp_path / "var", **smtp(smtp_server)) as t:
        operator = await t.token("operator")
        admin = await t.token("administration", country="KEN", senders=["alerts@meteo.go.ke"])
        office = await t.token("office", office="ro-addis-ababa")
        record = (await t.call("GET", ADDIS, operator)).json()
        record["people"] = [{"name": "Ivan Petrov", "role": "duty officer", "languages": ["ru", "en"]}]
        assert (await t.call("PUT", ADDIS, operator, json=record)).status_code == 200

        async def subscribe(address: str, **extra: Any) -> None:
            body = {"address": address, "events": ["alert.received"], **extra}
            assert (await t.call("POST", f"{ADDIS}/email", office, json=body)).status_code == 201

        await subscribe("veille@itu.example", language="fr")
        await subscribe("arabic@itu.example", language="ar")
        await subscribe("plain@itu.example")  # no language: the people's, Russian
        await t.post_alert(bilingual("WORDS-1"), admin)
        await smtp_server.wait_for(3)
        by_rcpt = {rcpts[0]: parsed(raw) for rcpts, raw in smtp_server.messages}

        fr = by_rcpt["veille@itu.example"]
        text = text_of(fr)
        assert fr["Subject"].startswith(f"[Tampere] FLASH Nouvelle alerte{FR}Avertissement de crue soudaine")
        for words in (
            f"Gravité{FR}Grave",
            f"Urgence{FR}Immédiate",
            f"Certitude{FR}Probable",
            f"Zone{FR}Nairobi",
        ):
            assert words in text, words
        assert "Severity" not in text and "Priority" not in text

        ar = by_rcpt["arabic@itu.example"]
        text = text_of(ar)
        assert "إنذار جديد" in ar["Subject"] and "عاجل جدًا" in ar["Subject"]
        for words in ("الخطورة: شديدة", "الإلحاح: فوري", "اليقين: مرجَّح", "الأولوية: عاجل جدًا"):
            assert words in text, words
        # No Arabic <info>: the alert's text is English, said so in Arabic; both languages named.
        assert "لا يتضمن هذا الإنذار معلومات باللغة ar" in text
        assert ar["Content-Language"] == "ar, en-KE"
        html = html_of(ar)
        assert '<html lang="ar" dir="rtl">' in html
        assert '<h1 lang="en-KE" dir="auto">Flash flood warning</h1>' in html

        ru = by_rcpt["plain@itu.example"]
        assert "Серьёзность: Высокая" in text_of(ru) and "Приоритет: Молния" in text_of(ru)
        assert ru["Content-Language"].startswith("ru")


async def test_a_digest_is_in_one_language_the_channels(
    database_url: str, tmp_path: Path, smtp_server: Mailbox
) -> None:
    async with tampere(database_url, tmp_path / "var", **smtp(smtp_server)) as t:
        admin = await t.token("administration", country="KEN", senders=["alerts@meteo.go.ke"])
        office = await t.token("office", office="ro-addis-ababa")
        body = {"address": "resumen@itu.example", "events": ["alert.received"], "language": "es"}
        body["digest_minutes"] = 0.02
        assert (await t.call("POST", f"{ADDIS}/email", office, json=body)).status_code == 201
        routine = bilingual("DIGEST-1", severity="Minor", urgency="Expected")
        await t.post_alert(routine, admin)
        [(_, raw)] = await smtp_server.wait_for(1)
        digest = parsed(raw)
        assert digest["Subject"] == "[Tampere] Resumen, elementos de rutina: 1"
        assert digest["Content-Language"] == "es"
        assert "Elementos de rutina desde el último resumen: 1" in text_of(digest)
        assert "Alerta (API)" in text_of(digest)


async def test_a_request_addressed_to_the_contact_point_reaches_its_registry_address(
    database_url: str, tmp_path: Path, smtp_server: Mailbox
) -> None:
    async with tampere(database_url, tmp_path / "var", public_base_url=BASE, **smtp(smtp_server)) as t:
        operator = await t.token("operator")
        haiti = await t.token("administration", country="HTI")
        record = (await t.call("GET", BRIDGETOWN, operator)).json()
        record["channels"]["email"] = ["registry-bgi@bgi.example"]
        record["people"] = [{"name": "Marie Joseph", "languages": ["fr"]}]
        assert (await t.call("PUT", BRIDGETOWN, operator, json=record)).status_code == 200
        filed = await t.call("POST", "/api/v1/requests", haiti, json=request_body())
        assert filed.status_code == 201, filed.text
        request = filed.json()
        [told] = await mail_for(smtp_server, "registry-bgi@bgi.example")
        text = text_of(told)
        assert "Nouvelle demande" in told["Subject"]
        assert f"Titre{FR}{request_body()['title']}" in text
        assert f"Demande (API){FR}{BASE}/api/v1/requests/{request['id']}" in text
        assert (
            "Votre entrée d'acheminement (ao-bridgetown)" in text and f"Accuser réception avant{FR}" in text
        )
        assert f"POST {BASE}/api/v1/requests/{request['id']}/ack" in text
