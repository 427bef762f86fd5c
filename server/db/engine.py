"""Engines and transactions: the set-up that lets several server processes share one database
safely (SQLite in WAL mode with one writer at a time, or PostgreSQL), and the helpers every module
writes and reads through."""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from server.db.schema import settings

DEFAULT_DATA_DIR = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "guide-kiosk-server"


def normalize_url(url: str) -> str:
    """postgresql://... means psycopg 3 here; a bare path means a SQLite file."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if "://" not in url:
        return f"sqlite:///{Path(url).resolve()}"
    return url


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'server.db').resolve()}"


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, pool_size: int = 10) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 60, "check_same_thread": False},
                                  pool_size=pool_size, max_overflow=20)

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            # Let SQLAlchemy decide when transactions begin (pysqlite's own handling defers BEGIN
            # and breaks BEGIN IMMEDIATE); WAL lets readers run beside the one writer.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn):
            # A write transaction takes the write lock up front: a deferred one that reads first
            # and writes later can fail with "database is locked" instead of waiting its turn.
            if conn.get_execution_options().get("write"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("BEGIN")

        return engine
    return sa.create_engine(url, pool_size=pool_size, max_overflow=40, pool_pre_ping=True,
                            pool_recycle=1800)


_sqlite_writers: dict[str, threading.Lock] = {}


@contextmanager
def write(engine: Engine) -> Iterator[Connection]:
    """One write transaction (BEGIN IMMEDIATE on SQLite).

    On SQLite the threads of one process also queue on a lock first: SQLite's own busy handler
    waits by sleeping in growing steps (up to 100 ms), which collapses throughput when dozens of
    request threads want the one write lock; a Python lock hands it over at once."""
    if is_sqlite(engine):
        writer = _sqlite_writers.setdefault(str(engine.url), threading.Lock())
        with writer, engine.connect().execution_options(write=True) as conn, conn.begin():
            yield conn
        return
    with engine.connect().execution_options(write=True) as conn, conn.begin():
        yield conn


@contextmanager
def read(engine: Engine) -> Iterator[Connection]:
    """A connection for reading. On PostgreSQL in autocommit: the reads here are single statements
    or read rows that never change once written, and skipping BEGIN/ROLLBACK saves two round
    trips on every request (each one authenticates the device with a read)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield conn
        return
    with engine.connect() as conn, conn.begin():
        yield conn


def lock(conn: Connection, name: str) -> None:
    """Serialize a critical section across server processes (publish, migrate). SQLite's
    BEGIN IMMEDIATE already does; PostgreSQL needs an advisory lock held to the end of the transaction."""
    if conn.dialect.name == "postgresql":
        key = int.from_bytes(name.encode()[:8].ljust(8, b"\0"), "big") & 0x7FFFFFFFFFFFFFFF
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def insert_ignore(conn: Connection, table: sa.Table, conflict_cols: list[str]):
    """INSERT ... ON CONFLICT DO NOTHING in the connection's dialect."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing(index_elements=conflict_cols)


def shared_secret(engine: Engine, key: str) -> bytes:
    """A random secret made once and kept in the database, so every server process agrees on it."""
    with write(engine) as conn:
        conn.execute(insert_ignore(conn, settings, ["key"]).values(key=key, value=secrets.token_hex(32)))
        return bytes.fromhex(conn.execute(sa.select(settings.c.value).where(settings.c.key == key)).scalar_one())


def is_disk_full(exc: BaseException) -> bool:
    """Did the database refuse a write because its disk is full? SQLite says SQLITE_FULL (its
    file may not grow); PostgreSQL says disk_full (SQLSTATE 53100). SQLAlchemy wraps either."""
    orig = getattr(exc, "orig", None) or exc
    if isinstance(orig, sqlite3.Error):
        return getattr(orig, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return getattr(orig, "sqlstate", None) == "53100"
