"""POST and GET /api/v1/alerts against the real app on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from lxml import etree

KEN = "alerts@meteo.go.ke"


async def test_post_creates_then_replay_returns_same_id(service, cap_message) -> None:
    token = await service.token("administration", country="KEN", senders=[KEN])
    body = cap_message("KE-2026-001")
    first = await service.post(body, token)
    assert first.status_code == 201, first.text
    alert = first.json()
    for key in (
        "id",
        "identifier",
        "sender",
        "sent",
        "status",
        "msgType",
        "countries",
        "regions",
        "impact",
        "routing",
        "warnings",
        "state",
    ):
        assert key in alert
    assert alert["identifier"] == "KE-2026-001"
    assert alert["sender"] == KEN
    assert alert["state"] == "active"
    assert {"countries", "regions", "sites"} <= alert["impact"].keys()
    assert first.headers["location"] == f"/api/v1/alerts/{alert['id']}"

    again = await service.post(body, token)
    assert again.status_code == 200
    assert again.json()["id"] == alert["id"]


async def test_same_identifier_other_sent_is_a_new_message(service, cap_message) -> None:
    token = await service.token("operator")
    one = await service.post(cap_message("X-1", sent=datetime(2026, 3, 1, 12, tzinfo=UTC)), token)
    two = await service.post(cap_message("X-1", sent=datetime(2026, 3, 1, 13, tzinfo=UTC)), token)
    assert (one.status_code, two.status_code) == (201, 201)
    assert one.json()["id"] != two.json()["id"]


async def test_missing_or_unknown_token_is_401(service, cap_message) -> None:
    body = cap_message("A-1")
    assert (await service.post(body, None)).status_code == 401
    assert (await service.post(body, "not-a-token")).status_code == 401
    basic = await service.client.post("/api/v1/alerts", content=body, headers={"Authorization": "Basic dTpw"})
    assert basic.status_code == 401
    assert basic.headers["www-authenticate"] == "Bearer"
    assert basic.json()["errors"][0]["rule"] == "auth.token.malformed"
    assert (await service.post(body, None)).json()["errors"][0]["rule"] == "auth.token.missing"
    assert (await service.post(body, "not-a-token")).json()["errors"][0]["rule"] == "auth.token.unknown"


async def test_administration_posts_only_as_registered_senders(service, cap_message) -> None:
    kenya = await service.token("administration", country="KEN", senders=[KEN])
    responder = await service.token("responder")
    office = await service.token("office", office="ro-addis-ababa")
    foreign = cap_message("UG-1", sender="alerts@unma.go.ug")
    response = await service.post(foreign, kenya)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {
            "rule": "alert.sender.not-registered",
            "message": "sender 'alerts@unma.go.ug' is not registered to administration:KEN; the "
            "operator registers it with `tampere token create --role administration --country KEN "
            '--sender alerts@unma.go.ug` (or POST /api/v1/tokens with "senders")',
            "path": "/alert/sender",
        }
    ]
    assert (await service.post(cap_message("K-1"), responder)).status_code == 403
    refused = await service.post(cap_message("K-1"), office)
    assert refused.status_code == 403
    # The refusal says who may post and the command that makes it so.
    assert "--sender S" in refused.json()["errors"][0]["message"]


async def test_operator_posts_for_any_sender(service, cap_message) -> None:
    operator = await service.token("operator")
    response = await service.post(cap_message("R-1", sender="relay@example.org"), operator)
    assert response.status_code == 201


async def test_not_ingestible_is_422_with_rule_and_path(service, cap_message) -> None:
    token = await service.token("operator")
    broken = cap_message("B-1").replace(b"<scope>Public</scope>", b"")
    response = await service.post(broken, token)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    errors = problem["errors"]
    assert {"rule": "cap.schema.missing", "path": "/alert/scope"}.items() <= errors[0].items()
    # The errors as `tampere validate` prints them; its other findings ride along.
    assert problem["status"] == 422 and problem["valid"] is False and "warnings" in problem
    for junk in (b"", b"not xml at all", b"<alert/>", b"\xff\xfe\x00<", b'{"a": 1}'):
        response = await service.post(junk, token)
        assert 400 <= response.status_code < 500, (junk, response.status_code)
        assert response.json()["errors"], junk


async def test_doctype_is_refused_without_expansion(service) -> None:
    token = await service.token("operator")
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&x;</identifier></alert>'
    )
    response = await service.post(xxe, token)
    assert response.status_code == 422
    assert response.json()["errors"][0]["rule"] == "cap.xml.doctype"


async def test_a_feed_is_not_an_alert(service) -> None:
    token = await service.token("operator")
    feed = b'<feed xmlns="http://www.w3.org/2005/Atom"><id>x</id><title>t</title></feed>'
    response = await service.post(feed, token)
    assert response.status_code == 422


async def test_body_over_the_limit_is_413(service, cap_message) -> None:
    token = await service.token("operator")
    limit = service.runtime.settings.max_body_bytes
    response = await service.post(b" " * (limit + 1), token)
    assert response.status_code == 413
    assert response.json()["errors"][0]["rule"] == "request.body.too-large"


async def test_wrong_content_type_is_tolerated(service, cap_message) -> None:
    token = await service.token("operator")
    response = await service.post(cap_message("CT-1"), token, **{"Content-Type": "text/plain"})
    assert response.status_code == 201


async def test_get_alert_and_original_bytes(service, cap_message) -> None:
    token = await service.token("operator")
    body = cap_message("G-1")
    alert_id = (await service.post(body, token)).json()["id"]
    one = await service.client.get(f"/api/v1/alerts/{alert_id}")
    assert one.status_code == 200
    detail = one.json()
    assert detail["state"] == "active"
    assert [step["action"] for step in detail["history"]] == ["received"]
    assert detail["alert"]["identifier"] == "G-1"
    cap = await service.client.get(f"/api/v1/alerts/{alert_id}/cap")
    assert cap.status_code == 200
    assert cap.headers["content-type"] == "application/cap+xml"
    assert cap.content == body
    absent = await service.client.get("/api/v1/alerts/999999")
    assert absent.status_code == 404
    assert absent.json()["errors"] == [
        {"rule": "alert.not-found", "message": "no alert 999999", "path": "{alert_id}"}
    ]


async def test_list_is_geojson_with_filters(service, cap_message: Callable[..., bytes]) -> None:
    token = await service.token("operator")
    early = datetime(2026, 3, 1, 12, tzinfo=UTC)
    late = datetime(2026, 3, 2, 12, tzinfo=UTC)
    await service.post(cap_message("L-1", sent=early, severity="Severe"), token)
    await service.post(cap_message("L-2", sent=late, severity="Minor"), token)
    await service.post(cap_message("L-3", sent=late, polygon="10,10 10,11 11,11 11,10 10,10"), token)
    everything = await service.client.get("/api/v1/alerts")
    assert everything.status_code == 200
    assert everything.headers["content-type"].startswith("application/geo+json")
    collection = everything.json()
    assert collection["type"] == "FeatureCollection"
    assert {f["properties"]["identifier"] for f in collection["features"]} == {"L-1", "L-2", "L-3"}
    feature = next(f for f in collection["features"] if f["properties"]["identifier"] == "L-1")
    assert feature["geometry"]["type"] == "Polygon"
    ring = feature["geometry"]["coordinates"][0]
    # RFC 7946: lon, lat.
    assert min(p[0] for p in ring) == 36.70 and min(p[1] for p in ring) == -1.40

    async def identifiers(**params: str) -> set[str]:
        response = await service.client.get("/api/v1/alerts", params=params)
        assert response.status_code == 200, response.text
        return {f["properties"]["identifier"] for f in response.json()["features"]}

    assert await identifiers(severity="Minor") == {"L-2"}
    # Countries and ITU-D regions come from geo.impact: Nairobi is in Kenya, (10N, 10E) in Nigeria.
    assert await identifiers(country="KEN") == {"L-1", "L-2"}
    assert await identifiers(country="nga") == {"L-3"}
    assert await identifiers(region="Africa") == {"L-1", "L-2", "L-3"}
    assert await identifiers(region="Europe") == set()
    assert await identifiers(since="2026-03-02T00:00:00+00:00") == {"L-2", "L-3"}
    assert await identifiers(bbox="36,-2,37,-1") == {"L-1", "L-2"}
    assert await identifiers(bbox="9.5,9.5,10.5,10.5") == {"L-3"}
    assert await identifiers(bbox="170,-10,-170,10") == set()
    bad = await service.client.get("/api/v1/alerts", params={"bbox": "1,2,3"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["rule"] == "query.bbox.format"
    reversed_box = await service.client.get("/api/v1/alerts", params={"bbox": "36,-1,37,-2"})
    assert [e["rule"] for e in reversed_box.json()["errors"]] == ["query.bbox.range"]
    naive = await service.client.get("/api/v1/alerts", params={"since": "2026-03-02T00:00:00"})
    assert naive.status_code == 422
    assert naive.json()["errors"] == [
        {
            "rule": "alert.since.no-offset",
            "message": "since needs a UTC offset (e.g. +00:00)",
            "path": "?since",
        }
    ]


async def test_atom_feed_lists_active_public_alerts(service, cap_message) -> None:
    token = await service.token("operator")
    await service.post(cap_message("F-1", headline="Public one"), token)
    await service.post(cap_message("F-2", scope="Restricted", restriction="ops"), token)
    response = await service.client.get("/api/v1/feeds/alerts.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = etree.fromstring(response.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = feed.xpath("a:entry/a:title/text()", namespaces=ns)
    assert titles == ["Public one"]
    link = feed.xpath("a:entry/a:link[@rel='alternate']/@href", namespaces=ns)[0]
    cap = await service.client.get(link)
    assert cap.status_code == 200 and b"<identifier>F-1</identifier>" in cap.content


async def test_health_metrics_and_request_ids(service, cap_message) -> None:
    health = await service.client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert health.json()["checks"]["store_reachable"] and health.json()["checks"]["store_writable"]
    assert len(health.headers["x-request-id"]) == 32
    echoed = await service.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    token = await service.token("operator")
    await service.post(cap_message("M-1"), token)
    await service.post(cap_message("M-1"), token)
    await service.post(b"junk", token)
    metrics = (await service.client.get("/metrics")).text
    assert 'tampere_ingest_total{result="created"} 1.0' in metrics
    assert 'tampere_ingest_total{result="replayed"} 1.0' in metrics
    assert 'tampere_ingest_total{result="rejected"} 1.0' in metrics
    assert "tampere_ingest_seconds_bucket" in metrics
    assert "tampere_write_backlog 0.0" in metrics
    assert 'route="/api/v1/alerts"' in metrics


async def test_openapi_document_describes_the_api(service) -> None:
    schema = (await service.client.get("/openapi.json")).json()
    assert "/api/v1/alerts" in schema["paths"]
    post = schema["paths"]["/api/v1/alerts"]["post"]
    assert "application/cap+xml" in post["requestBody"]["content"]
    assert (await service.client.get("/docs")).status_code == 200
