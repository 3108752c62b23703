"""Tokens: what `token create` refuses (and the fix it names), the operator API, expiry and
revocation on REST, by this instance and by another process (the CLI)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from service.auth import RegistryError, create_token
from tests.conftest import ServiceUnderTest, migrated, run_tampere, run_tampere_async


def test_token_create_refuses_unknown_offices_and_countries_naming_the_fix(tmp_path: Path) -> None:
    env = {"TAMPERE_DATA_DIR": str(tmp_path / "var"), "TAMPERE_DATABASE_URL": ""}
    migrated(tmp_path / "var")
    bangkok = run_tampere("token", "create", "--role", "office", "--office", "bangkok", env=env)
    assert bangkok.returncode == 1 and bangkok.stdout == ""
    assert "unknown office 'bangkok'" in bangkok.stderr and "ro-bangkok" in bangkok.stderr
    territory = run_tampere("token", "create", "--role", "administration", "--country", "PRI", env=env)
    assert territory.returncode == 1 and "use --country USA" in territory.stderr
    unknown = run_tampere("token", "create", "--role", "administration", "--country", "KNE", env=env)
    assert unknown.returncode == 1 and "KEN (Kenya)" in unknown.stderr
    role = run_tampere("token", "create", "--role", "ministry", env=env)
    assert role.returncode == 2 and "invalid choice" in role.stderr
    accepted = run_tampere("token", "create", "--role", "office", "--office", "ro-bangkok", env=env)
    assert accepted.returncode == 0 and len(accepted.stdout.strip()) >= 43
    # Nothing was issued for the refused requests.
    listed = [json.loads(line) for line in run_tampere("token", "list", env=env).stdout.splitlines()]
    assert [(t["id"], t["principal"], t["state"]) for t in listed] == [(1, "office:ro-bangkok", "active")]
    assert accepted.stdout.strip() not in json.dumps(listed)


async def test_create_token_checks_the_office_case_insensitively(service: ServiceUnderTest) -> None:
    async def office_of(office: str) -> str | None:
        _, principal = await service.runtime.db.write(
            lambda conn: create_token(conn, role="office", office=office)
        )
        return principal.office

    assert await office_of("RO-Bangkok") == "ro-bangkok"
    with pytest.raises(RegistryError) as refused:
        await office_of("RO-AFR")
    finding = refused.value.findings[0]
    assert (finding.rule, finding.path) == ("token.office.unknown", "/office")


async def test_operator_issues_lists_and_revokes_tokens_over_http(service: ServiceUnderTest) -> None:
    operator = {"Authorization": f"Bearer {await service.token('operator')}"}
    client = service.client
    created = await client.post(
        "/api/v1/tokens",
        json={"role": "office", "office": "ro-brasilia", "expires_days": 30},
        headers=operator,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["principal"] == "office:ro-brasilia" and body["expires_at"]
    assert created.headers["cache-control"] == "no-store"
    office = {"Authorization": f"Bearer {body['token']}"}
    assert (await client.get("/api/v1/alerts", headers=office)).status_code == 200

    listed = await client.get("/api/v1/tokens", headers=operator)
    assert listed.status_code == 200
    assert body["token"] not in listed.text
    states = {t["id"]: (t["principal"], t["state"]) for t in listed.json()["tokens"]}
    assert states[body["id"]] == ("office:ro-brasilia", "active")

    # Refusals: the office may not manage tokens; unknown offices and countries name the fix.
    assert (await client.get("/api/v1/tokens", headers=office)).status_code == 403
    bad = await client.post("/api/v1/tokens", json={"role": "office", "office": "bangkok"}, headers=operator)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    [error] = bad.json()["errors"]
    assert (error["rule"], error["path"]) == ("token.office.unknown", "/office")
    assert "ro-bangkok" in error["message"]
    country = await client.post(
        "/api/v1/tokens", json={"role": "administration", "country": "ZZZ"}, headers=operator
    )
    assert country.status_code == 422 and country.json()["errors"][0]["rule"] == "token.country.unknown"

    revoked = await client.delete(f"/api/v1/tokens/{body['id']}", headers=operator)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    # At once on this instance, although the token was just used (and cached).
    refused = await client.get("/api/v1/alerts", headers=office)
    assert refused.status_code == 401 and refused.json()["errors"][0]["rule"] == "auth.token.unknown"
    assert (await client.delete("/api/v1/tokens/999", headers=operator)).status_code == 404
    # The token in hand is not revoked by itself (the operator would be locked out mid-way).
    [own_id] = [i for i, (principal, _) in states.items() if principal == "operator"]
    own = await client.delete(f"/api/v1/tokens/{own_id}", headers=operator)
    assert own.status_code == 409 and own.json()["errors"][0]["rule"] == "token.revoke.self"
    assert (await client.get("/api/v1/tokens", headers=operator)).status_code == 200


async def test_an_expired_token_is_refused(service: ServiceUnderTest) -> None:
    # A hundred-thousandth of a day: 0.864 s.
    token, _ = await service.runtime.db.write(
        lambda conn: create_token(conn, role="responder", expires_days=0.00001)
    )
    headers = {"Authorization": f"Bearer {token}"}
    assert (await service.client.get("/api/v1/alerts", headers=headers)).status_code == 200
    await asyncio.sleep(1.0)
    assert (await service.client.get("/api/v1/alerts", headers=headers)).status_code == 401


async def test_a_token_revoked_by_another_process_is_refused_within_a_second(
    service: ServiceUnderTest, database_url: str, tmp_path: Path
) -> None:
    token = await service.token("administration", country="KEN")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await service.client.get("/api/v1/alerts", headers=headers)).status_code == 200  # cached now
    listed = await run_tampere_async("token", "list", database_url=database_url, data_dir=tmp_path / "var")
    [entry] = [json.loads(line) for line in listed.stdout.splitlines()]

    async def keep_using() -> None:  # keeps the credential cache warm while the CLI runs
        while True:
            await service.client.get("/api/v1/alerts", headers=headers)
            await asyncio.sleep(0.05)

    user = asyncio.create_task(keep_using())
    try:
        revoked = await run_tampere_async(
            "token", "revoke", str(entry["id"]), database_url=database_url, data_dir=tmp_path / "var"
        )
    finally:
        user.cancel()
    assert revoked.returncode == 0, revoked.stderr
    done = time.monotonic()
    while (await service.client.get("/api/v1/alerts", headers=headers)).status_code == 200:
        assert time.monotonic() - done < 1.0, "still accepted a second after the revocation"
        await asyncio.sleep(0.05)
