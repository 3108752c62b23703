"""POST /api/v1/alerts on alerts that cannot serve their purpose, and on what loses nothing,
against the real app on SQLite and on PostgreSQL (issue 10, item 11): refusals are 422 in the one
error shape with the rule and the place; tolerated messages are stored (201) with the finding
among the alert's warnings, and their original bytes kept.
"""

from __future__ import annotations

from tests.conftest import make_cap

PROBLEM = "application/problem+json"
OUT_OF_RANGE = "91.0,36.7 91.0,36.9 91.2,36.9 91.0,36.7"


def rules(response) -> list[tuple[str, str]]:
    return [(e["rule"], e["path"]) for e in response.json()["errors"]]


async def test_an_alert_no_area_of_which_can_be_placed_is_422(service) -> None:
    token = await service.token("operator")
    body = make_cap(
        "PURPOSE-S1",
        area_xml=f"<areaDesc>nowhere</areaDesc><polygon>{OUT_OF_RANGE}</polygon>"
        "<circle>-1.3,36.8 -5</circle>",
    )
    response = await service.post(body, token)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert rules(response) == [
        ("cap.coordinate.range", "/alert/info[1]/area[1]/polygon[1]"),
        ("cap.circle.radius", "/alert/info[1]/area[1]/circle[1]"),
        ("cap.area.unusable", "/alert/info[1]/area[1]"),
    ]
    listed = await service.client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {token}"})
    assert listed.json()["features"] == []


async def test_a_private_alert_without_addresses_is_422(service) -> None:
    token = await service.token("operator")
    response = await service.post(make_cap("PURPOSE-S2", scope="Private"), token)
    assert response.status_code == 422, response.text
    assert rules(response) == [("cap.addresses.required", "/alert/scope")]


async def test_blank_lines_before_the_declaration_are_taken_and_said(service) -> None:
    token = await service.token("operator")
    body = b"\n\n" + make_cap("PURPOSE-S3")
    response = await service.post(body, token)
    assert response.status_code == 201, response.text
    alert = response.json()
    assert ("cap.xml.declaration-not-first", "/") in [(w["rule"], w["path"]) for w in alert["warnings"]]
    original = await service.client.get(
        f"/api/v1/alerts/{alert['id']}/cap", headers={"Authorization": f"Bearer {token}"}
    )
    assert original.content == body  # stored as received
    again = await service.post(body, token)
    assert (again.status_code, again.json()["id"]) == (200, alert["id"])


async def test_a_missing_urgency_is_stored_as_unknown_with_the_warning(service) -> None:
    token = await service.token("operator")
    body = make_cap("PURPOSE-S4").replace(b"<urgency>Immediate</urgency>", b"")
    response = await service.post(body, token)
    assert response.status_code == 201, response.text
    alert = response.json()
    warning = next(w for w in alert["warnings"] if w["rule"] == "cap.schema.missing")
    assert warning["path"] == "/alert/info[1]/urgency"
    assert warning["message"].endswith("read as Unknown")
    listed = await service.client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {token}"})
    [feature] = listed.json()["features"]
    assert feature["properties"]["urgency"] == "Unknown"


async def test_a_missing_severity_is_still_422(service) -> None:
    token = await service.token("operator")
    body = make_cap("PURPOSE-S5").replace(b"<severity>Severe</severity>", b"")
    response = await service.post(body, token)
    assert response.status_code == 422, response.text
    assert rules(response) == [("cap.schema.missing", "/alert/info[1]/severity")]
