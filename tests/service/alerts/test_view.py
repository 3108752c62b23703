"""The alert list for maps (`?view=map&zoom=`): compact properties, the areas generalised and
rounded for the zoom, every <info>'s headline for the reader's language, alerts the map cannot
draw still listed; several statuses at once; unchanged lists answered 304; compressed when asked;
the Atom feed says its charset."""

from __future__ import annotations

import gzip

import orjson

from tests.conftest import make_cap

# A ragged polygon (CAP lat,lon pairs) with vertices far closer than a pixel at low zooms.
RAGGED = (
    " ".join(f"{-1.4 + 0.25 * (i / 60):.6f},{36.7 + (0.0004 if i % 2 else 0):.6f}" for i in range(61))
    + " -1.15,36.95 -1.40,36.95 -1.400000,36.700000"
)
TWO_LANGUAGES = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
<identifier>bilingual-1</identifier><sender>alerts@meteo.go.ke</sender>
<sent>2026-03-01T12:00:00+00:00</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
<info><language>en-KE</language><category>Met</category><event>Flood</event><urgency>Immediate</urgency>
<severity>Severe</severity><certainty>Likely</certainty><headline>Flood warning</headline>
<area><areaDesc>Nairobi</areaDesc>
<polygon>-1.40,36.70 -1.40,36.95 -1.15,36.95 -1.15,36.70 -1.40,36.70</polygon></area></info>
<info><language>fr</language><category>Met</category><event>Inondation</event><urgency>Immediate</urgency>
<severity>Severe</severity><certainty>Likely</certainty><headline>Alerte aux inondations</headline>
<area><areaDesc>Nairobi</areaDesc>
<polygon>-1.40,36.70 -1.40,36.95 -1.15,36.95 -1.15,36.70 -1.40,36.70</polygon></area></info>
</alert>"""


def _coordinates(geometry: dict) -> list[list[float]]:
    found: list[list[float]] = []

    def walk(value: object) -> None:
        if isinstance(value, list) and value and isinstance(value[0], int | float):
            found.append(value)  # type: ignore[arg-type]
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(geometry["coordinates"])
    return found


async def test_map_view_is_compact_generalised_and_rounded_for_the_zoom(service) -> None:
    token = await service.token("operator")
    assert (await service.post(make_cap("ragged", polygon=RAGGED), token)).status_code == 201
    full = (await service.client.get("/api/v1/alerts")).json()["features"][0]
    low = (await service.client.get("/api/v1/alerts?view=map&zoom=2")).json()["features"][0]
    high = (await service.client.get("/api/v1/alerts?view=map&zoom=14")).json()["features"][0]
    assert (
        len(_coordinates(low["geometry"]))
        < len(_coordinates(high["geometry"]))
        <= len(_coordinates(full["geometry"]))
    )
    assert len(_coordinates(low["geometry"])) <= 6  # a ragged square is a square at zoom 2
    # Zoom 2 shows 0.18 degrees a pixel: three decimals are finer than a tenth of one.
    assert all(round(v, 3) == v for xy in _coordinates(low["geometry"]) for v in xy)
    properties = low["properties"]
    assert {"id", "headline", "infos", "severity", "urgency", "certainty", "countries", "mapped"} <= set(
        properties
    )
    assert "routing" not in properties and "impact" not in properties
    assert properties["mapped"] is True


async def test_map_view_lists_every_infos_headline_and_alerts_without_geometry(service) -> None:
    token = await service.token("operator")
    assert (await service.post(TWO_LANGUAGES.encode(), token)).status_code == 201
    area = "<areaDesc>Coast</areaDesc><geocode><valueName>UGC</valueName><value>KEZ999</value></geocode>"
    assert (await service.post(make_cap("codes-only", area_xml=area), token)).status_code == 201
    features = {
        f["properties"]["identifier"]: f
        for f in (await service.client.get("/api/v1/alerts?view=map")).json()["features"]
    }
    assert features["bilingual-1"]["properties"]["infos"] == [
        {"language": "en-KE", "headline": "Flood warning", "event": "Flood"},
        {"language": "fr", "headline": "Alerte aux inondations", "event": "Inondation"},
    ]
    codes_only = features["codes-only"]
    assert codes_only["geometry"] is None and codes_only["properties"]["mapped"] is False


async def test_status_is_repeatable_and_actual_is_the_default(service) -> None:
    token = await service.token("operator")
    for identifier, status in (("real", "Actual"), ("drill", "Exercise"), ("probe", "Test")):
        assert (await service.post(make_cap(identifier, status=status), token)).status_code == 201

    async def listed(query: str) -> set[str]:
        response = await service.client.get(f"/api/v1/alerts{query}")
        assert response.status_code == 200, response.text
        return {f["properties"]["identifier"] for f in response.json()["features"]}

    assert await listed("") == {"real"}
    assert await listed("?status=Exercise&status=Test") == {"drill", "probe"}
    assert await listed("?view=map&status=Actual&status=Exercise") == {"real", "drill"}
    refused = await service.client.get("/api/v1/alerts?status=Rehearsal")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["path"].startswith("?status")


async def test_an_unchanged_list_is_answered_304_and_a_changed_one_200(service) -> None:
    token = await service.token("operator")
    assert (await service.post(make_cap("first"), token)).status_code == 201
    first = await service.client.get("/api/v1/alerts?view=map&zoom=5")
    tag = first.headers["etag"]
    assert tag.startswith('W/"') and first.headers["cache-control"] == "private, no-cache"
    again = await service.client.get("/api/v1/alerts?view=map&zoom=5", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert (await service.post(make_cap("second"), token)).status_code == 201
    changed = await service.client.get("/api/v1/alerts?view=map&zoom=5", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    assert len(changed.json()["features"]) == 2


async def test_the_list_is_gzipped_when_the_client_accepts_it(service) -> None:
    token = await service.token("operator")
    for i in range(5):
        assert (await service.post(make_cap(f"gz-{i}"), token)).status_code == 201
    plain = await service.client.get("/api/v1/alerts", headers={"Accept-Encoding": "identity"})
    packed = await service.client.get("/api/v1/alerts", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["vary"]
    # httpx decodes it: the same document either way; on the wire it was smaller.
    assert orjson.loads(packed.content) == orjson.loads(plain.content)
    assert int(packed.headers["content-length"]) < len(plain.content) / 3
    assert len(gzip.compress(plain.content)) < len(plain.content)


async def test_the_atom_feed_says_it_is_utf_8(service) -> None:
    token = await service.token("operator")
    headline = "Alerte à Côte d'Ivoire — تحذير"
    assert (await service.post(make_cap("accents", headline=headline), token)).status_code == 201
    response = await service.client.get("/api/v1/feeds/alerts.atom")
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert headline in response.text


async def test_lists_made_for_anonymous_readers_are_never_given_to_others_nor_kept_past_a_change(
    service,
) -> None:
    token = await service.token("operator")
    office = await service.token("office", office="ro-addis-ababa")
    assert (await service.post(make_cap("public-1"), token)).status_code == 201

    async def listed(bearer: str | None = None) -> set[str]:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        response = await service.client.get("/api/v1/alerts?view=map&zoom=2", headers=headers)
        return {f["properties"]["identifier"] for f in response.json()["features"]}

    assert await listed() == {"public-1"}
    restricted = make_cap("restricted-1", scope="Restricted", restriction="ITU offices")
    assert (await service.post(restricted, token)).status_code == 201
    # The event of the new alert makes the kept list stale at once: no second's delay.
    assert await listed() == {"public-1"}  # Restricted: not for anonymous readers
    assert await listed(office) == {"public-1", "restricted-1"}
    assert await listed() == {"public-1"}
    assert (await service.post(make_cap("public-2"), token)).status_code == 201
    assert await listed() == {"public-1", "public-2"}
