"""Request bodies are read strictly: a JSON value of the wrong type is a 422 in the one error
shape naming the field, never coerced ("yes" is not true, "4" is not 4). The contact-point,
request and acknowledgement bodies are read by hand (contact_points.records,
contact_points.requests); the webhook and e-mail bodies by pydantic in strict mode
(tests/service/deliveries/test_channel_admin.py). A real server on loopback."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from tests.service.deliveries.conftest import Tampere, tampere


def example(t: Tampere, path: str) -> dict[str, Any]:
    """The documented example body of a POST (the one the OpenAPI document shows)."""
    media = t.app.openapi()["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    value = media["example"] if "example" in media else next(iter(media["examples"].values()))["value"]
    return copy.deepcopy(value)


def changed(body: dict[str, Any], pointer: str, value: Any) -> dict[str, Any]:
    """The body with the value at a JSON pointer replaced."""
    body = copy.deepcopy(body)
    *parents, last = pointer.strip("/").split("/")
    target: Any = body
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    target[int(last) if isinstance(target, list) else last] = value
    return body


async def refused(t: Tampere, token: str, path: str, body: Any, where: str) -> None:
    answer = await t.call("POST", path, token, json=body)
    assert answer.status_code == 422, (path, where, answer.text)
    assert answer.headers["content-type"] == "application/problem+json"
    assert where in [e["path"] for e in answer.json()["errors"]], (where, answer.text)


async def test_wrong_json_types_are_refused_in_contact_point_request_and_ack_bodies(tmp_path: Path) -> None:
    async with tampere(f"sqlite+aiosqlite:///{tmp_path / 't.db'}", tmp_path / "var") as t:
        operator = await t.token("operator")
        kenya = await t.token("administration", country="KEN", senders=["alerts@meteo.go.ke"])
        office = await t.token("office", office="ro-addis-ababa")

        contact = example(t, "/api/v1/contact-points")
        for where, value in [
            ("/name", 5),
            ("/countries", "FJI"),
            ("/countries/0", 242),
            ("/people/0/languages", "en"),
            ("/head", True),
        ]:
            await refused(t, operator, "/api/v1/contact-points", changed(contact, where, value), where)
        national = {"id": "national-x", "kind": "national", "name": "X", "region": "Africa", "country": "KEN"}
        for value in ("yes", 1, "true"):
            body = {**national, "tampere_convention": value}
            await refused(t, operator, "/api/v1/contact-points", body, "/tampere_convention")

        request = example(t, "/api/v1/requests")
        for where, value in [
            ("/items/0/quantity", "4"),
            ("/items/0/quantity", 4.0),
            ("/items/0/quantity", True),
            ("/urgency", 1),
            ("/title", ["a title"]),
        ]:
            await refused(t, kenya, "/api/v1/requests", changed(request, where, value), where)
        # A GeoJSON position's refusal names the position.
        body = changed(request, "/location/coordinates/0", "39.65")
        await refused(t, kenya, "/api/v1/requests", body, "/location/coordinates")
        filed = await t.call("POST", "/api/v1/requests", kenya, json=request)
        assert filed.status_code == 201, filed.text
        request_id = filed.json()["id"]
        await refused(t, office, f"/api/v1/requests/{request_id}/ack", {"note": 5}, "/note")
        await refused(
            t, office, f"/api/v1/requests/{request_id}/status", {"state": ["accepted"], "note": "x"}, "/state"
        )
        # The valid bodies are taken as before.
        ack = await t.call("POST", f"/api/v1/requests/{request_id}/ack", office, json={"note": "seen"})
        assert ack.status_code == 200, ack.text
        added = await t.call("POST", "/api/v1/contact-points", operator, json=contact)
        assert added.status_code == 201, added.text
