"""The `tampere` command line: validate, token create, migrate (a real subprocess each)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from service.auth import token_digest
from tests.conftest import run_tampere


@pytest.fixture
def files(tmp_path: Path, cap_message) -> dict[str, Path]:
    good = tmp_path / "good.xml"
    good.write_bytes(cap_message("CLI-1"))
    bad = tmp_path / "bad.xml"
    bad.write_bytes(cap_message("CLI-2").replace(b"<scope>Public</scope>", b""))
    return {"good": good, "bad": bad, "missing": tmp_path / "missing.xml"}


def test_validate_json_prints_one_object_per_file(files: dict[str, Path]) -> None:
    result = run_tampere("validate", str(files["good"]), str(files["bad"]), "--json")
    assert result.returncode == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(files["good"]), str(files["bad"])]
    good, bad = lines
    assert good["valid"] and good["ingestible"] and good["version"] == "1.2"
    assert good["errors"] == [] and good["signature"] == "unsigned"
    assert not bad["valid"] and not bad["ingestible"]
    assert bad["errors"][0] == {
        "rule": "cap.schema.missing",
        "message": bad["errors"][0]["message"],
        "path": "/alert/scope",
    }
    for key in ("file", "valid", "ingestible", "version", "errors", "warnings", "signature"):
        assert key in good


def test_validate_exit_codes(files: dict[str, Path]) -> None:
    assert run_tampere("validate", str(files["good"]), "--json").returncode == 0
    unreadable = run_tampere("validate", str(files["good"]), str(files["missing"]), "--json")
    assert unreadable.returncode == 2
    lines = [json.loads(line) for line in unreadable.stdout.splitlines()]
    assert lines[1]["file"] == str(files["missing"]) and not lines[1]["valid"]
    human = run_tampere("validate", str(files["bad"]))
    assert human.returncode == 1
    assert "cap.schema.missing at /alert/scope" in human.stdout


def test_validate_profile_adds_its_warnings_and_keeps_the_verdict(files: dict[str, Path]) -> None:
    plain = json.loads(run_tampere("validate", str(files["good"]), "--json").stdout)
    profiled = run_tampere("validate", str(files["good"]), "--json", "--profile", "ipaws")
    assert profiled.returncode == 0
    report = json.loads(profiled.stdout)
    assert report["valid"] and not plain["warnings"]
    assert report["warnings"], "the IPAWS profile asks for what a minimal alert lacks"
    assert all(w["rule"].startswith("profile.ipaws.") for w in report["warnings"])
    unknown = run_tampere("validate", str(files["good"]), "--profile", "nonexistent")
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr


async def test_token_create_prints_a_token_that_authenticates(
    service, cap_message, database_url: str, tmp_path: Path
) -> None:
    env = {"TAMPERE_DATABASE_URL": database_url, "TAMPERE_DATA_DIR": str(tmp_path / "var")}
    # In a thread: the app under test keeps its event loop (and its transactions) running.
    created = await asyncio.to_thread(
        run_tampere,
        "token",
        "create",
        "--role",
        "administration",
        "--country",
        "KEN",
        "--sender",
        "alerts@meteo.go.ke",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert len(token) >= 43 and "\n" not in token
    # Stored hashed, never in the clear.
    hashes = await service.runtime.db.read(
        lambda conn: conn.execute(text("SELECT token_hash FROM tokens")).scalars().all()
    )
    assert hashes == [token_digest(token)]
    assert (await service.post(cap_message("CLI-3"), token)).status_code == 201
    other = await service.post(cap_message("CLI-4", sender="x@y"), token)
    assert other.status_code == 403

    for role_args in (
        ["--role", "office", "--office", "ro-addis-ababa"],
        ["--role", "bdt"],
        ["--role", "responder"],
        ["--role", "operator"],
    ):
        result = await asyncio.to_thread(run_tampere, "token", "create", *role_args, env=env)
        assert result.returncode == 0 and result.stdout.strip(), result.stderr


def test_token_create_refuses_bad_requests(tmp_path: Path) -> None:
    env = {"TAMPERE_DATA_DIR": str(tmp_path / "var"), "TAMPERE_DATABASE_URL": ""}
    no_country = run_tampere("token", "create", "--role", "administration", env=env)
    assert no_country.returncode == 1 and "ISO 3166-1 alpha-3" in no_country.stderr
    taken = run_tampere(
        "token", "create", "--role", "administration", "--country", "KEN", "--sender", "s@x", env=env
    )
    assert taken.returncode == 0
    again = run_tampere(
        "token", "create", "--role", "administration", "--country", "UGA", "--sender", "s@x", env=env
    )
    assert again.returncode == 1 and "registered to administration:KEN" in again.stderr
    # The embedded default: SQLite in the data directory.
    assert (tmp_path / "var" / "tampere.db").is_file()


def test_layer_import_then_list(shared_dir: Path, tmp_path: Path) -> None:
    tiles = shared_dir / "data" / "telecom" / "ookla" / "guam_mobile_tiles_2023Q1.geojson"
    if not tiles.is_file():
        pytest.skip("the Ookla sample is absent")
    env = {"TAMPERE_DATA_DIR": str(tmp_path / "var"), "TAMPERE_DATABASE_URL": ""}
    assert run_tampere("layer", "list", env=env).stdout == ""
    imported = run_tampere("layer", "import", "ookla", str(tiles), env=env)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["kind"] == "ookla"
    listed = [json.loads(line) for line in run_tampere("layer", "list", env=env).stdout.splitlines()]
    assert [layer["kind"] for layer in listed] == ["ookla"]
    unknown = run_tampere("layer", "import", "fax-machines", str(tiles), env=env)
    assert unknown.returncode == 1 and "layer.kind" in unknown.stderr
    missing = run_tampere("layer", "import", "ookla", str(tmp_path / "nope.geojson"), env=env)
    assert missing.returncode == 2
    verified = run_tampere("audit", "verify", env=env)
    assert verified.returncode == 0 and "intact: 1 links" in verified.stdout
