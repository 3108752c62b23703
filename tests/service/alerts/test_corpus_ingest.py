"""Every CAP message of the shared corpus gets the ingest verdict its manifest gives, over HTTP,
on SQLite and on PostgreSQL: `accept` -> 201 (a replay -> 200, same id), `reject` -> 4xx with
rule ids."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest

import cap
from tests.conftest import running_service

pytestmark = [pytest.mark.corpus, pytest.mark.slow]


def corpus_rows(shared_dir: Path) -> list[dict[str, str]]:
    root = shared_dir / "corpus" / "cap"
    manifest = root / "manifest.tsv"
    if not manifest.is_file():
        pytest.skip("../shared/corpus/cap/manifest.tsv is absent")
    with manifest.open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if r["file"].startswith(("valid/", "invalid/"))]
    assert rows, "the manifest lists no messages"
    return rows


def rounds_without_shared_keys(root: Path, rows: list[dict[str, str]]) -> list[list[dict[str, str]]]:
    """Split rows so no round holds two messages with one (sender, identifier, sent).

    The corpus has the OASIS examples in CAP 1.0, 1.1 and 1.2 under one key, and signed and
    tampered copies of one message: in one database the second would rightly be a replay.
    """
    seen: dict[object, int] = defaultdict(int)
    rounds: list[list[dict[str, str]]] = []
    for row in rows:
        alert = cap.validate((root / row["file"]).read_bytes()).alert
        key = alert.key if alert is not None else row["file"]
        index = seen[key]
        seen[key] += 1
        while len(rounds) <= index:
            rounds.append([])
        rounds[index].append(row)
    return rounds


async def test_corpus_verdicts_over_http(shared_dir: Path, database_factory, tmp_path: Path) -> None:
    root = shared_dir / "corpus" / "cap"
    rows = corpus_rows(shared_dir)
    failures: list[str] = []
    accepted = rejected = 0
    for n, batch in enumerate(rounds_without_shared_keys(root, rows)):
        async with running_service(database_factory(), tmp_path / f"var{n}") as service:
            token = await service.token("operator")
            for row in batch:
                body = (root / row["file"]).read_bytes()
                response = await service.post(body, token)
                if row["ingest"] == "accept":
                    accepted += 1
                    if response.status_code != 201:
                        failures.append(f"{row['file']}: {response.status_code} {response.text[:300]}")
                        continue
                    replay = await service.post(body, token)
                    if replay.status_code != 200 or replay.json()["id"] != response.json()["id"]:
                        failures.append(f"{row['file']}: replay gave {replay.status_code}")
                    stored = await service.client.get(
                        f"/api/v1/alerts/{response.json()['id']}/cap",
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    if stored.content != body:
                        failures.append(f"{row['file']}: stored bytes differ")
                else:
                    rejected += 1
                    rules = [e.get("rule") for e in response.json().get("errors", [])]
                    if not (400 <= response.status_code < 500) or not all(rules) or not rules:
                        failures.append(f"{row['file']}: {response.status_code} rules={rules}")
    assert not failures, "\n".join(failures)
    assert accepted >= 40 and rejected >= 5
