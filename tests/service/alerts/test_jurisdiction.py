"""Jurisdiction: an administration alerts only about its own territory plus a sea margin; the
operator relays from anywhere and is named as the relay (over HTTP, SQLite and PostgreSQL)."""

from __future__ import annotations

import json

from tests.conftest import KAMPALA, NAIROBI

KEN = "alerts@meteo.go.ke"
UGA = "alerts@unma.go.ug"
# A small square near Lagos: wholly over Nigeria, some 3,500 km from Kenya.
LAGOS = "6.40,3.30 6.40,3.50 6.60,3.50 6.60,3.30 6.40,3.30"
# Over the Indian Ocean some 150 km off Mombasa: a cyclone or storm-surge warning area.
OFF_MOMBASA = "-4.60,41.00 -4.60,41.30 -4.30,41.30 -4.30,41.00 -4.60,41.00"
# Over the Indian Ocean some 600 km off the Kenyan coast, beyond the 370 km margin.
FAR_OFFSHORE = "-6.20,45.00 -6.20,45.30 -5.90,45.30 -5.90,45.00 -6.20,45.00"
OUTSIDE = "alert.area.outside-jurisdiction"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def rules(response) -> list[tuple[str, str]]:
    return [(e["rule"], e["path"]) for e in response.json()["errors"]]


async def test_an_alert_wholly_over_another_country_is_403_with_the_rule(service, cap_message) -> None:
    kenya = await service.token("administration", country="KEN", senders=[KEN])
    refused = await service.post(cap_message("J-1", polygon=LAGOS), kenya)
    assert refused.status_code == 403, refused.text
    assert rules(refused) == [(OUTSIDE, "/alert/info[1]/area[1]")]
    assert "KEN" in refused.json()["errors"][0]["message"]
    # Nothing was stored: the list is empty for the operator who sees everything.
    operator = await service.token("operator")
    listed = (await service.client.get("/api/v1/alerts", headers=auth(operator))).json()["features"]
    assert listed == []


async def test_an_alert_over_its_coastal_waters_is_accepted(service, cap_message) -> None:
    kenya = await service.token("administration", country="KEN", senders=[KEN])
    at_sea = await service.post(cap_message("J-SEA", polygon=OFF_MOMBASA), kenya)
    assert at_sea.status_code == 201, at_sea.text
    assert at_sea.json()["relayed_by"] is None
    too_far = await service.post(cap_message("J-FAR", polygon=FAR_OFFSHORE), kenya)
    assert too_far.status_code == 403
    assert rules(too_far) == [(OUTSIDE, "/alert/info[1]/area[1]")]


async def test_any_area_outside_refuses_the_alert_and_names_that_area(service, cap_message) -> None:
    kenya = await service.token("administration", country="KEN", senders=[KEN])
    two_areas = (
        f"<areaDesc>Nairobi</areaDesc><polygon>{NAIROBI}</polygon></area>"
        f"<area><areaDesc>Kampala</areaDesc><polygon>{KAMPALA}</polygon>"
    )
    refused = await service.post(cap_message("J-2", area_xml=two_areas), kenya)
    assert refused.status_code == 403
    assert rules(refused) == [(OUTSIDE, "/alert/info[1]/area[2]")]
    # Uganda may alert about Kampala, not about Nairobi.
    uganda = await service.token("administration", country="UGA", senders=[UGA])
    assert (await service.post(cap_message("U-1", sender=UGA, polygon=KAMPALA), uganda)).status_code == 201
    assert (await service.post(cap_message("U-2", sender=UGA), uganda)).status_code == 403


async def test_geocode_areas_are_judged_by_the_gazetteer(service, cap_message) -> None:
    kenya = await service.token("administration", country="KEN", senders=[KEN])

    def by_code(code: str) -> str:
        geocode = f"<geocode><valueName>ISO3166-1</valueName><value>{code}</value></geocode>"
        return f"<areaDesc>{code}</areaDesc>{geocode}"

    refused = await service.post(cap_message("J-NG", area_xml=by_code("NG")), kenya)
    assert refused.status_code == 403, refused.text
    assert rules(refused) == [(OUTSIDE, "/alert/info[1]/area[1]")]
    accepted = await service.post(cap_message("J-KE", area_xml=by_code("KE")), kenya)
    assert accepted.status_code == 201, accepted.text
    assert "KEN" in accepted.json()["countries"]


async def test_the_operator_relays_from_anywhere_and_is_named_as_the_relay(service, cap_message) -> None:
    operator = await service.token("operator")
    relayed = await service.post(cap_message("J-OP", sender="cap@nimet.gov.ng", polygon=LAGOS), operator)
    assert relayed.status_code == 201, relayed.text
    assert relayed.json()["relayed_by"] == "operator"
    detail = (await service.client.get(f"/api/v1/alerts/{relayed.json()['id']}")).json()
    assert detail["relayed_by"] == "operator"
    assert detail["countries"] == ["NGA"]


async def test_an_outage_report_across_a_continent_is_403(service) -> None:
    kenya = await service.token("administration", country="KEN", senders=[KEN])

    async def report(area: dict) -> object:
        return await service.client.post(
            "/api/v1/network-status",
            content=json.dumps({"state": "down", "area": area}).encode(),
            headers={**auth(kenya), "Content-Type": "application/json"},
        )

    # Most of Africa, Kenya included: it reaches Kenya, and far beyond it.
    africa = [[10.0, -20.0], [40.0, -20.0], [40.0, 10.0], [10.0, 10.0], [10.0, -20.0]]
    refused = await report({"type": "Polygon", "coordinates": [africa]})
    assert refused.status_code == 403, refused.text
    assert rules(refused) == [("network.country.outside", "/area")]
    home = await report({"circle": {"lat": -1.29, "lon": 36.82, "radius_km": 5}})
    assert home.status_code == 201, home.text
