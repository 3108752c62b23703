"""The `tampere` command line: validate, token create, migrate, the data directory and its
refusals, layer import's help (a real subprocess each)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from service.auth import token_digest
from tests.conftest import migrated, run_tampere


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
    migrated(tmp_path / "var")
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
    migrated(tmp_path / "var")
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


# --- one data directory ------------------------------------------------------------------------

# Every command that works on the store; each must name the store it used and refuse a missing one.
STORE_COMMANDS = (
    ("token", "create", "--role", "operator"),
    ("token", "list"),
    ("token", "revoke", "1"),
    ("layer", "list"),
    ("basemap", "list"),
    ("geocodes", "list"),
    ("source", "list"),
    ("trust", "list"),
    ("trust", "require", "--sender", "s@x"),
    ("audit", "verify"),
)


def test_commands_refuse_a_data_dir_without_a_store_naming_it_and_the_fix(tmp_path: Path) -> None:
    # Run from another directory, a command used to make a second, empty store there: its token
    # was then unknown to the server. Now it refuses, naming where it looked and how to point it.
    elsewhere = tmp_path / "elsewhere"
    env = {"TAMPERE_DATABASE_URL": ""}
    for command in STORE_COMMANDS:
        refused = run_tampere(*command, data_dir=elsewhere, env=env)
        assert refused.returncode == 2, (command, refused.stderr)
        assert refused.stdout == ""
        assert f"no Tampere database at {elsewhere.resolve() / 'tampere.db'}" in refused.stderr, command
        for fix in ("TAMPERE_DATA_DIR=DIR", "--data-dir DIR", "tampere migrate"):
            assert fix in refused.stderr, (command, fix)
    layer = tmp_path / "cells.csv"
    layer.write_text(
        "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal\n"
    )
    imported = run_tampere("layer", "import", "opencellid", str(layer), data_dir=elsewhere, env=env)
    assert imported.returncode == 2 and "no Tampere database" in imported.stderr
    assert not elsewhere.exists(), "a refused command leaves nothing behind"


def test_every_store_command_says_which_data_dir_and_database_it_used(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    created = run_tampere("migrate", data_dir=data_dir, database_url="")
    assert created.returncode == 0
    where = data_dir.resolve()
    line = f"data dir {where} (TAMPERE_DATA_DIR); database SQLite {where}/tampere.db"
    assert f"tampere migrate: {line}" in created.stderr
    for command in STORE_COMMANDS:
        done = run_tampere(*command, data_dir=data_dir, database_url="")
        assert f"tampere {' '.join(command[:2])}: {line}" in done.stderr, (command, done.stderr)


def test_the_data_dir_defaults_to_var_where_one_stands_and_data_dir_overrides_it(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("TAMPERE_DATA_DIR", "TAMPERE_DATABASE_URL")}

    def tampere(*args: str, cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "service.cli", *args],
            cwd=cwd,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    here = tmp_path / "here"
    here.mkdir()
    made = tampere("migrate", cwd=here)
    assert made.returncode == 0 and (here / "var" / "tampere.db").is_file()
    assert f"data dir {here / 'var'} (the default ./var under {here})" in made.stderr
    token = tampere("token", "create", "--role", "operator", cwd=here)
    assert token.returncode == 0 and token.stdout.strip()
    # From another directory: refused, naming both the dir it looked in and the way to point it.
    away = tmp_path / "away"
    away.mkdir()
    lost = tampere("token", "list", cwd=away)
    assert lost.returncode == 2 and str(away / "var") in lost.stderr
    # --data-dir before or after the command, over TAMPERE_DATA_DIR; the same store as `here`.
    before = ("--data-dir", str(here / "var"), "token", "list")
    after = ("token", "list", "--data-dir", "../here/var")
    for args in (before, after):
        found = tampere(*args, cwd=away, TAMPERE_DATA_DIR=str(tmp_path / "nowhere"))
        assert found.returncode == 0, found.stderr
        assert [json.loads(line)["principal"] for line in found.stdout.splitlines()] == ["operator"]
        assert f"data dir {here / 'var'} (--data-dir)" in found.stderr
    assert not (away / "var").exists() and not (tmp_path / "nowhere").exists()


@pytest.mark.postgres
@pytest.mark.parametrize("database_factory", ["postgres"], indirect=True)
def test_a_postgresql_database_without_the_schema_is_refused_until_migrated(
    database_factory, tmp_path: Path
) -> None:
    url = database_factory()  # a new, empty schema
    refused = run_tampere("token", "list", data_dir=tmp_path / "var", database_url=url)
    assert refused.returncode == 2 and "no Tampere database at postgresql" in refused.stderr
    assert "tampere migrate" in refused.stderr
    assert run_tampere("migrate", data_dir=tmp_path / "var", database_url=url).returncode == 0
    listed = run_tampere("token", "list", data_dir=tmp_path / "var", database_url=url)
    assert listed.returncode == 0 and "database postgresql+asyncpg://postgres@" in listed.stderr


def test_administration_without_a_sender_is_told_how_to_register_one(tmp_path: Path) -> None:
    migrated(tmp_path / "var")
    created = run_tampere(
        "token", "create", "--role", "administration", "--country", "KEN", data_dir=tmp_path / "var"
    )
    assert created.returncode == 0
    assert "can post no alert" in created.stderr
    assert "tampere token create --role administration --country KEN --sender SENDER" in created.stderr


def test_layer_import_help_names_each_kind_with_its_source_files_and_licence() -> None:
    from service.layers.files import KINDS, LAYER_KINDS

    shown = run_tampere("layer", "import", "--help")
    assert shown.returncode == 0
    text = " ".join(shown.stdout.split())  # argparse wraps lines
    assert list(LAYER_KINDS) == list(KINDS)
    for kind in LAYER_KINDS.values():
        for fact in (kind.name, kind.source, kind.files, kind.licence):
            assert " ".join(fact.split()) in text, fact
    for licence in ("CC BY-SA 4.0", "CC BY-NC-SA 4.0", "CC BY-NC-SA 3.0", "CC BY 4.0"):
        assert licence in text


def test_token_create_help_lists_the_office_ids() -> None:
    shown = " ".join(run_tampere("token", "create", "--help").stdout.split())
    for office in ("ro-addis-ababa", "ro-bangkok", "ao-bridgetown", "ro-geneva"):
        assert office in shown
