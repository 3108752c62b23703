"""Administering delivery channels in place: a webhook's secret rotated with a grace period in
which both secrets sign (checked with the `standardwebhooks` package, as a receiver does), a
webhook's URL and events and an e-mail subscription's address, language and digest changed by
PATCH without losing the channel's place in the outbox or its log, and bodies of the wrong JSON
type refused. Real uvicorn servers on loopback (the service, the receivers), real SMTP."""

from __future__ import annotations

import asyncio
import email
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from service.deliveries.store import channel_row
from tests.service.deliveries.conftest import WAIT, Mailbox, Receiver, Tampere, tampere
from tests.service.deliveries.test_email import smtp
from tests.service.deliveries.test_webhooks import HOOKS, OFFICE, T0, alert, delivery_log, register

MAIL = f"/api/v1/contact-points/{OFFICE}/email"
KEN = "alerts@meteo.go.ke"


def verifies(secret: str, got: Any) -> bool:
    """Whether a receiver holding `secret` accepts the delivery."""
    try:
        Webhook(secret).verify(got.body, got.headers)
    except WebhookVerificationError:
        return False
    return True


async def settled(t: Tampere, token: str, hook_id: int, count: int) -> list[dict[str, Any]]:
    """The delivery log once it holds `count` deliveries, none pending."""
    async with asyncio.timeout(WAIT):
        while True:
            log = await delivery_log(t, token, hook_id)
            if len(log) >= count and all(entry["state"] != "pending" for entry in log):
                return log
            await asyncio.sleep(0.05)


# --- rotating a secret ---------------------------------------------------------------------------


async def test_a_rotated_secret_signs_beside_the_old_one_until_the_grace_period_ends(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    grace = 3.0
    async with tampere(database_url, tmp_path / "var", webhook_secret_grace_seconds=grace) as t:
        admin = await t.token("administration", country="KEN", senders=[KEN])
        office = await t.token("office", office=OFFICE)
        hook = await register(t, office, receiver.url)
        old = hook["secret"]
        await t.post_alert(alert(1), admin)
        [first] = await receiver.wait_for(1)
        assert verifies(old, first) and len(first.headers["webhook-signature"].split(" ")) == 1

        rotated = await t.call("POST", f"{HOOKS}/{hook['id']}/secret", office)
        assert rotated.status_code == 200, rotated.text
        rotated_at = time.monotonic()
        new = rotated.json()["secret"]
        assert new.startswith("whsec_") and new != old and rotated.json()["id"] == hook["id"]
        assert rotated.json()["previous_secret_until"] is not None
        listed = (await t.call("GET", f"{HOOKS}/{hook['id']}", office)).json()
        assert "secret" not in listed and listed["previous_secret_until"] is not None

        # Within the grace period: two signatures, the new one first; either secret verifies.
        await t.post_alert(alert(2), admin)
        second = (await receiver.wait_for(2))[1]
        assert time.monotonic() - rotated_at < grace, "the test machine is too slow for this grace"
        signatures = second.headers["webhook-signature"].split(" ")
        assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
        assert verifies(new, second) and verifies(old, second)

        # After it: only the new secret signs; a receiver still holding the old one refuses.
        await asyncio.sleep(max(0.0, grace - (time.monotonic() - rotated_at)) + 0.2)
        await t.post_alert(alert(3), admin)
        third = (await receiver.wait_for(3))[2]
        assert len(third.headers["webhook-signature"].split(" ")) == 1
        assert verifies(new, third) and not verifies(old, third)
        listed = (await t.call("GET", f"{HOOKS}/{hook['id']}", office)).json()
        assert listed["previous_secret_until"] is None
        # ...and the old secret is not kept once it signs nothing.
        row = await t.app.state.runtime.db.read(lambda conn: channel_row(conn, hook["id"]))
        assert (row.secret, row.previous_secret, row.previous_secret_until) == (new, None, None)
        # The channel is the same one throughout: one log, every delivery in it.
        log = await settled(t, office, hook["id"], 3)
        assert [entry["state"] for entry in log] == ["delivered"] * 3


async def test_who_may_rotate_a_secret(database_url: str, tmp_path: Path, receiver: Receiver) -> None:
    async with tampere(database_url, tmp_path / "var") as t:
        office = await t.token("office", office=OFFICE)
        other = await t.token("office", office="ro-bangkok")
        operator = await t.token("operator")
        hook = await register(t, office, receiver.url)
        path = f"{HOOKS}/{hook['id']}/secret"
        refused = await t.call("POST", path, other)
        assert refused.status_code == 403 and refused.json()["errors"][0]["rule"] == "delivery.forbidden"
        assert (await t.call("POST", path, operator, json={})).status_code == 200
        missing = await t.call("POST", f"{HOOKS}/{hook['id'] + 99}/secret", operator)
        assert missing.status_code == 404
        assert missing.json()["errors"][0]["rule"] == "delivery.channel.not-found"
        body = await t.call("POST", path, operator, json={"secret": "whsec_mine"})
        assert body.status_code == 422 and body.json()["errors"][0]["rule"] == "delivery.webhook.secret.body"
        # An e-mail subscription has no secret.
        mail = await t.call(
            "POST", MAIL, office, json={"address": "a@itu.example", "events": ["alert.received"]}
        )
        assert mail.status_code == 201, mail.text
        assert (await t.call("POST", f"{HOOKS}/{mail.json()['id']}/secret", office)).status_code == 404


# --- changing a channel in place -------------------------------------------------------------------


async def test_a_webhook_moves_to_a_new_url_without_losing_what_was_pending(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    moved = Receiver()
    await moved.up()
    try:
        async with tampere(database_url, tmp_path / "var") as t:
            admin = await t.token("administration", country="KEN", senders=[KEN])
            office = await t.token("office", office=OFFICE)
            hook = await register(t, office, receiver.url)
            first = await t.post_alert(alert(1), admin)
            await receiver.wait_for(1)
            # The old endpoint goes away; what is posted meanwhile waits in the outbox.
            await receiver.down()
            second = await t.post_alert(alert(2), admin)
            async with asyncio.timeout(WAIT):
                while not (await delivery_log(t, office, hook["id"]))[0]["log"]:
                    await asyncio.sleep(0.05)
            changed = await t.call(
                "PATCH",
                f"{HOOKS}/{hook['id']}",
                office,
                json={"url": moved.url, "events": ["alert.received", "alert.cancelled"]},
            )
            assert changed.status_code == 200, changed.text
            body = changed.json()
            assert (body["id"], body["url"], body["events"]) == (
                hook["id"],
                moved.url,
                ["alert.received", "alert.cancelled"],
            )
            assert body["health"]["consecutive_failures"] == 0  # the new endpoint starts afresh
            # The pending delivery goes to the new URL, signed with the same secret.
            [got] = await moved.wait_for(1)
            payload = Webhook(hook["secret"]).verify(got.body, got.headers)
            assert payload["alert_id"] == second["id"]
            # The new event type is delivered from now on.
            assert first["identifier"] == "HOOK-1"
            cancel = alert(9, msg_type="Cancel", references=[(KEN, "HOOK-1", T0 + timedelta(minutes=1))])
            await t.post_alert(cancel, admin)
            got = await moved.wait_for(3)
            types = [Webhook(hook["secret"]).verify(r.body, r.headers)["type"] for r in got]
            assert types == ["alert.received", "alert.received", "alert.cancelled"]
            # One log throughout: the first delivery (to the old URL) is still in it.
            log = await settled(t, office, hook["id"], 4)
            assert sorted(entry["event_id"] for entry in log)[0] < payload["id"]
            assert {entry["state"] for entry in log} == {"delivered"}
    finally:
        await moved.down()


async def test_a_webhook_change_is_checked_as_a_registration(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    async with tampere(database_url, tmp_path / "var", webhook_allow_private_addresses=False) as t:
        office = await t.token("office", office=OFFICE)
        operator = await t.token("operator")
        hook = await register(t, operator, "https://duty.example.org/hook")
        path = f"{HOOKS}/{hook['id']}"
        cases = [
            ({"url": "http://127.0.0.1:9/hook"}, "delivery.webhook.forbidden-address", "/url"),
            ({"url": "ftp://duty.example.org/x"}, "delivery.webhook.url", "/url"),
            ({"url": None}, "delivery.patch.null", "/url"),
            ({"events": ["alert.exploded"]}, "delivery.events.unknown", "/events/0"),
            ({"events": []}, "delivery.events.missing", "/events"),
            ({"country": "Atlantis"}, "delivery.filter.invalid", "/country"),
            ({"routed_only": "yes"}, "request.body.invalid", "/routed_only"),
            ({"secret": "whsec_x"}, "request.body.invalid", "/secret"),
        ]
        for change, rule, where in cases:
            refused = await t.call("PATCH", path, office, json=change)
            assert refused.status_code == 422, (change, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"
            assert (rule, where) in {(e["rule"], e["path"]) for e in refused.json()["errors"]}, refused.text
        # Nothing changed by the refusals; a filter set and taken off again.
        same = (await t.call("GET", path, office)).json()
        assert (same["url"], same["events"], same["country"]) == (hook["url"], hook["events"], None)
        set_ = await t.call("PATCH", path, office, json={"country": "ken", "routed_only": True})
        assert (set_.json()["country"], set_.json()["routed_only"]) == ("KEN", True)
        unset = await t.call("PATCH", path, office, json={"country": None})
        assert (unset.json()["country"], unset.json()["routed_only"]) == (None, True)
        other = await t.token("office", office="ro-bangkok")
        assert (await t.call("PATCH", path, other, json={"country": None})).status_code == 403


async def test_an_email_subscription_changes_address_language_and_digest_in_place(
    database_url: str, tmp_path: Path, smtp_server: Mailbox
) -> None:
    async with tampere(database_url, tmp_path / "var", **smtp(smtp_server)) as t:
        admin = await t.token("administration", country="KEN", senders=[KEN])
        office = await t.token("office", office=OFFICE)
        made = await t.call(
            "POST",
            MAIL,
            office,
            json={"address": "veille@itu.example", "events": ["alert.received"], "language": "fr"},
        )
        assert made.status_code == 201, made.text
        sub = made.json()
        path = f"{MAIL}/{sub['id']}"
        changed = await t.call(
            "PATCH",
            path,
            office,
            json={"address": "guardia@itu.example", "language": "es", "digest_minutes": 30},
        )
        assert changed.status_code == 200, changed.text
        body = changed.json()
        assert (body["id"], body["address"], body["language"], body["digest_minutes"]) == (
            sub["id"],
            "guardia@itu.example",
            "es",
            30.0,
        )
        back = await t.call("PATCH", path, office, json={"digest_minutes": None, "language": None})
        assert (back.json()["digest_minutes"], back.json()["language"]) == (None, None)
        for change, rule, where in [
            ({"address": "not an address"}, "delivery.email.address", "/address"),
            ({"address": None}, "delivery.patch.null", "/address"),
            ({"language": "english!"}, "delivery.email.language", "/language"),
            ({"digest_minutes": "60"}, "request.body.invalid", "/digest_minutes"),
            ({"digest_minutes": 100000}, "delivery.email.digest", "/digest_minutes"),
        ]:
            refused = await t.call("PATCH", path, office, json=change)
            assert refused.status_code == 422, (change, refused.text)
            assert (rule, where) in {(e["rule"], e["path"]) for e in refused.json()["errors"]}, refused.text
        await t.post_alert(alert(1), admin)
        [(rcpts, raw)] = await smtp_server.wait_for(1)
        assert (
            rcpts == ["guardia@itu.example"] and email.message_from_bytes(raw)["To"] == "guardia@itu.example"
        )


# --- wrong JSON types --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("collection", "body", "where"),
    [
        (
            "webhooks",
            {"url": "https://duty.example.org/h", "events": ["alert.received"], "routed_only": "yes"},
            "/routed_only",
        ),
        (
            "webhooks",
            {"url": "https://duty.example.org/h", "events": ["alert.received"], "routed_only": 1},
            "/routed_only",
        ),
        ("webhooks", {"url": "https://duty.example.org/h", "events": "alert.received"}, "/events"),
        ("webhooks", {"url": 7, "events": ["alert.received"]}, "/url"),
        (
            "email",
            {"address": "a@itu.example", "events": ["alert.received"], "digest_minutes": "60"},
            "/digest_minutes",
        ),
        (
            "email",
            {"address": "a@itu.example", "events": ["alert.received"], "digest_minutes": True},
            "/digest_minutes",
        ),
        ("email", {"address": "a@itu.example", "events": ["alert.received"], "language": 5}, "/language"),
    ],
)
async def test_a_value_of_the_wrong_json_type_is_refused_not_coerced(
    tmp_path: Path, collection: str, body: dict[str, Any], where: str
) -> None:
    async with tampere(f"sqlite+aiosqlite:///{tmp_path / 't.db'}", tmp_path / "var") as t:
        operator = await t.token("operator")
        refused = await t.call("POST", f"/api/v1/contact-points/{OFFICE}/{collection}", operator, json=body)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert ("request.body.invalid", where) in {(e["rule"], e["path"]) for e in refused.json()["errors"]}
        listed = await t.call("GET", f"/api/v1/contact-points/{OFFICE}/{collection}", operator)
        assert listed.json()[collection] == []
