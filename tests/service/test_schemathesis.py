"""Property-based run of schemathesis over the OpenAPI schema: no input gives a server error,
and every error is an RFC 9457 problem carrying the response's request id."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from contact_points.registry import Registry
from geo.jurisdiction import Jurisdictions
from geo.reference import ReferenceTables
from service.alerts.ingest import ingest
from service.app import create_app
from service.auth import create_token
from service.db import Database, upgrade
from service.settings import Settings

pytestmark = pytest.mark.slow
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
PROBLEM_MEMBERS = {"type": str, "title": str, "status": int, "detail": str, "request_id": str, "errors": list}


def an_error_is_a_problem(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Any) -> None:
    """A 4xx or 5xx is application/problem+json with every member, `status` the answer's own,
    `request_id` its X-Request-ID, and each finding a rule, a message and a path."""
    if response.status_code < 400:
        return
    content_type = response.headers.get("content-type", [""])
    assert content_type[0] == "application/problem+json", (response.status_code, content_type)
    body = response.json()
    for key, kind in PROBLEM_MEMBERS.items():
        assert isinstance(body.get(key), kind), (key, body)
    assert body["status"] == response.status_code
    assert body["request_id"] == response.headers["x-request-id"][0]
    assert body["errors"] and all({"rule", "message", "path"} <= set(e) for e in body["errors"]), body


async def _operator_token(url: str, messages: list[bytes]) -> str:
    """Migrate the store, issue an operator token, and ingest a few alerts to find by id."""
    db = Database(url)
    try:
        await upgrade(db)
        token, operator = await db.write(lambda conn: create_token(conn, role="operator"))
        registry = Registry.load()
        jurisdictions = Jurisdictions(ReferenceTables.load(), margin_km=Settings().jurisdiction_margin_km)
        for raw in messages:
            await ingest(db, operator, raw, registry=registry, jurisdictions=jurisdictions)
        return token
    finally:
        await db.close()


def test_no_input_gives_a_server_error(tmp_path: Path, cap_message) -> None:
    """Every operation of the app's own OpenAPI document, fuzzed with an operator token."""
    settings_ = Settings(data_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path / 't.db'}")
    messages = [
        cap_message("ST-1"),
        cap_message("ST-2", scope="Private", addresses=["KEN"]),
        cap_message("ST-3", msg_type="Cancel", references=[("alerts@meteo.go.ke", "ST-1", T0)]),
    ]
    token = asyncio.run(_operator_token(settings_.resolved_database_url(), messages))
    # schemathesis starts the app's lifespan itself (ASGI, in process).
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(settings_))
    headers = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/v1/alerts", "/api/v1/alerts/{alert_id}"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def no_server_error(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error, an_error_is_a_problem])

        no_server_error()
