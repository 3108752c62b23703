"""Alert lifecycle (Update, Cancel, Ack, expiry), status separation and CAP scope on reads."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from service.db.models import Event
from tests.conftest import KAMPALA, NAIROBI

KEN = "alerts@meteo.go.ke"
UGA = "alerts@unma.go.ug"
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def state_of(service, alert_id: int, token: str | None = None) -> str:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await service.client.get(f"/api/v1/alerts/{alert_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["state"]


async def event_types(service, alert_id: int) -> list[str]:
    def read(conn) -> list[str]:
        query = select(Event.type).where(Event.alert_id == alert_id).order_by(Event.id)
        return list(conn.execute(query).scalars())

    return await service.runtime.db.read(read)


async def test_cancel_applies_to_every_referenced_alert(service, cap_message) -> None:
    token = await service.token("administration", country="KEN", senders=[KEN])
    one = (await service.post(cap_message("A-1", sent=at(0)), token)).json()["id"]
    two = (await service.post(cap_message("A-2", sent=at(1)), token)).json()["id"]
    cancel = cap_message(
        "A-3", sent=at(2), msg_type="Cancel", references=[(KEN, "A-1", at(0)), (KEN, "A-2", at(1))]
    )
    response = await service.post(cancel, token)
    assert response.status_code == 201, response.text
    assert await state_of(service, one) == "cancelled"
    assert await state_of(service, two) == "cancelled"
    detail = (await service.client.get(f"/api/v1/alerts/{one}")).json()
    assert [(h["action"], h["state"]) for h in detail["history"]] == [
        ("received", "active"),
        ("cancelled", "cancelled"),
    ]
    assert detail["history"][1]["by"] == response.json()["id"]
    assert await event_types(service, one) == ["alert.received", "alert.cancelled"]
    listed = (await service.client.get("/api/v1/alerts")).json()["features"]
    assert {f["properties"]["identifier"] for f in listed} == set()


async def test_update_supersedes_and_the_update_is_listed(service, cap_message) -> None:
    token = await service.token("administration", country="KEN", senders=[KEN])
    first = (await service.post(cap_message("U-1", sent=at(0)), token)).json()["id"]
    update = cap_message("U-2", sent=at(5), msg_type="Update", references=[(KEN, "U-1", at(0))])
    second = (await service.post(update, token)).json()["id"]
    assert await state_of(service, first) == "updated"
    assert await state_of(service, second) == "active"
    detail = (await service.client.get(f"/api/v1/alerts/{second}")).json()
    assert detail["references"][0]["alert_id"] == first
    listed = (await service.client.get("/api/v1/alerts")).json()["features"]
    assert [f["properties"]["identifier"] for f in listed] == ["U-2"]


async def test_references_arriving_before_their_alerts_apply_later(service, cap_message) -> None:
    token = await service.token("administration", country="KEN", senders=[KEN])
    cancel = cap_message(
        "P-9", sent=at(9), msg_type="Cancel", references=[(KEN, "P-1", at(0)), (KEN, "P-2", at(1))]
    )
    assert (await service.post(cancel, token)).status_code == 201
    metrics = (await service.client.get("/metrics")).text
    assert "tampere_pending_references 2.0" in metrics
    late_one = (await service.post(cap_message("P-1", sent=at(0)), token)).json()
    assert late_one["state"] == "cancelled"
    late_two = (await service.post(cap_message("P-2", sent=at(1)), token)).json()["id"]
    assert await state_of(service, late_two) == "cancelled"
    assert "tampere_pending_references 0.0" in (await service.client.get("/metrics")).text


async def test_cancel_of_another_administrations_alert_is_403(service, cap_message) -> None:
    kenya = await service.token("administration", country="KEN", senders=[KEN])
    uganda = await service.token("administration", country="UGA", senders=[UGA])
    target = (await service.post(cap_message("K-1", sent=at(0)), kenya)).json()["id"]
    hijack = cap_message("U-1", sender=UGA, sent=at(1), msg_type="Cancel", references=[(KEN, "K-1", at(0))])
    response = await service.post(hijack, uganda)
    assert response.status_code == 403
    assert await state_of(service, target) == "active"
    # Nothing of the refused message was stored (posted again as an alert over Uganda).
    own = hijack.replace(b"Cancel", b"Alert").replace(NAIROBI.encode(), KAMPALA.encode())
    assert (await service.post(own, uganda)).status_code == 201
    # A pending cancel of a message of someone else's sender is refused too.
    early = cap_message("U-2", sender=UGA, sent=at(2), msg_type="Cancel", references=[(KEN, "K-9", at(0))])
    assert (await service.post(early, uganda)).status_code == 403


async def test_operator_may_cancel_anything(service, cap_message) -> None:
    kenya = await service.token("administration", country="KEN", senders=[KEN])
    operator = await service.token("operator")
    target = (await service.post(cap_message("K-1", sent=at(0)), kenya)).json()["id"]
    cancel = cap_message(
        "OP-1", sender="ops@tampere", sent=at(1), msg_type="Cancel", references=[(KEN, "K-1", at(0))]
    )
    assert (await service.post(cancel, operator)).status_code == 201
    assert await state_of(service, target) == "cancelled"


async def test_ack_and_error_are_recorded_against_what_they_reference(service, cap_message) -> None:
    kenya = await service.token("administration", country="KEN", senders=[KEN])
    target = (await service.post(cap_message("K-1", sent=at(0)), kenya)).json()["id"]
    ack = cap_message("ACK-1", sent=at(1), msg_type="Ack", references=[(KEN, "K-1", at(0))], with_info=False)
    err = cap_message(
        "ERR-1", sent=at(2), msg_type="Error", references=[(KEN, "K-1", at(0))], with_info=False
    )
    assert (await service.post(ack, kenya)).status_code == 201
    assert (await service.post(err, kenya)).status_code == 201
    detail = (await service.client.get(f"/api/v1/alerts/{target}")).json()
    assert detail["state"] == "active"
    assert [h["action"] for h in detail["history"]] == ["received", "acknowledged", "error"]
    assert await event_types(service, target) == [
        "alert.received",
        "alert.acknowledged",
        "alert.error",
    ]


async def test_ack_and_error_into_another_administrations_alert_are_403(service, cap_message) -> None:
    kenya = await service.token("administration", country="KEN", senders=[KEN])
    uganda = await service.token("administration", country="UGA", senders=[UGA])
    target = (await service.post(cap_message("K-1", sent=at(0)), kenya)).json()["id"]
    for n, msg_type in enumerate(("Ack", "Error"), 1):
        reply = cap_message(
            f"U-{msg_type}", sender=UGA, sent=at(n), msg_type=msg_type, references=[(KEN, "K-1", at(0))]
        )
        refused = await service.post(reply.replace(NAIROBI.encode(), KAMPALA.encode()), uganda)
        assert refused.status_code == 403, refused.text
        [error] = refused.json()["errors"]
        assert (error["rule"], error["path"]) == ("alert.reference.not-owned", "/alert/references")
        # Told nothing of the alert it named: not its id, not whether it exists.
        assert f"alert {target}" not in refused.text and f"/alerts/{target}" not in refused.text
        absent = reply.replace(b"K-1", b"K-404").replace(NAIROBI.encode(), KAMPALA.encode())
        [unknown] = (await service.post(absent, uganda)).json()["errors"]
        assert {**unknown, "message": unknown["message"].replace("K-404", "K-1")} == error
    assert await event_types(service, target) == ["alert.received"]


async def test_expiry_is_written_on_time_by_the_sweeper(service, cap_message) -> None:
    token = await service.token("operator")
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    alert_id = (await service.post(cap_message("E-1", expires=soon), token)).json()["id"]
    assert await state_of(service, alert_id) == "active"
    for _ in range(60):  # bounded: at most 6 s
        if "alert.expired" in await event_types(service, alert_id):
            break
        await asyncio.sleep(0.1)
    assert await event_types(service, alert_id) == ["alert.received", "alert.expired"]
    assert datetime.now(UTC) >= soon
    detail = (await service.client.get(f"/api/v1/alerts/{alert_id}")).json()
    assert detail["state"] == "expired"
    assert detail["history"][-1]["action"] == "expired"
    assert (await service.client.get("/api/v1/alerts")).json()["features"] == []


async def test_reads_treat_past_expiry_as_expired(service, cap_message) -> None:
    token = await service.token("operator")
    past = datetime.now(UTC) - timedelta(hours=1)
    response = await service.post(cap_message("E-2", expires=past), token)
    assert response.status_code == 201
    assert response.json()["state"] == "expired"
    assert (await service.client.get("/api/v1/alerts")).json()["features"] == []


async def test_test_and_exercise_messages_are_kept_apart(service, cap_message) -> None:
    token = await service.token("operator")
    ids = {}
    for identifier, status in (
        ("S-1", "Actual"),
        ("S-2", "Test"),
        ("S-3", "Exercise"),
        ("S-4", "Draft"),
        ("S-5", "System"),
    ):
        response = await service.post(cap_message(identifier, status=status), token)
        assert response.status_code == 201
        ids[status] = response.json()["id"]
        if status != "Actual":
            # Never routed as real: exercises and tests reach people marked not real.
            assert not any(r["real"] for r in response.json()["routing"])

    async def listed(**params: str) -> list[str]:
        features = (await service.client.get("/api/v1/alerts", params=params)).json()["features"]
        return [f["properties"]["identifier"] for f in features]

    assert await listed() == ["S-1"]
    assert await listed(status="Test") == ["S-2"]
    assert await listed(status="Exercise") == ["S-3"]
    assert await listed(status="Draft") == ["S-4"]
    feed = (await service.client.get("/api/v1/feeds/alerts.atom")).text
    entries = {f"/api/v1/alerts/{ids[status]}<" for status in ids}
    assert {e for e in entries if e in feed} == {f"/api/v1/alerts/{ids['Actual']}<"}
    assert (await service.client.get("/api/v1/alerts", params={"status": "Bogus"})).status_code == 422


async def test_scope_is_enforced_on_every_read(service, cap_message) -> None:
    kenya = await service.token("administration", country="KEN", senders=[KEN])
    uganda = await service.token("administration", country="UGA", senders=[UGA])
    office = await service.token("office", office="ro-addis-ababa")
    bdt = await service.token("bdt")
    responder = await service.token("responder")
    public = (await service.post(cap_message("V-1"), kenya)).json()["id"]
    restricted = (
        await service.post(cap_message("V-2", scope="Restricted", restriction="ITU"), kenya)
    ).json()["id"]
    private = (await service.post(cap_message("V-3", scope="Private", addresses=["UGA"]), kenya)).json()["id"]

    async def visible(token: str | None) -> set[int]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        seen = set()
        for alert_id in (public, restricted, private):
            for suffix in ("", "/cap"):
                response = await service.client.get(f"/api/v1/alerts/{alert_id}{suffix}", headers=headers)
                assert response.status_code in (200, 404)
                if response.status_code == 200:
                    seen.add(alert_id)
        features = (await service.client.get("/api/v1/alerts", headers=headers)).json()
        assert {f["id"] for f in features["features"]} == seen
        return seen

    assert await visible(None) == {public}
    assert await visible(responder) == {public}
    assert await visible(office) == {public, restricted}
    assert await visible(bdt) == {public, restricted}
    assert await visible(kenya) == {public, restricted, private}  # the poster
    assert await visible(uganda) == {public, private}  # listed in <addresses>
    feed = (await service.client.get("/api/v1/feeds/alerts.atom")).text
    in_feed = {i for i in (public, restricted, private) if f"/api/v1/alerts/{i}<" in feed}
    assert in_feed == {public}
