"""The store: transactions run as plain functions of a SQLAlchemy `Connection`, one writer at a time.

Every piece of storage logic in the service is a synchronous function `fn(conn) -> value` over
SQLAlchemy Core; `Database.write(fn)` and `Database.read(fn)` run it in a transaction and await
the result:

- SQLite (embedded default): one write connection (WAL, BEGIN IMMEDIATE), used by one write at
  a time. A short write runs right on the event loop: handing it to a thread costs more CPU
  (thread switches, the GIL bouncing between threads after every SQLite call) than the
  transaction itself, about 0.3 of 0.85 ms per ingest. A long write (a large message, an expiry
  sweep), or one that finds the database locked by another process such as the CLI, runs in
  the writer thread, so the loop never waits on a lock. Readers use a few threads of their own.
- PostgreSQL: an async engine (asyncpg) with `AsyncConnection.run_sync`, and a
  transaction-scoped advisory lock so that writers from every instance commit one at a time.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from service.errors import StorageFull, storage_fault

T = TypeVar("T")

# pg_advisory_xact_lock key taken by every write transaction on PostgreSQL: writers from every
# instance commit one at a time, so event ids become visible in id order (a subscriber resuming
# "since N" can never miss a smaller id committed late) and the audit chain has one tail.
WRITE_LOCK_KEY = 0x7A4E9E2E
SQLITE_READERS = 4
BUSY_TIMEOUT_MS = 10_000


class Database:
    """Run transactions on SQLite (one writer, reader threads) or PostgreSQL (asyncpg)."""

    def __init__(self, url: str, *, sqlite_synchronous: str = "NORMAL") -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        # One write at a time, in the order asked (SQLite's one connection; on PostgreSQL it
        # spares pool connections that would only queue on the advisory lock).
        self._turn = asyncio.Lock()
        self._waiting = 0
        self._commit_listeners: list[Callable[[], None]] = []
        # When a write last failed because the store was full (monotonic), None after a write
        # succeeds: /healthz says so (a full PostgreSQL disk shows nowhere else).
        self.full_at: float | None = None
        if self.is_sqlite:
            sync_url = self.url.set(drivername="sqlite+pysqlite")
            self.sync_writer = _sqlite_engine(sync_url, synchronous=sqlite_synchronous, writer=True)
            self.sync_reader = _sqlite_engine(sync_url, synchronous=sqlite_synchronous, writer=False)
            self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="tampere-writer")
            self._writer_conn: Connection | None = None
            self._reader_threads = ThreadPoolExecutor(SQLITE_READERS, thread_name_prefix="tampere-reader")
        else:
            engine_url, connect_args = postgres_connect_args(self.url)
            self.async_engine: AsyncEngine = create_async_engine(
                engine_url, connect_args=connect_args, pool_size=10, pool_pre_ping=True
            )

    @property
    def waiting_writers(self) -> int:
        """Write transactions waiting for their turn (the backlog metric)."""
        return self._waiting

    def on_commit(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` on the event loop after every write transaction commits (the event
        stream wakes on it); returns the function that removes it."""
        self._commit_listeners.append(callback)
        return lambda: self._commit_listeners.remove(callback)

    async def write(self, fn: Callable[[Connection], T], *, long: bool = False) -> T:
        """Run `fn(conn)` in a write transaction, serialised with every other writer; commit
        when it returns, roll back when it raises. `long`: run it off the event loop."""
        try:
            result = await self._write(fn, long=long)
        except Exception as exc:
            if isinstance(storage_fault(exc), StorageFull):
                self.full_at = time.monotonic()
            raise
        self.full_at = None
        for callback in self._commit_listeners:
            callback()
        return result

    async def _write(self, fn: Callable[[Connection], T], *, long: bool) -> T:
        self._waiting += 1
        try:
            await self._turn.acquire()
        finally:
            self._waiting -= 1
        try:
            if not self.is_sqlite:
                async with self.async_engine.begin() as conn:
                    await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY})
                    return await conn.run_sync(fn)
            if not long:
                try:
                    return self._sqlite_write(fn, wait=False)
                except _Locked:
                    pass  # another process holds the write lock: wait for it off the loop
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._writer_thread, self._sqlite_write, fn, True)
        finally:
            self._turn.release()

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run `fn(conn)` in a read transaction (on SQLite, WAL lets it run beside writes)."""
        if self.is_sqlite:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._reader_threads, self._sqlite_read, fn)
        async with self.async_engine.connect() as conn:
            return await conn.run_sync(fn)

    async def checkpoint(self) -> None:
        """Copy committed WAL pages into the SQLite database file (PASSIVE: never blocks a
        writer); a no-op on PostgreSQL."""
        if self.is_sqlite:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._reader_threads, self._sqlite_checkpoint, "PASSIVE")

    async def close(self) -> None:
        """Finish running transactions and close every connection."""
        if self.is_sqlite:
            async with self._turn:
                await asyncio.to_thread(self._close_sqlite)
        else:
            await self.async_engine.dispose()

    # --- SQLite ---------------------------------------------------------------------------------

    def _sqlite_write(self, fn: Callable[[Connection], T], wait: bool) -> T:
        # The one write connection stays open for the Database's life: checking it out of a
        # pool and resetting it on return costs more than a small transaction.
        if self._writer_conn is None:
            self._writer_conn = self.sync_writer.connect()
        conn = self._writer_conn
        raw = conn.connection.driver_connection
        # The write connection does not wait for locks (busy_timeout 0) unless told to:
        # on the event loop a locked database means "go to the writer thread".
        if wait:
            raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        try:
            with conn.begin():
                return fn(conn)
        except (OperationalError, sqlite3.OperationalError) as exc:
            # BEGIN IMMEDIATE runs in our "begin" hook, so a lock held by another process at
            # the start of a transaction surfaces as the driver's own error, unwrapped.
            cause = exc.orig if isinstance(exc, OperationalError) else exc
            if not wait and "locked" in str(cause):
                raise _Locked from exc
            raise
        finally:
            if wait:
                raw.execute("PRAGMA busy_timeout=0")

    def _sqlite_read(self, fn: Callable[[Connection], T]) -> T:
        with self.sync_reader.connect() as conn, conn.begin():
            return fn(conn)

    def _sqlite_checkpoint(self, mode: str) -> None:
        raw = self.sync_reader.raw_connection()
        try:
            raw.cursor().execute(f"PRAGMA wal_checkpoint({mode})")
        finally:
            raw.close()

    def _close_sqlite(self) -> None:
        self._writer_thread.shutdown(wait=True)
        self._reader_threads.shutdown(wait=True)
        if self._writer_conn is not None:
            self._writer_conn.close()
        self._sqlite_checkpoint("TRUNCATE")
        self.sync_writer.dispose()
        self.sync_reader.dispose()


class _Locked(Exception):
    """The SQLite database was locked by another process when a write began."""


def _sqlite_engine(url: URL, *, synchronous: str, writer: bool) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        # One writer connection: SQLite has one writer at a time anyway, and a single
        # connection in a single thread makes the order of commits the order of submission.
        pool_size=1 if writer else SQLITE_READERS,
        max_overflow=0,
        connect_args={"check_same_thread": False},
        json_serializer=json_text,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN is ours (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        # Readers wait for locks (a checkpoint, a migration); the writer waits only when
        # `Database._sqlite_write` says so.
        cursor.execute(f"PRAGMA busy_timeout={0 if writer else BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        if writer:
            # Checkpoints (which fsync the database file) run from `Database.checkpoint` on a
            # reader connection, not inside a commit on the writer's critical path.
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # The writer takes the write lock at BEGIN (no deadlock-prone lock upgrade mid
        # transaction); readers take a snapshot at their first read. Straight to the driver:
        # this runs once per transaction and needs no result.
        connection.connection.driver_connection.execute(begin)

    return engine


def json_text(value: Any) -> str:
    """A JSON column's text: orjson, several times faster than json.dumps on the model, impact
    and routing stored with every alert; json.dumps for what orjson refuses."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()
    except orjson.JSONEncodeError:
        # Integers past 64 bits (a CAP <size> may have 30 digits) and other rarities.
        return json.dumps(value)


def postgres_connect_args(url: URL) -> tuple[URL, dict[str, Any]]:
    """Turn a libpq-style `options=-c key=value` query parameter into asyncpg server settings."""
    query = dict(url.query)
    options = query.pop("options", None)
    connect_args: dict[str, Any] = {}
    if options:
        settings: dict[str, str] = {}
        words = shlex.split(options if isinstance(options, str) else " ".join(options))
        for i, word in enumerate(words):
            pair = word[2:] if word.startswith("-c") and len(word) > 2 else None
            if word == "-c" and i + 1 < len(words):
                pair = words[i + 1]
            if pair and "=" in pair:
                key, value = pair.split("=", 1)
                settings[key] = value
        connect_args["server_settings"] = settings
    return url.set(query=query), connect_args
