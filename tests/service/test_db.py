"""The store: Alembic migrations match the models, run at startup, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

import cap
from service.db import Database, upgrade
from service.db.database import postgres_connect_args
from service.db.migrate import alembic_config, include_object
from service.db.models import AlertRecord, Base, Event, Principal
from service.settings import Settings
from tests.cap.test_rules import CAP10


async def test_migrations_build_exactly_the_models(database_url: str) -> None:
    db = Database(database_url)
    try:
        await upgrade(db)
        await upgrade(db)  # a second run is a no-op

        def differences(conn) -> list:
            context = MigrationContext.configure(conn, opts={"include_object": include_object})
            return compare_metadata(context, Base.metadata)

        assert await db.read(differences) == []
        version = await db.read(
            lambda conn: conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        )
        assert version == _head_revision()
    finally:
        await db.close()


def _head_revision() -> str:
    """The one head of the migration chain (two heads would be a broken chain)."""
    from alembic.script import ScriptDirectory

    from service.db.migrate import alembic_config

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, heads
    return heads[0]


async def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        await upgrade(db)
        mode = await db.write(lambda s: s.execute(text("PRAGMA journal_mode")).scalar())
        sync = await db.write(lambda s: s.execute(text("PRAGMA synchronous")).scalar())
        assert (mode, sync) == ("wal", 1)  # 1 = NORMAL
    finally:
        await db.close()


def test_default_database_is_sqlite_in_the_data_dir(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("TAMPERE_DATABASE_URL", raising=False)
    monkeypatch.setenv("TAMPERE_DATA_DIR", str(tmp_path / "data"))
    url = make_url(Settings().resolved_database_url())
    assert url.get_backend_name() == "sqlite"
    assert Path(url.database or "") == (tmp_path / "data" / "tampere.db").resolve()


def test_postgres_schema_option_becomes_a_server_setting() -> None:
    url, args = postgres_connect_args(
        make_url("postgresql+asyncpg://u@h/db?options=-csearch_path%3Dt_1%2Cpublic")
    )
    assert args == {"server_settings": {"search_path": "t_1,public"}}
    assert "options" not in url.query


async def test_a_fresh_store_waits_for_a_lock_held_at_its_first_write(tmp_path: Path) -> None:
    """SQLite: a store opened while another process holds the write lock (the service, when
    the CLI creates a token) waits for it at its first transaction instead of failing with
    "database is locked" (seen as a flaky CLI test under load)."""
    import asyncio
    import sqlite3
    import time

    url = f"sqlite:///{tmp_path / 'first.db'}"
    db = Database(url)
    await db.write(lambda conn: conn.execute(text("CREATE TABLE t (x INTEGER)")))
    await db.close()
    other = sqlite3.connect(tmp_path / "first.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    db = Database(url)
    try:
        started = time.monotonic()
        release = asyncio.get_running_loop().call_later(0.4, other.execute, "COMMIT")
        await db.write(lambda conn: conn.execute(text("INSERT INTO t VALUES (1)")))
        assert time.monotonic() - started >= 0.35  # it waited for the other writer
        release.cancel()
        assert await db.read(lambda conn: conn.execute(text("SELECT x FROM t")).scalars().all()) == [1]
    finally:
        await db.close()
        other.close()


async def test_a_write_waits_for_another_process_without_blocking_the_loop(
    tmp_path: Path, cap_message
) -> None:
    """SQLite: while another connection (the CLI, say) holds the write lock, an ingest waits
    off the event loop and succeeds once the lock is released; reads go on meanwhile."""
    import asyncio
    import sqlite3
    import time

    from tests.conftest import running_service

    url = f"sqlite:///{tmp_path / 'locked.db'}"
    async with running_service(url, tmp_path / "var") as service:
        token = await service.token("operator")
        other = sqlite3.connect(tmp_path / "locked.db", isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        released_at: list[float] = []

        async def release_later() -> None:
            # Long after the health check asked (0.1 s): on a loaded two-core machine its answer
            # once took over 0.4 s, and the lock was released first.
            await asyncio.sleep(2.0)
            released_at.append(time.monotonic())
            other.execute("COMMIT")

        async def health_during_lock() -> float:
            await asyncio.sleep(0.1)
            response = await service.client.get("/healthz")
            assert response.status_code == 200
            return time.monotonic()

        posted, healthy_at, _ = await asyncio.gather(
            service.post(cap_message("LOCK-1"), token), health_during_lock(), release_later()
        )
        other.close()
        assert posted.status_code == 201, posted.text
        assert healthy_at < released_at[0]  # the loop answered while the write waited


# --- 0005: stored models in cap.to_json form, CAP 1.0 passwords gone ----------------------------

PASSWORD = "s3cret-0005-migration"
OLD_HEAD = "0004_assistance_requests"


def _migrate_to(revision: str, *, down: bool = False):
    def run(conn) -> None:
        config = alembic_config()
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)

    return run


def _fields_json(value):
    """The model as 0001-0004 stored it: the Alert's fields by their Python names."""
    if dataclasses.is_dataclass(value):
        return {f.name: _fields_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple | cap.Polygon):  # a polygon was a tuple of (lat, lon) tuples
        return [_fields_json(v) for v in value]
    return value.isoformat() if isinstance(value, datetime) else value


async def test_migration_0005_rewrites_stored_models_as_cap_json_without_the_password(
    database_url: str,
) -> None:
    raw = CAP10.replace(
        "<msgType>Alert</msgType>", f"<msgType>Alert</msgType>\n  <password>{PASSWORD}</password>"
    ).encode()
    alert = cap.parse(raw)
    assert alert.password == PASSWORD
    old_model = _fields_json(alert)
    assert old_model["password"] == PASSWORD and "msg_type" in old_model
    # A model already in the new form that somehow kept a password member loses it too.
    new_with_password = {**cap.to_json(alert), "identifier": "second", "password": PASSWORD}
    now = datetime(2026, 3, 1, tzinfo=UTC)

    def insert(conn) -> None:
        conn.execute(Principal.__table__.insert().values(id=1, key="k", role="operator", created_at=now))
        rows = ((1, alert.identifier, old_model), (2, "second", new_with_password))
        for alert_id, identifier, model in rows:
            conn.execute(
                AlertRecord.__table__.insert().values(
                    id=alert_id, sender=alert.sender, identifier=identifier, sent_at=alert.sent,
                    status="Actual", msg_type="Alert", scope="Public", version="1.0", state="active",
                    received_at=now, poster_id=1, signature="unsigned", addresses=[], raw=raw,
                    model=model, summary={}, countries=[], regions=[], impact={}, routing=[],
                    warnings=[],
                )
            )  # fmt: skip

    def models(conn) -> list:
        table = AlertRecord.__table__
        return list(conn.execute(select(table.c.model).order_by(table.c.id)).scalars())

    db = Database(database_url)
    try:
        await db.write(_migrate_to(OLD_HEAD), long=True)
        await db.write(insert, long=True)
        await upgrade(db)
        first, second = await db.read(models)
        assert first == cap.to_json(alert)
        assert first["msgType"] == "Alert" and first["info"][0]["certainty"] == "Very Likely"
        assert second == {k: v for k, v in new_with_password.items() if k != "password"}
        assert PASSWORD not in repr([first, second])
        # Readers of the stored model read it back whole.
        assert cap.from_json(first) == dataclasses.replace(alert, password=None)

        await db.write(_migrate_to(OLD_HEAD, down=True), long=True)
        first, _ = await db.read(models)
        assert first == {**old_model, "password": None}
    finally:
        await db.close()


async def test_migration_0007_records_the_message_behind_each_stored_event(database_url: str) -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)

    def insert(conn) -> None:
        conn.execute(Principal.__table__.insert().values(id=1, key="k", role="operator", created_at=now))
        for alert_id, msg_type in ((1, "Alert"), (2, "Cancel")):
            conn.execute(
                AlertRecord.__table__.insert().values(
                    id=alert_id, sender="s", identifier=f"m{alert_id}", sent_at=now, status="Actual",
                    msg_type=msg_type, scope="Public", version="1.2", state="active", received_at=now,
                    poster_id=1, signature="unsigned", addresses=[], raw=b"<alert/>", model={},
                    summary={}, countries=[], regions=[], impact={}, routing=[], warnings=[],
                )
            )  # fmt: skip
        events = Event.__table__
        audience = {"regions": [], "countries": [], "scope": "Public", "status": "Actual", "at": now}
        conn.execute(events.insert().values(id=1, type="alert.received", alert_id=1, payload={}, **audience))
        conn.execute(
            events.insert().values(id=2, type="alert.cancelled", alert_id=1, payload={"by": 2}, **audience)
        )

    def causes(conn) -> list:
        table = Event.__table__
        return list(conn.execute(select(table.c.by_alert_id).order_by(table.c.id)).scalars())

    db = Database(database_url)
    try:
        await db.write(_migrate_to("0006_event_parties"), long=True)
        await db.write(insert, long=True)
        await upgrade(db)
        assert await db.read(causes) == [None, 2]
        digests = await db.read(lambda conn: list(conn.execute(select(AlertRecord.digest)).scalars()))
        assert digests == [None, None]  # computed from `raw` when first needed
        await db.write(_migrate_to("0006_event_parties", down=True), long=True)
    finally:
        await db.close()


# --- 0010: the contact-point registry seeded, stored routings in the new shape ------------------


async def test_migration_0010_seeds_the_registry_and_keeps_old_routings_without_waking_them(
    database_url: str,
) -> None:
    from service.db.models import AlertRecipient, ContactPointRecord

    now = datetime(2026, 3, 1, tzinfo=UTC)
    old_routing = [
        {
            "contact": {"id": "ro-addis-ababa", "kind": "regional_office", "name": "RO Africa"},
            "priority": "urgent",
            "real": True,
            "ack_within_seconds": 3600,
            "escalate_to": ["bdt"],
            "reason": "regional office for Africa",
        },
        {"contact": {"id": "bdt", "kind": "bdt", "name": "BDT"}, "priority": "urgent", "real": True,
         "ack_within_seconds": 3600, "escalate_to": [], "reason": "BDT focal point"},
    ]  # fmt: skip

    def insert(conn) -> None:
        conn.execute(Principal.__table__.insert().values(id=1, key="k", role="operator", created_at=now))
        conn.execute(
            AlertRecord.__table__.insert().values(
                id=1, sender="s", identifier="m1", sent_at=now, status="Actual", msg_type="Alert",
                scope="Public", version="1.2", state="active", received_at=now, poster_id=1,
                signature="unsigned", addresses=[], raw=b"<alert/>", model={}, summary={},
                countries=["KEN"], regions=["Africa"], impact={}, routing=old_routing, warnings=[],
            )
        )  # fmt: skip

    def read(conn) -> tuple:
        routing = conn.execute(select(AlertRecord.routing)).scalar_one()
        rows = conn.execute(select(AlertRecipient.contact_id, AlertRecipient.next_escalation_at)).all()
        contacts = conn.execute(select(ContactPointRecord.id)).scalars().all()
        return routing, sorted(rows), set(contacts)

    db = Database(database_url)
    try:
        await db.write(_migrate_to("0009_token_lifecycle"), long=True)
        await db.write(insert, long=True)
        await upgrade(db)
        routing, rows, contacts = await db.read(read)
        assert [(e["contact_point"], e["rule"], e["reasons"]) for e in routing] == [
            ("ro-addis-ababa", "before-0010", ["regional office for Africa"]),
            ("bdt", "before-0010", ["BDT focal point"]),
        ]
        assert routing[0]["ack_within_seconds"] == 3600 and routing[0]["acknowledged_at"] is None
        # Their deadlines were never kept: nothing of them is escalated now.
        assert rows == [("bdt", None), ("ro-addis-ababa", None)]
        assert {"bdt", "ro-bangkok", "ro-brasilia", "ao-bridgetown", "national-fji"} <= contacts
        assert len(contacts) == 15 + 193
        await db.write(_migrate_to("0009_token_lifecycle", down=True), long=True)
    finally:
        await db.close()
