"""Every error of the API in one shape: an RFC 9457 problem from one table (service.errors).

The walk reads the operations from the app's own OpenAPI document, so a new route is covered
without a word here, and sends each bad credentials, bad path ids, bad query parameters,
malformed and oversized bodies and wrong methods: never a 500, and every 4xx a problem whose
`request_id` is the one in the response header (and so in the log line).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.db import Database
from service.runtime import UNKNOWN_TOKEN_MESSAGE
from tests.conftest import ServiceUnderTest, free_port, make_cap, running_service

PROBLEM = "application/problem+json"
MEMBERS = {"type": str, "title": str, "status": int, "detail": str, "request_id": str, "errors": list}
BAD_IDS = ("abc", "-1", "0", str(2**70), "1.5", "%20")
BAD_QUERY_VALUES = ("abc", "-1", "0", "1e999", "nan", "x" * 300, "2026-13-45T99:00:00", ",,,", "\x00")
BAD_BODIES = (
    (b"{", "application/json"),
    (b"[]", "application/json"),
    (b'{"a": ' * 200 + b"1" + b"}" * 200, "application/json"),
    (b"\xff\xfe\x00<", "application/octet-stream"),
    (b"<alert/>", "application/cap+xml"),
    (b"", "application/json"),
)
BODY_METHODS = {"post", "put", "patch", "delete"}
# Far past every body limit of the API (alerts: TAMPERE_MAX_BODY_BYTES, requests 64 KiB,
# network status 2 MiB).
OVERSIZED = 16 * 1024 * 1024


def assert_problem(response: httpx.Response, status: int | None = None) -> dict[str, Any]:
    """The response is a problem document of the contract, of `status` when given."""
    where = f"{response.request.method} {response.request.url}: {response.status_code} {response.text[:300]}"
    assert response.status_code < 500, where
    if status is not None:
        assert response.status_code == status, where
    assert 400 <= response.status_code < 500, where
    assert response.headers["content-type"] == PROBLEM, where
    body = response.json()
    for key, kind in MEMBERS.items():
        assert isinstance(body.get(key), kind), (key, where)
    assert body["status"] == response.status_code, where
    assert body["request_id"] == response.headers["x-request-id"], where
    assert body["errors"], where
    for error in body["errors"]:
        assert set(error) >= {"rule", "message", "path"}, where
        assert all(isinstance(error[k], str) and error[k] for k in ("rule", "message", "path")), where
    return body


def assert_answered(response: httpx.Response) -> None:
    """Never a server error; an error is a problem."""
    if response.status_code >= 400:
        assert_problem(response)


def operations(service: ServiceUnderTest) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path template, OpenAPI operation) of every operation the app documents."""
    document = service.app.openapi()
    found = [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(found) >= 20, "the walk found too few operations to be the whole API"
    return found


def fill(path: str, operation: dict[str, Any], **values: str) -> str:
    """The path with each parameter set: from `values`, else a plausible one."""
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            name = parameter["name"]
            value = values.get(name, "cells" if parameter["schema"].get("type") == "string" else "1")
            path = path.replace("{" + name + "}", value)
    return path


def required_query(operation: dict[str, Any]) -> dict[str, str]:
    """Plausible values of the required query parameters, so that the one under test speaks."""
    return {
        p["name"]: "0,0,1,1" if p["name"] == "bbox" else "1"
        for p in operation.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[ServiceUnderTest]:
    """The service on SQLite: the shape of an error does not depend on the store."""
    async with running_service(f"sqlite+aiosqlite:///{tmp_path / 'errors.db'}", tmp_path / "var") as service:
        yield service


async def test_credentials_refused_as_problems(api: ServiceUnderTest) -> None:
    for method, path, operation in operations(api):
        if "security" not in operation:
            continue
        url = fill(path, operation)
        unknown = await api.client.request(method, url, headers={"Authorization": "Bearer not-a-token"})
        body = assert_problem(unknown, 401)
        assert unknown.headers["www-authenticate"] == "Bearer"
        assert body["errors"][0] == {
            "rule": "auth.token.unknown",
            "message": UNKNOWN_TOKEN_MESSAGE,
            "path": "header:authorization",
        }
        basic = await api.client.request(method, url, headers={"Authorization": "Basic dTpw"})
        assert assert_problem(basic, 401)["errors"][0]["rule"] == "auth.token.malformed"
        anonymous = await api.client.request(method, url)
        if "401" in operation["responses"]:
            assert assert_problem(anonymous, 401)["errors"][0]["rule"] == "auth.token.missing"
        else:
            assert_answered(anonymous)


async def test_bad_path_ids_are_problems(api: ServiceUnderTest) -> None:
    token = await api.token("operator")
    headers = {"Authorization": f"Bearer {token}"}
    walked = 0
    for method, path, operation in operations(api):
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "path":
                continue
            for value in BAD_IDS:
                url = fill(path, operation, **{parameter["name"]: value})
                response = await api.client.request(
                    method, url, params=required_query(operation), headers=headers
                )
                walked += 1
                if parameter["schema"].get("type") != "integer":
                    assert_problem(response)  # a name: unknown ones are the resource's 404
                    continue
                # Ids are 1 to 2**62: none of these is one, and FastAPI says so before any route.
                error = assert_problem(response, 422)["errors"][0]
                assert (error["rule"], error["path"]) == (
                    "request.path.invalid",
                    "{" + parameter["name"] + "}",
                )
    assert walked


async def test_bad_query_parameters_are_problems(api: ServiceUnderTest) -> None:
    token = await api.token("operator")
    headers = {"Authorization": f"Bearer {token}"}
    for method, path, operation in operations(api):
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "query":
                continue
            name = parameter["name"]
            for value in BAD_QUERY_VALUES:
                params = {**required_query(operation), name: value}
                response = await api.client.request(
                    method, fill(path, operation), params=params, headers=headers
                )
                assert_answered(response)
            if name == "limit":
                response = await api.client.request(
                    method,
                    fill(path, operation),
                    params={**required_query(operation), "limit": "abc"},
                    headers=headers,
                )
                error = assert_problem(response, 422)["errors"][0]
                assert (error["rule"], error["path"]) == ("request.query.invalid", "?limit")
    missing = await api.client.get("/api/v1/layers/cells")
    assert assert_problem(missing, 422)["errors"] == [
        {"rule": "request.query.missing", "message": "Field required", "path": "?bbox"}
    ]


async def test_malformed_and_oversized_bodies_are_problems(api: ServiceUnderTest) -> None:
    token = await api.token("operator")
    for method, path, operation in operations(api):
        if method not in BODY_METHODS:
            continue
        url = fill(path, operation)
        for content, media_type in BAD_BODIES:
            headers = {"Authorization": f"Bearer {token}", "Content-Type": media_type}
            response = await api.client.request(method, url, content=content, headers=headers)
            assert_answered(response)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        huge = await api.client.request(method, url, content=b" " * OVERSIZED, headers=headers)
        if "413" in operation["responses"]:
            body = assert_problem(huge, 413)
            assert body["errors"][0]["rule"] == "request.body.too-large"
        else:
            assert_answered(huge)


async def test_wrong_methods_and_unknown_paths_are_problems(api: ServiceUnderTest) -> None:
    allowed: dict[str, set[str]] = {}
    samples: dict[str, str] = {}
    for method, path, operation in operations(api):
        allowed.setdefault(path, set()).add(method)
        samples[path] = fill(path, operation)
    templates = {path: re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$") for path in allowed}
    for path, methods in allowed.items():
        for method in {"get", "post", "put", "patch", "delete"} - methods:
            response = await api.client.request(method, samples[path])
            if any(method in allowed[other] and templates[other].match(samples[path]) for other in allowed):
                assert_answered(response)  # another route takes it: GET /layers/reload is a kind
                continue
            body = assert_problem(response, 405)
            assert body["errors"][0]["rule"] == "request.method.not-allowed"
            # Starlette names the methods of the first route matching the path (GET and POST of
            # one path are two routes): a part of them, never one the path does not have.
            offered = set(response.headers["allow"].replace(" ", "").split(","))
            assert offered and offered <= {m.upper() for m in methods} | {"HEAD"}
    for unknown in ("/api/v1/nope", "/api/v1/alerts/1/nope", "/api/v2/alerts", "/%ff"):
        body = assert_problem(await api.client.get(unknown), 404)
        assert body["errors"][0]["rule"] == "request.route.unknown"


async def test_request_id_of_the_client_is_the_problems(api: ServiceUnderTest) -> None:
    response = await api.client.get("/api/v1/alerts/abc", headers={"X-Request-ID": "trace-42"})
    assert assert_problem(response, 422)["request_id"] == "trace-42"


async def test_store_unreachable_is_503_with_retry_after(api: ServiceUnderTest) -> None:
    token = await api.token("operator")
    real = api.runtime.db
    # A real PostgreSQL URL on a port nothing listens on: every connection is refused.
    api.runtime.db = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/tampere")
    try:
        for response in (
            await api.client.get("/healthz"),
            await api.client.get("/api/v1/alerts"),
            await api.post(make_cap("DOWN-1"), token),
            await api.client.get("/api/v1/requests", headers={"Authorization": "Bearer another-token"}),
        ):
            assert response.status_code == 503, response.text
            assert response.headers["content-type"] == PROBLEM
            assert int(response.headers["retry-after"]) > 0
            body = response.json()
            assert body["status"] == 503 and body["request_id"] == response.headers["x-request-id"]
            assert body["errors"][0]["rule"] == "service.store.unreachable"
    finally:
        await api.runtime.db.close()
        api.runtime.db = real
    assert (await api.client.get("/healthz")).status_code == 200


async def test_store_full_is_507(api: ServiceUnderTest) -> None:
    token = await api.token("operator")

    def cap_pages(conn: Any, pages: int | None) -> None:
        # SQLite answers SQLITE_FULL ("database or disk is full") past max_page_count, as on a
        # full disk; the setting is the write connection's own.
        count = pages or conn.exec_driver_sql("PRAGMA page_count").scalar()
        conn.exec_driver_sql(f"PRAGMA max_page_count={count}")

    # 50 KB to store (an embedded file: a headline that long is refused by its length, cap.limits).
    resource = b"<resource><resourceDesc>audio</resourceDesc><mimeType>audio/mpeg</mimeType><derefUri>"
    big = make_cap("FULL-1").replace(b"<area>", resource + b"A" * 50_000 + b"</derefUri></resource><area>", 1)
    await api.runtime.db.write(lambda conn: cap_pages(conn, None))
    try:
        response = await api.post(big, token)
    finally:
        await api.runtime.db.write(lambda conn: cap_pages(conn, 2**30))
    assert response.status_code == 507, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["errors"][0]["rule"] == "service.store.full"
    assert body["request_id"] == response.headers["x-request-id"]
    assert (await api.post(big, token)).status_code == 201


async def test_a_bug_is_500_with_the_request_id_only(tmp_path: Path) -> None:
    from service.app import create_app
    from service.settings import Settings

    app = create_app(Settings(data_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path / 'b.db'}"))

    async def broken() -> None:
        raise RuntimeError("secret internals")

    # A route with a bug in it, added to the real app: the answer is the app's own.
    app.add_api_route("/broken", broken, methods=["GET"])
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tampere.test") as client:
            response = await client.get("/broken")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["status"] == 500 and body["errors"][0]["rule"] == "service.internal"
    assert "secret" not in response.text
