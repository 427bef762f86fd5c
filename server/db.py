"""The server's database: one schema for SQLite (default) and PostgreSQL, its versioning, and the
engine set-up that lets several server processes share one database safely.

Times are unix seconds (double precision) everywhere: portable across both databases, sortable,
and what the kiosk sends; a dashboard on PostgreSQL turns them into timestamps with to_timestamp().

Schema changes are an ordered list of migrations. `schema_version` records each one applied;
`migrate()` applies the missing ones in order inside one transaction. A later release appends a
migration (ALTER TABLE ...) and changes the table definitions below to match; migration 1 must
keep creating the version-1 shape, so it builds its tables from `_v1_tables`, not from `metadata`.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

DEFAULT_DATA_DIR = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "guide-kiosk-server"


def _v1_tables(md: sa.MetaData) -> None:
    sa.Table(
        "schema_version", md,
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("applied_at", sa.Double, nullable=False),
    )
    # Secrets every server process must share (mobile link HMAC, staff cookie key): kept here,
    # never only in one process's memory.
    sa.Table(
        "settings", md,
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    sa.Table(
        "content_versions", md,
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("published_at", sa.Double, nullable=False),
        sa.Column("published_by", sa.String(120), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("rollback_of", sa.Integer, nullable=True),  # content version whose content this re-publishes
        sa.Column("manifest_json", sa.Text, nullable=False),  # canonical(manifest); signed when served
    )
    sa.Table(
        "guide_versions", md,
        sa.Column("guide_id", sa.String(80), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),  # exact bytes of Guide.canonical_json()
        sa.Column("created_at", sa.Double, nullable=False),
    )
    sa.Table(
        "content_guides", md,
        sa.Column("content_version", sa.Integer, sa.ForeignKey("content_versions.version"), primary_key=True),
        sa.Column("guide_id", sa.String(80), primary_key=True),
        sa.Column("guide_version", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(["guide_id", "guide_version"], ["guide_versions.guide_id", "guide_versions.version"]),
    )
    sa.Table(
        "images", md,
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),  # png | jpeg
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
    )
    sa.Table(
        "devices", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False, unique=True),
        sa.Column("location", sa.Text, nullable=True),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("handoff_key", sa.String(64), nullable=False),  # hex of contract.handoff.handoff_key(token)
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("revoked_at", sa.Double, nullable=True),
        # fleet state, from heartbeats
        sa.Column("last_seen", sa.Double, nullable=True),
        sa.Column("last_heartbeat", sa.Double, nullable=True),
        sa.Column("content_version", sa.String(64), nullable=True),
        sa.Column("outbox_depth", sa.BigInteger, nullable=True),
        sa.Column("last_sync_result", sa.Text, nullable=True),
        sa.Column("app_version", sa.String(64), nullable=True),
        sa.Column("free_disk", sa.BigInteger, nullable=True),
        sa.Column("uptime", sa.Double, nullable=True),
    )
    sa.Table(
        "staff", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(80), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
    )
    sa.Table(
        "events", md,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("uuid", sa.String(32), nullable=False),
        sa.Column("device", sa.String(80), nullable=False),
        sa.Column("session", sa.String(80), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("guide", sa.String(80), nullable=True),
        sa.Column("guide_version", sa.Integer, nullable=True),
        sa.Column("step", sa.String(80), nullable=True),
        sa.Column("lang", sa.String(16), nullable=True),
        sa.Column("kiosk_time", sa.Double, nullable=False),
        sa.Column("mono", sa.Double, nullable=True),
        sa.Column("server_time", sa.Double, nullable=False),  # kiosk_time corrected by the kiosk's clock offset
        sa.Column("received_at", sa.Double, nullable=False),
        sa.Column("data", sa.Text, nullable=False),  # JSON object, ASCII-escaped
        # derived from data, so the dashboard filters and groups without parsing JSON
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("rating", sa.SmallInteger, nullable=True),
        sa.Column("helped", sa.Boolean, nullable=True),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("query", sa.Text, nullable=True),
        sa.Column("hits", sa.Integer, nullable=True),
        sa.UniqueConstraint("uuid", name="uq_events_uuid"),
        sa.Index("ix_events_guide_type", "guide", "type"),
        sa.Index("ix_events_device_time", "device", "server_time"),
        sa.Index("ix_events_session", "session"),
        sa.Index("ix_events_server_time", "server_time"),
    )


metadata = sa.MetaData()
_v1_tables(metadata)
schema_version = metadata.tables["schema_version"]
settings = metadata.tables["settings"]
content_versions = metadata.tables["content_versions"]
guide_versions = metadata.tables["guide_versions"]
content_guides = metadata.tables["content_guides"]
images = metadata.tables["images"]
devices = metadata.tables["devices"]
staff = metadata.tables["staff"]
events = metadata.tables["events"]


# Version 2: the dashboard's aggregations (server/stats.py) select events by type and time, by
# guide and version, and look up other events of the same session. The type+time index also holds
# every column those aggregations read, so they scan the index alone and never the table.
DASHBOARD_INDEXES = [
    sa.Index("ix_events_type_time", events.c.type, events.c.server_time, events.c.session, events.c.guide,
             events.c.guide_version, events.c.lang, events.c.device, events.c.step, events.c.outcome,
             events.c.rating),
    sa.Index("ix_events_guide_version_type", events.c.guide, events.c.guide_version, events.c.type),
    sa.Index("ix_events_session_type", events.c.session, events.c.type),
]


# Version 3: per-session summaries the dashboard's overview and guide tables read instead of
# counting distinct sessions over raw events (server/summary.py keeps them; ingest refreshes the
# sessions each batch touches, so they always agree with `events`).
session_summary = sa.Table(
    "session_summary", metadata,
    sa.Column("device", sa.String(80), primary_key=True),
    sa.Column("session", sa.String(80), primary_key=True),
    sa.Column("started_at", sa.Double, nullable=False),  # server time of session_start (else first event)
    sa.Column("lang", sa.String(16), nullable=True),  # language at session_start (else first event's)
    sa.Column("has_start", sa.SmallInteger, nullable=False),  # 1 when its session_start arrived
    sa.Column("guides", sa.Integer, nullable=False),  # distinct guides with a step view
    sa.Column("resolved", sa.SmallInteger, nullable=False),
    sa.Column("escalated", sa.SmallInteger, nullable=False),
    sa.Column("walked_away", sa.SmallInteger, nullable=False),  # idle timeout on a step, no outcome
    sa.Column("abandoned_home", sa.SmallInteger, nullable=False),  # idle timeout on the home screen
    sa.Column("rating_sum", sa.Integer, nullable=False),
    sa.Column("ratings", sa.Integer, nullable=False),
    sa.Column("handoffs", sa.Integer, nullable=False),  # handoff_shown events
    sa.Column("handoff_opened", sa.SmallInteger, nullable=False),
    # holds every column the overview reads, so it is answered from the index alone
    sa.Index("ix_session_summary_started", "started_at", "device", "lang", "has_start", "guides", "resolved",
             "escalated", "walked_away", "abandoned_home", "rating_sum", "ratings", "handoffs", "handoff_opened"),
)
session_guides = sa.Table(
    "session_guides", metadata,
    sa.Column("device", sa.String(80), primary_key=True),
    sa.Column("session", sa.String(80), primary_key=True),
    sa.Column("guide", sa.String(80), primary_key=True),
    sa.Column("guide_version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("started_at", sa.Double, nullable=False),  # the session's, for the same period filter
    sa.Column("lang", sa.String(16), nullable=True),  # the session's
    sa.Column("resolved", sa.SmallInteger, nullable=False),
    sa.Column("escalated", sa.SmallInteger, nullable=False),
    sa.Column("rating_sum", sa.Integer, nullable=False),
    sa.Column("ratings", sa.Integer, nullable=False),
    # covering indexes again: the guides table by period, one guide's versions by guide and period
    sa.Index("ix_session_guides_started", "started_at", "guide", "guide_version", "device", "lang", "resolved",
             "escalated", "rating_sum", "ratings"),
    sa.Index("ix_session_guides_guide_started", "guide", "started_at", "guide_version", "device", "lang",
             "resolved", "escalated", "rating_sum", "ratings"),
)


# Version 4: the dashboard's search page reads only search events, scattered through the table; a
# partial index holding their time, hit count and query answers it from the index alone.
SEARCH_INDEX = sa.Index("ix_events_search", events.c.type, events.c.server_time, events.c.hits, events.c.query,
                        sqlite_where=events.c.type == sa.literal_column("'search'"),
                        postgresql_where=events.c.type == sa.literal_column("'search'"))


# Version 5: failed staff logins, so guessing a password is throttled across every server process.
login_failures = sa.Table(
    "login_failures", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(80), nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Index("ix_login_failures_user_at", "username", "at"),
)


def _migration_1(conn: Connection) -> None:
    md = sa.MetaData()
    _v1_tables(md)
    md.create_all(conn)


def _migration_2(conn: Connection) -> None:
    for index in DASHBOARD_INDEXES:
        index.create(conn, checkfirst=True)


def _migration_3(conn: Connection) -> None:
    from server import summary

    session_summary.create(conn)
    session_guides.create(conn)
    summary.rebuild(conn)  # an upgraded server summarises the events it already holds


def _migration_4(conn: Connection) -> None:
    SEARCH_INDEX.create(conn, checkfirst=True)


# (version, description, function). Append only; never edit an applied migration.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "initial schema: content, devices, staff, events", _migration_1),
    (2, "dashboard indexes on events", _migration_2),
    (3, "per-session summaries for the dashboard", _migration_3),
    (4, "partial index on search events", _migration_4),
    (5, "failed staff logins, for throttling", lambda conn: login_failures.create(conn, checkfirst=True)),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


# --- engine ------------------------------------------------------------------------------------


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


def current_version(conn: Connection) -> int:
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    return conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0


def migrate(engine: Engine) -> int:
    """Bring the schema up to SCHEMA_VERSION; safe when several processes start at once."""
    with write(engine) as conn:
        lock(conn, "migrate")
        have = current_version(conn)
        if have > SCHEMA_VERSION:
            raise RuntimeError(f"the database has schema version {have}, newer than this server "
                               f"({SCHEMA_VERSION}); upgrade the server")
        for version, description, apply in MIGRATIONS:
            if version > have:
                apply(conn)
                conn.execute(schema_version.insert().values(version=version, description=description,
                                                            applied_at=time.time()))
        return SCHEMA_VERSION


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
