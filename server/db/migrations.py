"""Schema versions. Schema changes are an ordered list of migrations. `schema_version` records each
one applied; `migrate()` applies the missing ones in order inside one transaction. A later release
appends a migration (ALTER TABLE ...) and changes the table definitions in server.db.schema to match.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from server.db.engine import lock, write
from server.db.schema import (
    DASHBOARD_INDEXES,
    DEFAULT_GROUP,
    SEARCH_INDEX,
    _v1_tables,
    _v5_login_failures,
    _v11_rollout_groups,
    alerts,
    comparison_summary,
    content_versions,
    device_traffic,
    devices,
    draft_comments,
    draft_guides,
    draft_revisions,
    drafts,
    feedback_triage,
    guard_decisions,
    images,
    schema_version,
    session_guides,
    session_rollout,
    session_summary,
    settings,
    staff_sessions,
    throttle_counters,
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
    summary.rebuild(conn, comparisons=False)  # an upgraded server summarises the events it already holds


def _migration_4(conn: Connection) -> None:
    SEARCH_INDEX.create(conn, checkfirst=True)


def _migration_6(conn: Connection) -> None:
    conn.execute(sa.text("ALTER TABLE devices ADD COLUMN rejected_events BIGINT"))


def _migration_7(conn: Connection) -> None:
    """Sync results stored as plain text (the API accepted any string before it used the contract's
    Heartbeat model) become LastSync JSON, so the Fleet page reads one shape only: text starting
    with "ok" was a success, anything else was the error."""
    from contract.heartbeat import LastSync

    rows = conn.execute(sa.select(devices.c.id, devices.c.last_sync_result).where(
        devices.c.last_sync_result.is_not(None))).all()
    for device_id, text in rows:
        if text.lstrip().startswith("{"):
            continue  # a kiosk's JSON object: already the LastSync shape
        last = LastSync(result="ok") if text.strip().lower().startswith("ok") else \
            LastSync(result="error", error=text.strip()[:1000] or None)
        conn.execute(devices.update().where(devices.c.id == device_id).values(last_sync_result=last.stored()))


def _migration_5(conn: Connection) -> None:
    _v5_login_failures(sa.MetaData()).create(conn, checkfirst=True)


def _migration_8(conn: Connection) -> None:
    """Events unique per (device, uuid). PostgreSQL swaps the constraint; SQLite cannot drop one,
    so the table is rebuilt in its version-8 shape (the version-1 columns, which no later
    migration has changed yet) with its rows and indexes."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("ALTER TABLE events DROP CONSTRAINT uq_events_uuid"))
        conn.execute(sa.text("ALTER TABLE events ADD CONSTRAINT uq_events_device_uuid UNIQUE (device, uuid)"))
        return
    shape = sa.MetaData()
    _v1_tables(shape)
    old = shape.tables["events"]
    columns = [sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable) for c in old.columns]
    new = sa.Table("events_v8", sa.MetaData(), *columns,
                   sa.UniqueConstraint("device", "uuid", name="uq_events_device_uuid"))
    new.create(conn)
    names = ", ".join(f'"{c.name}"' for c in old.columns)
    conn.execute(sa.text(f"INSERT INTO events_v8 ({names}) SELECT {names} FROM events"))
    conn.execute(sa.text("DROP TABLE events"))  # and its indexes
    conn.execute(sa.text("ALTER TABLE events_v8 RENAME TO events"))
    for index in (*old.indexes, *DASHBOARD_INDEXES, SEARCH_INDEX):  # those of versions 1, 2 and 4
        index.create(conn)


def _migration_9(conn: Connection) -> None:
    """Shared throttle counters and server-side staff sessions. Independent of every other
    migration's tables, so it applies after any version 8. Cookies signed before it stop working
    (staff log in once more); the failed-login rows it replaces only ever mattered for 15 minutes."""
    throttle_counters.create(conn, checkfirst=True)
    staff_sessions.create(conn, checkfirst=True)
    if sa.inspect(conn).has_table("login_failures"):
        conn.execute(sa.text("DROP TABLE login_failures"))


def _migration_10(conn: Connection) -> None:
    double, boolean = (t.compile(dialect=conn.dialect) for t in (sa.Double(), sa.Boolean()))
    conn.execute(sa.text(f"ALTER TABLE events ADD COLUMN kiosk_time_raw {double}"))
    conn.execute(sa.text(f"ALTER TABLE devices ADD COLUMN default_pin {boolean}"))


def _migration_11(conn: Connection) -> None:
    """Rollout groups: the `default` group holds every device there is and points at the latest
    content version, so every kiosk keeps receiving what it received before."""
    integer, text = (t.compile(dialect=conn.dialect) for t in (sa.Integer(), sa.String(80)))
    rollout_groups = _v11_rollout_groups(sa.MetaData())
    rollout_groups.create(conn, checkfirst=True)
    conn.execute(sa.text(f"ALTER TABLE devices ADD COLUMN rollout_group {text} NOT NULL DEFAULT '{DEFAULT_GROUP}'"))
    conn.execute(sa.text(f"ALTER TABLE devices ADD COLUMN epoch {integer} NOT NULL DEFAULT 0"))
    conn.execute(sa.text(f"ALTER TABLE content_versions ADD COLUMN base_version {integer}"))
    conn.execute(sa.text(f"ALTER TABLE content_versions ADD COLUMN staged_to {text}"))
    latest = conn.execute(sa.text("SELECT MAX(version) FROM content_versions")).scalar()
    conn.execute(rollout_groups.insert().values(name=DEFAULT_GROUP, content_version=latest, created_at=time.time()))


def _migration_12(conn: Connection) -> None:
    """content_versions.library_settings: the `_library.yaml` settings a version was published with
    (canonical JSON; null when the library had none, as every version before this one)."""
    text = sa.Text().compile(dialect=conn.dialect)
    conn.execute(sa.text(f"ALTER TABLE content_versions ADD COLUMN library_settings {text}"))


def _migration_13(conn: Connection) -> None:
    """Staff roles (everyone there is becomes a publisher: they could publish before) and the
    studio's drafts, their guides, revisions and review comments."""
    text = sa.String(16).compile(dialect=conn.dialect)
    conn.execute(sa.text(f"ALTER TABLE staff ADD COLUMN role {text} NOT NULL DEFAULT 'publisher'"))
    for table in (drafts, draft_guides, draft_revisions, draft_comments):
        table.create(conn, checkfirst=True)


def _migration_14(conn: Connection) -> None:
    """Summaries for comparisons and the rollout guard's settings and decisions; the summaries are
    built from the events the server already holds (each session in its kiosk's current group:
    where a kiosk stood before is not recorded anywhere)."""
    from server import summary

    integer, double, small = (t.compile(dialect=conn.dialect) for t in (sa.Integer(), sa.Double(), sa.SmallInteger()))
    for name, kind in (("guard", small), ("guard_confidence", double), ("guard_min_sessions", integer),
                       ("guard_min_days", double)):
        conn.execute(sa.text(f"ALTER TABLE rollout_groups ADD COLUMN {name} {kind}"))
    for table in (comparison_summary, session_rollout, guard_decisions):
        table.create(conn)
    summary.rebuild_comparisons(conn)


def _migration_15(conn: Connection) -> None:
    """Alerts, the triage of comments, and each group's opening hours (issue 15). New tables and a
    nullable column: nothing existing changes. Migration 11 creates rollout_groups from today's
    definition, so a database made in one go from nothing already has the column."""
    alerts.create(conn, checkfirst=True)
    feedback_triage.create(conn, checkfirst=True)
    if "opening_hours" not in {c["name"] for c in sa.inspect(conn).get_columns("rollout_groups")}:
        text = sa.Text().compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE rollout_groups ADD COLUMN opening_hours {text}"))


def _migration_16(conn: Connection) -> None:
    """comparison_summary's days are site-local days from now on (server/summary.py): record the zone
    the rows already hold, UTC, so the server moves them to the site's zone as it starts."""
    from server import summary

    conn.execute(settings.delete().where(settings.c.key == summary.ZONE_KEY))
    conn.execute(settings.insert().values(key=summary.ZONE_KEY, value="UTC"))


def _migration_17(conn: Connection) -> None:
    """A studio draft can be approved for a time (scheduled publishing) and can change the
    library's settings (its synonyms): three nullable columns.
    Migration 13 creates drafts from today's definition, so a database made in one go from nothing
    already has them."""
    have = {c["name"] for c in sa.inspect(conn).get_columns("drafts")}
    for name, kind in (("publish_at", sa.Double()), ("publish_note", sa.Text()), ("library_settings", sa.Text())):
        if name not in have:
            conn.execute(sa.text(f"ALTER TABLE drafts ADD COLUMN {name} {kind.compile(dialect=conn.dialect)}"))


def _migration_18(conn: Connection) -> None:
    """A year of events (issue 16). PostgreSQL: events partitioned by month of received_at, every
    row and index carried over, (device, uuid) uniqueness in event_ids (server/partitions.py).
    SQLite keeps its table as it is. Both: bytes per device per day for the Fleet page."""
    from server import partitions

    if conn.dialect.name == "postgresql":
        partitions.convert(conn)
    device_traffic.create(conn, checkfirst=True)


def _migration_19(conn: Connection) -> None:
    """images.published_at: set for every image a content version's manifest lists (all were
    published); images only in studio drafts stay NULL, so the public phone route no longer
    serves them."""
    double = sa.Double().compile(dialect=conn.dialect)
    conn.execute(sa.text(f"ALTER TABLE images ADD COLUMN published_at {double}"))
    first: dict[str, float] = {}
    for row in conn.execute(sa.select(content_versions.c.manifest_json, content_versions.c.published_at)
                            .order_by(content_versions.c.version)):
        for digest in json.loads(row.manifest_json).get("images") or {}:
            first.setdefault(digest, row.published_at)
    by_time: dict[float, list[str]] = {}
    for digest, at in first.items():
        by_time.setdefault(at, []).append(digest)
    for at, digests in by_time.items():
        for start in range(0, len(digests), 500):  # bounded IN lists
            conn.execute(images.update().where(images.c.sha256.in_(digests[start:start + 500]))
                         .values(published_at=at))


# (version, description, function). Append only; never edit an applied migration.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "initial schema: content, devices, staff, events", _migration_1),
    (2, "dashboard indexes on events", _migration_2),
    (3, "per-session summaries for the dashboard", _migration_3),
    (4, "partial index on search events", _migration_4),
    (5, "failed staff logins, for throttling", _migration_5),
    (6, "devices.rejected_events from heartbeats", _migration_6),
    (7, "plain-text sync results as LastSync JSON", _migration_7),
    (8, "events unique per (device, uuid)", _migration_8),
    (9, "shared throttle counters and server-side staff sessions", _migration_9),
    (10, "events.kiosk_time_raw (a kiosk clock's steps) and devices.default_pin", _migration_10),
    (11, "rollout groups: devices.rollout_group and epoch, content_versions.base_version and staged_to",
     _migration_11),
    (12, "content_versions.library_settings: _library.yaml published with each version", _migration_12),
    (13, "staff roles; studio drafts, their guides, revisions and comments", _migration_13),
    (14, "summaries per (day, guide, version, group, step); rollout guard settings and decisions", _migration_14),
    (15, "alerts, feedback_triage and rollout_groups.opening_hours", _migration_15),
    (16, "the time zone of comparison_summary's days (UTC until the server follows time_zone)", _migration_16),
    (17, "drafts.publish_at, publish_note and library_settings: scheduled publishing and synonyms in the studio",
     _migration_17),
    (18, "events partitioned by month on PostgreSQL, with event_ids; device_traffic", _migration_18),
    (19, "images.published_at: the phone pages serve only published images", _migration_19),
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
