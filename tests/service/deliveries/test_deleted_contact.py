"""Deleting a contact point: refused (409, listing them) while it has delivery channels, which
would otherwise go on delivering with nobody able to manage them; channels a deletion left
behind before that rule deliver nothing; and a deleted office's tokens act for nothing (REST,
a new websocket, and the ack of a websocket opened before the deletion). Real servers on
loopback, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from service.db.models import ContactPointRecord, DeliveryChannel
from tests.conftest import make_cap
from tests.service.deliveries.conftest import WAIT, Receiver, Tampere, tampere

CONTACTS = "/api/v1/contact-points"
# The audit's repro: an area office for Haiti, added by the operator.
AO_TEST = {
    "id": "ao-test",
    "kind": "area_office",
    "name": "Test area office",
    "region": "Americas",
    "country": "HTI",
    "countries": ["HTI"],
}
HAITI = "18.45,-72.45 18.45,-72.25 18.65,-72.25 18.65,-72.45 18.45,-72.45"


async def haiti_alert(t: Tampere, token: str, identifier: str) -> dict[str, Any]:
    stored = await t.post_alert(make_cap(identifier, sender="alerts@unh.example", polygon=HAITI), token)
    return stored


async def add_office(t: Tampere, operator: str) -> None:
    added = await t.call("POST", CONTACTS, operator, json=AO_TEST)
    assert added.status_code == 201, added.text


async def add_office_with_webhook(t: Tampere, operator: str, receiver: Receiver) -> Any:
    """ao-test added, with a webhook to `receiver` for the alerts it receives; the webhook's answer."""
    await add_office(t, operator)
    hook = await t.call(
        "POST",
        f"{CONTACTS}/ao-test/webhooks",
        operator,
        json={"url": receiver.url, "events": ["alert.received"]},
    )
    assert hook.status_code == 201, hook.text
    return hook


async def test_the_registrys_own_addresses_go_with_the_contact_point(
    database_url: str, tmp_path: Path
) -> None:
    # Its registry addresses are channels the registry keeps (service.deliveries.registry_channels):
    # they neither hold a deletion up nor outlive it.
    async with tampere(database_url, tmp_path / "var") as t:
        operator = await t.token("operator")
        added = await t.call(
            "POST", CONTACTS, operator, json={**AO_TEST, "channels": {"email": ["duty@ao-test.example"]}}
        )
        assert added.status_code == 201, added.text
        channels = (await t.call("GET", f"{CONTACTS}/ao-test", operator)).json()["channels"]
        [registry] = channels["email_subscriptions"]
        assert registry["address"] == "duty@ao-test.example"
        # Changed where it is kept, not in place (as it is removed there, not by DELETE).
        refused = await t.call(
            "PATCH", f"{CONTACTS}/ao-test/email/{registry['id']}", operator, json={"language": "fr"}
        )
        assert refused.status_code == 409, refused.text
        assert [e["rule"] for e in refused.json()["errors"]] == ["delivery.email.registry-address"]

        deleted = await t.call("DELETE", f"{CONTACTS}/ao-test", operator)
        assert deleted.status_code == 204, deleted.text
        left = await t.app.state.runtime.db.read(
            lambda conn: conn.execute(
                select(DeliveryChannel.__table__.c.id).where(
                    DeliveryChannel.__table__.c.contact_id == "ao-test"
                )
            ).all()
        )
        assert left == []


async def test_a_contact_point_is_not_deleted_while_it_has_delivery_channels(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    async with tampere(database_url, tmp_path / "var") as t:
        operator = await t.token("operator")
        hook = await add_office_with_webhook(t, operator, receiver)
        mail = await t.call(
            "POST",
            f"{CONTACTS}/ao-test/email",
            operator,
            json={"address": "ao@itu.example", "events": ["alert.received"]},
        )
        assert mail.status_code == 201
        hook_id, mail_id = hook.json()["id"], mail.json()["id"]

        refused = await t.call("DELETE", f"{CONTACTS}/ao-test", operator)
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        [error] = refused.json()["errors"]
        assert (error["rule"], error["path"]) == ("contact_point.channels.exist", "{contact_id}")
        assert f"webhook {hook_id} (DELETE {CONTACTS}/ao-test/webhooks/{hook_id})" in error["message"]
        assert (
            f"e-mail subscription {mail_id} (DELETE {CONTACTS}/ao-test/email/{mail_id})" in error["message"]
        )
        # Nothing was removed: the contact point and its channels are there and still deliver.
        assert (await t.call("GET", f"{CONTACTS}/ao-test", operator)).status_code == 200
        assert [
            h["id"]
            for h in (await t.call("GET", f"{CONTACTS}/ao-test/webhooks", operator)).json()["webhooks"]
        ] == [hook_id]
        first = await haiti_alert(t, operator, "AO-1")
        assert "ao-test" in [e["contact_point"] for e in first["routing"]]
        await receiver.wait_for(1)

        # The channels removed first, the contact point goes, and nothing more is delivered.
        assert (await t.call("DELETE", f"{CONTACTS}/ao-test/webhooks/{hook_id}", operator)).status_code == 204
        assert (await t.call("DELETE", f"{CONTACTS}/ao-test/email/{mail_id}", operator)).status_code == 204
        assert (await t.call("DELETE", f"{CONTACTS}/ao-test", operator)).status_code == 204
        await haiti_alert(t, operator, "AO-2")
        await asyncio.sleep(1.0)
        assert len(receiver.received) == 1


async def test_channels_a_deletion_left_behind_deliver_nothing(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    async with tampere(database_url, tmp_path / "var") as t:
        operator = await t.token("operator")
        await add_office_with_webhook(t, operator, receiver)
        await haiti_alert(t, operator, "AO-1")
        await receiver.wait_for(1)
        # A store where a deletion (before it was refused) removed the contact point alone.
        await t.app.state.runtime.db.write(
            lambda conn: conn.execute(delete(ContactPointRecord).where(ContactPointRecord.id == "ao-test"))
        )
        await haiti_alert(t, operator, "AO-2")
        await asyncio.sleep(1.0)
        assert len(receiver.received) == 1


async def next_reply(ws: Any) -> dict[str, Any]:
    """The next message on the socket that answers a command (events may come before it)."""
    async with asyncio.timeout(WAIT):
        while True:
            message = json.loads(await ws.recv())
            if message["type"].endswith(".result") or message["type"] == "error":
                return dict(message)


async def test_a_deleted_offices_tokens_act_for_nothing(database_url: str, tmp_path: Path) -> None:
    async with tampere(database_url, tmp_path / "var") as t:
        operator = await t.token("operator")
        await add_office(t, operator)
        office = await t.token("office", office="ao-test")
        routed = await haiti_alert(t, operator, "AO-1")
        assert "ao-test" in [e["contact_point"] for e in routed["routing"]]
        ack = f"/api/v1/alerts/{routed['id']}/ack"
        url = f"ws://127.0.0.1:{t.port}/api/v1/events"
        async with connect(url, additional_headers={"Authorization": f"Bearer {office}"}) as opened:
            assert (await t.call("DELETE", f"{CONTACTS}/ao-test", operator)).status_code == 204
            # REST: every request of the token is refused, saying why.
            for method, path in (("POST", ack), ("GET", "/api/v1/alerts"), ("GET", "/api/v1/requests")):
                refused = await t.call(method, path, office)
                assert refused.status_code == 403, (path, refused.text)
                [error] = refused.json()["errors"]
                assert error["rule"] == "auth.office.deleted" and "ao-test" in error["message"]
            # A websocket opened before the deletion cannot acknowledge either.
            await opened.send(json.dumps({"type": "ack", "alert": routed["id"]}))
            reply = await next_reply(opened)
            assert reply["type"] == "ack.result" and reply["status"] == 403, reply
            assert reply["errors"][0]["rule"] == "auth.office.deleted"
        # A new websocket is refused.
        async with connect(url, additional_headers={"Authorization": f"Bearer {office}"}) as refused_ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(refused_ws.recv(), WAIT)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
        assert "ao-test" in closed.value.rcvd.reason
        routing = (await t.call("GET", f"/api/v1/alerts/{routed['id']}", operator)).json()["routing"]
        assert [e["acknowledged_at"] for e in routing if e["contact_point"] == "ao-test"] == [None]
        # The office added again, its tokens act for it again.
        await add_office(t, operator)
        assert (await t.call("POST", ack, office)).status_code == 200


async def test_an_import_that_drops_a_contact_point_with_channels_is_refused(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    from service.contact_points import store
    from service.errors import Conflict

    async with tampere(database_url, tmp_path / "var") as t:
        operator = await t.token("operator")
        hook = await add_office_with_webhook(t, operator, receiver)
        db = t.app.state.runtime.db
        others = [c for c in await db.read(store.list_contacts) if c.id != "ao-test"]
        with pytest.raises(Conflict) as refused:
            await db.write(
                lambda conn: store.import_contacts(conn, others, replace_all=True, actor="operator")
            )
        [finding] = refused.value.findings
        assert (
            finding.rule == "contact_point.channels.exist"
            and f"webhook {hook.json()['id']}" in finding.message
        )
        assert await db.read(lambda conn: store.get(conn, "ao-test")) is not None
