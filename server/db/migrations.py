"""Schema versions. Schema changes are an ordered list of migrations. `schema_version` records each
one applied; `migrate()` applies the missing ones in order inside one transaction. A later release
appends a migration (ALTER TABLE ...) and changes the table definitions in server.db.schema to match.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from server.db.engine import lock, write
from server.db.schema import (
    DASHBOARD_INDEXES,
    SEARCH_INDEX,
    _v1_tables,
    login_failures,
    schema_version,
    session_guides,
    session_summary,
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
