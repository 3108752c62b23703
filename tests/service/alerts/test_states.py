"""States and answers that say the truth: Cancel, Ack and Error are not themselves listed as
alerts; an alert without <expires> ends after the configured lifetime, with a warning that says
so; filter values that could never match are refused naming the allowed ones; bbox errors say
which value is wrong; impacts are re-assessed after a layer import even when an active alert
has no geometry.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import ServiceUnderTest, make_cap

SENT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def listed_ids(service: ServiceUnderTest, query: str = "") -> set[int]:
    response = await service.client.get(f"/api/v1/alerts{query}")
    assert response.status_code == 200, response.text
    return {feature["id"] for feature in response.json()["features"]}


async def test_cancel_ack_and_error_are_not_listed_as_alerts(service: ServiceUnderTest) -> None:
    token = await service.token("operator")
    first = (await service.post(make_cap("S-1", sent=SENT), token)).json()
    other = (await service.post(make_cap("S-2", sent=SENT), token)).json()
    sender = first["sender"]
    notices = []
    for identifier, msg_type, target in (
        ("S-3", "Cancel", "S-1"),
        ("S-4", "Ack", "S-2"),
        ("S-5", "Error", "S-2"),
    ):
        message = make_cap(
            identifier,
            sent=SENT + timedelta(minutes=5),
            msg_type=msg_type,
            references=[(sender, target, SENT)],
        )
        posted = await service.post(message, token)
        assert posted.status_code == 201, posted.text
        notices.append(posted.json()["id"])
    everywhere = [
        await listed_ids(service),
        await listed_ids(service, "?bbox=36,-2,37,-1"),
        await listed_ids(service, "?region=Africa&country=KEN&severity=Severe"),
    ]
    for ids in everywhere:
        assert ids == {other["id"]}, ids  # S-1 cancelled; the notices are no alerts of their own
    atom = await service.client.get("/api/v1/feeds/alerts.atom")
    for notice in (*notices, first["id"]):
        assert f"/api/v1/alerts/{notice}<".encode() not in atom.content
    assert f"/api/v1/alerts/{other['id']}<".encode() in atom.content


async def test_an_alert_without_expires_ends_after_the_configured_lifetime(service: ServiceUnderTest) -> None:
    token = await service.token("operator")
    before = datetime.now(UTC)
    posted = (await service.post(make_cap("L-1"), token)).json()
    expires = datetime.fromisoformat(posted["expires"])
    assert timedelta(hours=47, minutes=59) < expires - before < timedelta(hours=48, minutes=1)
    warned = [w for w in posted["warnings"] if w["rule"] == "alert.expires.defaulted"]
    assert warned and warned[0]["path"] == "/alert/info[1]/expires" and "48 h" in warned[0]["message"]
    # With an explicit <expires>, nothing is defaulted.
    given = (await service.post(make_cap("L-2", expires=before + timedelta(days=5)), token)).json()
    assert not [w for w in given["warnings"] if w["rule"] == "alert.expires.defaulted"]
    # A lifetime of a second: the alert leaves the list once it is over.
    runtime: Any = service.runtime
    runtime.settings = runtime.settings.model_copy(update={"alert_default_lifetime_hours": 1 / 3600})
    short = (await service.post(make_cap("L-3"), token)).json()
    assert short["id"] in await listed_ids(service)
    await asyncio.sleep(1.5)
    assert short["id"] not in await listed_ids(service)
    deadline = asyncio.get_running_loop().time() + 10
    while (await service.client.get(f"/api/v1/alerts/{short['id']}")).json()["history"][-1][
        "action"
    ] != "expired":
        assert asyncio.get_running_loop().time() < deadline, "the sweep never wrote the expiry"
        await asyncio.sleep(0.2)


async def test_filter_values_that_cannot_match_are_refused_naming_the_allowed(
    service: ServiceUnderTest,
) -> None:
    for query, named in (
        ("region=asia-pacific", "Asia and the Pacific"),
        ("country=FJ", "FJI"),
        ("country=XYZ", "alpha-3"),
        ("severity=bad", "Extreme, Severe, Moderate, Minor, Unknown"),
    ):
        response = await service.client.get(f"/api/v1/alerts?{query}")
        assert response.status_code == 422, (query, response.text)
        error = response.json()["errors"][0]
        assert error["rule"] == "alert.filter.unknown" and named in error["message"], error
        assert error["path"] == "?" + query.split("=")[0]
    for query in ("region=Asia and the Pacific", "country=fji", "severity=Minor"):
        assert (await service.client.get(f"/api/v1/alerts?{query}")).status_code == 200, query


async def test_bbox_errors_say_what_is_wrong(service: ServiceUnderTest) -> None:
    for value, rule, said in (
        ("1,2,3", "query.bbox.format", "got 3 value(s)"),
        ("a,0,1,1", "query.bbox.format", "west 'a' is not a number"),
        ("0,100,1,1", "query.bbox.range", "south 100 is out of range"),
        ("0,1,200,2", "query.bbox.range", "east 200 is out of range"),
        ("0,5,1,1", "query.bbox.range", "south 5 is north of its north 1"),
        ("0,nan,1,1", "query.bbox.range", "south must be a finite number"),
    ):
        response = await service.client.get("/api/v1/alerts", params={"bbox": value})
        assert response.status_code == 422, value
        error = response.json()["errors"][0]
        assert (error["rule"], error["path"]) == (rule, "?bbox") and said in error["message"], (value, error)


async def test_layer_reload_reassesses_with_an_alert_without_geometry(service: ServiceUnderTest) -> None:
    token = await service.token("operator")
    # Only words for an area: stored without geometry, and still active.
    words = await service.post(
        make_cap("G-1", polygon=None, area_xml="<areaDesc>The coast</areaDesc>"), token
    )
    assert words.status_code == 201 and words.json()["state"] == "active", words.text
    drawn = await service.post(make_cap("G-2"), token)
    assert drawn.status_code == 201
    reload = await service.client.post("/api/v1/layers/reload", headers=auth(token))
    assert reload.status_code == 200, reload.text
    assert reload.json()["reloaded"] is True
