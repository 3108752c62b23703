"""Webhooks of contact points through the API: registration and its refusals, Standard Webhooks
signatures checked with the `standardwebhooks` package, the same event JSON the websocket sends,
an outage of the receiver, dead letters and redelivery, restarts and two instances. Real
uvicorn servers on loopback throughout (the service and the receiver), SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook
from websockets.asyncio.client import connect

from tests.conftest import make_cap
from tests.service.deliveries.conftest import WAIT, Receiver, Tampere, tampere

OFFICE = "ro-addis-ababa"  # the regional office of Nairobi's alerts (ITU-D region Africa)
HOOKS = f"/api/v1/contact-points/{OFFICE}/webhooks"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def alert(n: int, **kwargs: Any) -> bytes:
    """A distinct Kenyan alert over Nairobi."""
    return make_cap(f"HOOK-{n}", sent=T0 + timedelta(minutes=n), **kwargs)


async def register(
    t: Tampere, token: str, url: str, events: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    """Register a webhook of the office; its JSON (with the secret)."""
    body = {"url": url, "events": events or ["alert.received"], **extra}
    response = await t.call("POST", HOOKS, token, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def verified(secret: str, got: Any) -> dict[str, Any]:
    """The body of a received delivery, verified as a receiver would (standardwebhooks)."""
    payload: dict[str, Any] = Webhook(secret).verify(got.body, got.headers)
    return payload


async def delivery_log(t: Tampere, token: str, hook_id: int, **params: Any) -> list[dict[str, Any]]:
    response = await t.call("GET", f"{HOOKS}/{hook_id}/deliveries", token, params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["deliveries"])


async def until(predicate: Any, timeout: float = WAIT) -> None:
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.05)


# --- the happy path ---------------------------------------------------------------------------


async def test_a_delivery_is_signed_and_is_the_event_the_websocket_sends(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    async with tampere(database_url, tmp_path / "var") as t:
        admin = await t.token("administration", country="KEN", senders=["alerts@meteo.go.ke"])
        office = await t.token("office", office=OFFICE)
        hook = await register(t, office, receiver.url)
        assert hook["secret"].startswith("whsec_") and hook["events"] == ["alert.received"]
        url = f"ws://127.0.0.1:{t.port}/api/v1/events"
        async with connect(url, additional_headers={"Authorization": f"Bearer {office}"}) as ws:
            stored = await t.post_alert(alert(1), admin)
            streamed = await asyncio.wait_for(ws.recv(), WAIT)
        got = (await receiver.wait_for(1))[0]
        payload = verified(hook["secret"], got)
        # Byte for byte what the office's websocket was sent, and the event's id as webhook-id.
        assert got.body.decode() == streamed
        assert payload["type"] == "alert.received" and payload["alert_id"] == stored["id"]
        assert got.headers["webhook-id"] == str(payload["id"])
        assert abs(int(got.headers["webhook-timestamp"]) - datetime.now(UTC).timestamp()) < 60
        assert got.headers["content-type"] == "application/json"
        # The receiver has the request before the worker has its answer and records it: wait for
        # the log to say so rather than read it at once.
        deadline = asyncio.get_running_loop().time() + WAIT
        while True:
            [entry] = await delivery_log(t, office, hook["id"])
            if entry["state"] != "pending" or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.05)
        assert entry["state"] == "delivered" and entry["attempts"] == 1
        assert entry["log"][0]["status"] == 204 and entry["event_id"] == payload["id"]
        # A tampered body does not verify.
        with pytest.raises(Exception, match="signature"):
            Webhook(hook["secret"]).verify(got.body.replace(b"HOOK-1", b"HOOK-X"), got.headers)


async def test_only_the_event_types_asked_for_and_only_what_the_office_may_see(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    async with tampere(database_url, tmp_path / "var") as t:
        admin = await t.token("administration", country="KEN", senders=["alerts@meteo.go.ke"])
        office = await t.token("office", office=OFFICE)
        hook = await register(t, office, receiver.url, events=["alert.received", "alert.cancelled"])
        # Private, addressed to someone else: the office may not see it, on the stream or here.
        await t.post_alert(alert(1, scope="Private", addresses=["someone@else.example"]), admin)
        first = await t.post_alert(alert(2), admin)
        cancel = make_cap(
            "HOOK-2-cancel",
            sent=T0 + timedelta(hours=1),
            msg_type="Cancel",
            references=[("alerts@meteo.go.ke", "HOOK-2", T0 + timedelta(minutes=2))],
        )
        cancelled = await t.post_alert(cancel, admin)
        got = await receiver.wait_for(3)
        await asyncio.sleep(0.5)  # nothing else comes
        payloads = [verified(hook["secret"], r) for r in receiver.received]
        # The Cancel is a message received too, then the alert it cancels is cancelled.
        assert [(p["type"], p["alert_id"]) for p in payloads] == [
            ("alert.received", first["id"]),
            ("alert.received", cancelled["id"]),
            ("alert.cancelled", first["id"]),
        ], got


# --- refusals ----------------------------------------------------------------------------------


async def test_internal_addresses_are_refused_unless_allowed(database_url: str, tmp_path: Path) -> None:
    async with tampere(database_url, tmp_path / "var", webhook_allow_private_addresses=False) as t:
        operator = await t.token("operator")
        for url in ("http://127.0.0.1:8080/hook", "http://169.254.169.254/latest", "http://[::1]/x"):
            response = await t.call("POST", HOOKS, operator, json={"url": url, "events": ["alert.received"]})
            assert response.status_code == 422, url
            problem = response.json()
            assert response.headers["content-type"] == "application/problem+json"
            [error] = problem["errors"]
            assert error["rule"] == "delivery.webhook.forbidden-address" and error["path"] == "/url"
            assert "TAMPERE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES" in error["message"]


async def test_bad_registrations_name_the_rule_and_the_place(database_url: str, tmp_path: Path) -> None:
    async with tampere(database_url, tmp_path / "var") as t:
        operator = await t.token("operator")
        cases = [
            (
                {"url": "http://127.0.0.1/x", "events": ["alert.recieved"]},
                "delivery.events.unknown",
                "/events/0",
            ),
            ({"url": "http://127.0.0.1/x", "events": []}, "delivery.events.missing", "/events"),
            ({"url": "ftp://example.org/x", "events": ["alert.received"]}, "delivery.webhook.url", "/url"),
            (
                {"url": "http://127.0.0.1/x", "events": ["alert.received"], "region": "Mars"},
                "delivery.filter.invalid",
                "/region",
            ),
            (
                {"url": "http://127.0.0.1/x", "events": ["alert.received"], "colour": 1},
                "request.body.invalid",
                "/colour",
            ),
            ({"events": ["alert.received"]}, "request.body.missing", "/url"),
        ]
        for body, rule, path in cases:
            response = await t.call("POST", HOOKS, operator, json=body)
            assert response.status_code == 422, (body, response.text)
            assert {"rule": rule, "path": path} in [
                {"rule": e["rule"], "path": e["path"]} for e in response.json()["errors"]
            ]
        unknown = (await t.call("POST", HOOKS, operator, json=cases[0][0])).json()["errors"][0]["message"]
        assert "alert.received" in unknown and "request.created" in unknown  # names the allowed ones
        response = await t.call(
            "POST",
            "/api/v1/contact-points/ro-atlantis/webhooks",
            operator,
            json={"url": "http://127.0.0.1/x", "events": ["alert.received"]},
        )
        assert (
            response.status_code == 404
            and response.json()["errors"][0]["rule"] == "delivery.contact-point.unknown"
        )


async def test_only_the_operator_and_the_contact_point_itself_manage_its_webhooks(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    async with tampere(database_url, tmp_path / "var") as t:
        body = {"url": receiver.url, "events": ["alert.received"]}
        other_office = await t.token("office", office="ro-bangkok")
        admin = await t.token("administration", country="KEN")
        responder = await t.token("responder")
        for token in (other_office, admin, responder):
            response = await t.call("POST", HOOKS, token, json=body)
            assert (
                response.status_code == 403 and response.json()["errors"][0]["rule"] == "delivery.forbidden"
            )
        assert (await t.http.post(HOOKS, json=body)).status_code == 401
        own = await t.token("office", office=OFFICE)
        bdt = await t.token("bdt")
        made = (await t.call("POST", HOOKS, own, json=body)).json()
        assert (
            await t.call("POST", "/api/v1/contact-points/bdt/webhooks", bdt, json=body)
        ).status_code == 201
        assert (await t.call("POST", HOOKS, bdt, json=body)).status_code == 403
        listed = (await t.call("GET", HOOKS, own)).json()["webhooks"]
        assert [h["id"] for h in listed] == [made["id"]] and "secret" not in listed[0]
        assert (await t.call("GET", HOOKS, other_office)).status_code == 403
        assert (await t.call("DELETE", f"{HOOKS}/{made['id']}", other_office)).status_code == 403
        assert (await t.call("DELETE", f"{HOOKS}/{made['id']}", own)).status_code == 204
        assert (await t.call("GET", f"{HOOKS}/{made['id']}", own)).status_code == 404


# --- outages, dead letters, redelivery ---------------------------------------------------------


async def test_a_receiver_down_for_two_minutes_gets_every_notification_afterwards_in_order(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    """The outage is scaled down: retries are capped at 0.4 s (TAMPERE_WEBHOOK_MAX_BACKOFF_SECONDS)
    instead of 60 s, and the receiver is down for 3 s with alerts arriving throughout; the
    ratio of outage to backoff cap (several caps) is what matters, not the wall time."""
    async with tampere(database_url, tmp_path / "var") as t:
        admin = await t.token("administration", country="KEN", senders=["alerts@meteo.go.ke"])
        office = await t.token("office", office=OFFICE)
        hook = await register(t, office, receiver.url)
        await receiver.down()
        posted = []
        for n in range(8):
            posted.append((await t.post_alert(alert(n), admin))["id"])
            await asyncio.sleep(3.0 / 8)

        async def failing() -> bool:
            log = await delivery_log(t, office, hook["id"])
            return len(log) == 8 and any(e["attempts"] >= 2 for e in log)

        await until(failing)
        log = await delivery_log(t, office, hook["id"])
        assert all(e["state"] == "pending" for e in log)
        first = next(e for e in log if e["attempts"] >= 2)
        assert first["last_status"] is None and "Connect" in first["last_error"] and first["next_attempt_at"]
        health = (await t.call("GET", f"{HOOKS}/{hook['id']}", office)).json()["health"]
        assert health["consecutive_failures"] >= 2 and health["retry_at"]
        await receiver.up()
        got = await receiver.wait_for(8)
        payloads = [verified(hook["secret"], r) for r in got]
        assert [p["alert_id"] for p in payloads] == posted  # in order, none twice
        ids = [int(r.headers["webhook-id"]) for r in got]
        assert ids == sorted(ids) and len(set(ids)) == 8

        async def all_delivered() -> bool:
            return all(e["state"] == "delivered" for e in await delivery_log(t, office, hook["id"]))

        await until(all_delivered)
        assert (await t.call("GET", f"{HOOKS}/{hook['id']}", office)).json()["health"][
            "consecutive_failures"
        ] == 0


async def test_a_delivery_past_its_give_up_time_is_dead_lettered_and_can_be_redelivered(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    async with tampere(database_url, tmp_path / "var", webhook_give_up_seconds=1.0) as t:
        admin = await t.token("administration", country="KEN", senders=["alerts@meteo.go.ke"])
        office = await t.token("office", office=OFFICE)
        hook = await register(t, office, receiver.url)
        receiver.status = 400  # refuses this delivery (not "down"): it alone backs off

        async def dead() -> bool:
            return [e["state"] for e in await delivery_log(t, office, hook["id"])] == ["dead"]

        await t.post_alert(alert(1), admin)
        await until(dead)
        [entry] = await delivery_log(t, office, hook["id"], state="dead")
        assert entry["attempts"] >= 2 and entry["last_status"] == 400 and entry["dead_at"]
        assert all(a["status"] == 400 for a in entry["log"]) and entry["next_attempt_at"] is None
        tries = len(receiver.received)
        await asyncio.sleep(0.6)
        assert len(receiver.received) == tries  # a dead letter is tried no more
        receiver.status = 200
        response = await t.call("POST", f"{HOOKS}/{hook['id']}/deliveries/{entry['id']}/redeliver", office)
        assert response.status_code == 202 and response.json()["state"] == "pending"

        async def delivered() -> bool:
            return [e["state"] for e in await delivery_log(t, office, hook["id"])] == ["delivered"]

        await until(delivered)
        ids = {r.headers["webhook-id"] for r in receiver.received}
        assert ids == {str(entry["event_id"])}  # every try under the same id
        missing = await t.call("POST", f"{HOOKS}/{hook['id']}/deliveries/999999/redeliver", office)
        assert missing.status_code == 404 and missing.json()["errors"][0]["rule"] == "delivery.not-found"


async def test_pending_deliveries_survive_a_restart(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    """What was owed when an instance stopped is delivered by the next, at once: the stopping
    instance ended its leases (not minutes later, when they would have run out)."""
    from sqlalchemy import select, update

    from service.db.models import DeliveryChannel, utcnow

    data_dir = tmp_path / "var"
    await receiver.down()
    async with tampere(database_url, data_dir) as t:
        admin = await t.token("administration", country="KEN", senders=["alerts@meteo.go.ke"])
        office = await t.token("office", office=OFFICE)
        hook = await register(t, office, receiver.url)
        posted = [(await t.post_alert(alert(n), admin))["id"] for n in range(3)]
        stopping = t.app.state.deliverer.instance
        # As a sender cancelled mid-batch leaves it: leased to this instance for an hour.
        held = {"lease_owner": stopping, "lease_until": utcnow() + timedelta(hours=1)}
        await t.app.state.runtime.db.write(lambda conn: conn.execute(update(DeliveryChannel).values(**held)))
    # The instance is gone; the receiver comes back; a new instance delivers what was owed.
    await receiver.up()
    async with tampere(database_url, data_dir) as t:
        owners = await t.app.state.runtime.db.read(
            lambda conn: conn.execute(select(DeliveryChannel.lease_owner)).scalars().all()
        )
        assert stopping not in owners
        got = await receiver.wait_for(3)
    assert [verified(hook["secret"], r)["alert_id"] for r in got] == posted
    assert office  # the token stayed valid throughout


async def test_two_instances_never_send_a_delivery_twice(
    database_factory: Any, tmp_path: Path, receiver: Receiver
) -> None:
    url = database_factory()
    async with tampere(url, tmp_path / "a") as a, tampere(url, tmp_path / "b") as b:
        admin = await a.token("administration", country="KEN", senders=["alerts@meteo.go.ke"])
        office = await a.token("office", office=OFFICE)
        hook = await register(a, office, receiver.url)
        posted = []
        for n in range(20):
            instance = a if n % 2 else b
            posted.append((await instance.post_alert(alert(n), admin))["id"])
        got = await receiver.wait_for(20)
        await asyncio.sleep(1.0)  # any duplicate would have arrived by now
        ids = [int(r.headers["webhook-id"]) for r in receiver.received]
        assert len(ids) == len(set(ids)) == 20
        assert sorted(verified(hook["secret"], r)["alert_id"] for r in got) == sorted(posted)


async def test_deliveries_are_sent_by_a_background_worker_not_by_the_post(
    database_url: str, tmp_path: Path
) -> None:
    """A receiver that takes 3 s to answer does not hold up POST /api/v1/alerts."""
    slow = Receiver()

    async def slow_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await asyncio.sleep(3)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    slow._app = slow_app  # type: ignore[method-assign]
    await slow.up()
    try:
        async with tampere(database_url, tmp_path / "var", webhook_timeout_seconds=5.0) as t:
            admin = await t.token("administration", country="KEN", senders=["alerts@meteo.go.ke"])
            office = await t.token("office", office=OFFICE)
            await register(t, office, slow.url)
            started = asyncio.get_running_loop().time()
            for n in range(3):
                await t.post_alert(alert(n), admin)
            assert asyncio.get_running_loop().time() - started < 2.0
    finally:
        await slow.down()


def test_secrets_are_standard_webhooks_secrets() -> None:
    from service.deliveries.store import new_secret

    secret = new_secret()
    assert secret.startswith("whsec_")
    import base64

    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    # The package accepts it, and a signature it makes verifies with the same secret.
    from service.deliveries.webhook import signed_headers

    body = json.dumps({"id": 7}).encode()
    headers = signed_headers([secret], "7", body, datetime.now(UTC))
    assert Webhook(secret).verify(body, headers) == {"id": 7}
    assert headers["webhook-signature"].startswith("v1,")
