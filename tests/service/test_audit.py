"""The hash-chained audit log: a link per write, append-only, and `tampere audit verify`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from service import audit
from service.db.models import AuditEntry
from tests.conftest import run_tampere_async


async def chain(service) -> list[Any]:
    return await service.runtime.db.read(
        lambda conn: list(conn.execute(select(AuditEntry.__table__).order_by(AuditEntry.seq)))
    )


async def test_every_write_appends_a_link(service, cap_message) -> None:
    token = await service.token("operator")
    body = cap_message("AU-1")
    await service.post(body, token)
    await service.post(body, token)  # a replay writes nothing
    await service.post(b"junk", token)  # neither does a rejection
    links = await chain(service)
    assert [(e.seq, e.action) for e in links] == [(1, "token.create"), (2, "alert.ingest")]
    assert links[0].prev_hash == audit.GENESIS
    assert links[1].prev_hash == links[0].hash
    assert links[1].actor == "operator"
    assert links[1].payload_hash == audit.payload_digest(body)
    verdict = await service.runtime.db.read(audit.verify)
    assert verdict.intact and verdict.links == 2


async def test_the_log_refuses_update_and_delete(service) -> None:
    await service.token("operator")
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            await service.runtime.db.write(lambda conn, sql=statement: conn.execute(text(sql)))
    assert len(await chain(service)) == 1


async def _tamper(service, statement: str) -> None:
    if service.runtime.db.is_sqlite:
        unguard = ["DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"]
    else:
        unguard = ["ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"]

    def tamper(conn) -> None:
        for sql in [*unguard, statement]:
            conn.execute(text(sql))

    await service.runtime.db.write(tamper)


async def test_verify_reports_the_first_broken_link(
    service, cap_message, database_url: str, tmp_path: Path
) -> None:
    token = await service.token("operator")
    for n in range(3):
        await service.post(cap_message(f"AU-{n}"), token)
    ok = await run_tampere_async("audit", "verify", database_url=database_url, data_dir=tmp_path / "var")
    assert ok.returncode == 0, ok.stderr
    assert "intact: 4 links" in ok.stdout

    await _tamper(service, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    verdict = await service.runtime.db.read(audit.verify)
    assert (verdict.broken_at, verdict.links) == (3, 2)
    assert "hash" in (verdict.reason or "")
    broken = await run_tampere_async("audit", "verify", database_url=database_url, data_dir=tmp_path / "var")
    assert broken.returncode == 1
    assert "broken at link 3" in broken.stdout


async def test_verify_notices_a_removed_link(service, cap_message) -> None:
    token = await service.token("operator")
    for n in range(3):
        await service.post(cap_message(f"AR-{n}"), token)
    await _tamper(service, "DELETE FROM audit_log WHERE seq = 2")
    verdict = await service.runtime.db.read(audit.verify)
    assert verdict.broken_at == 2
    assert verdict.reason == "link 2 is missing"
