"""A year of events (issue 16): raw events by month on PostgreSQL, and how long they are kept.

On PostgreSQL `events` is a declaratively partitioned table, RANGE on received_at (the time the
server received the event: it only ever grows, so new rows land in the newest month and a month
never changes once it has passed). One partition per UTC month, `events_yYYYYmMM`, made
MONTHS_AHEAD months ahead under an advisory lock (every server process may try; one does it), and
`events_default` for anything no month covers, so an insert never fails for want of a partition.

Retention keeps raw events for `raw_event_days` (server.config; never fewer than the longest a
kiosk may be offline, so an outbox that comes back after 90 days is still checked against the
uuids it may repeat). Feedback events are kept for ever (shared/DESIGN.md): before a month is
dropped its feedback rows are copied out, and, with the month detached, they land in the default
partition, which no later month ever covers. Dropping a month is a catalogue change, not a
DELETE of millions of rows: no bloat, nothing for VACUUM. The per-(device, uuid) table and the
default partition are pruned with DELETE (both are small).

SQLite keeps one unpartitioned table; retention there is a DELETE of the same rows.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from server import db

log = logging.getLogger("kiosk-server.partitions")
MONTHS_AHEAD = 2  # the current month and the next two exist at every maintenance round
DEFAULT_PARTITION = "events_default"
KEPT_FOREVER = "feedback"  # the event type retention never removes
PRUNED_BEFORE = "raw_events_pruned_before"  # settings key: the received_at retention last cut at
_NAME = re.compile(r"^events_y(\d{4})m(\d{2})$")
MAINTENANCE_EVERY = 3600.0  # seconds between rounds of the server's own maintenance thread


def month_start(t: float) -> datetime:
    d = datetime.fromtimestamp(t, UTC)
    return datetime(d.year, d.month, 1, tzinfo=UTC)


def next_month(d: datetime) -> datetime:
    return datetime(d.year + (d.month == 12), d.month % 12 + 1, 1, tzinfo=UTC)


def partition_name(d: datetime) -> str:
    return f"events_y{d.year:04d}m{d.month:02d}"


def is_partitioned(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    return conn.execute(sa.text("SELECT relkind FROM pg_class WHERE relname = 'events' "
                                "AND relnamespace = current_schema()::regnamespace")).scalar() == "p"


def months(conn: Connection) -> dict[str, tuple[float, float]]:
    """The monthly partitions there are: name -> (from, to) in unix seconds."""
    names = conn.execute(sa.text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events'")).scalars().all()
    found = {}
    for name in names:
        if m := _NAME.match(name):
            lo = datetime(int(m[1]), int(m[2]), 1, tzinfo=UTC)
            found[name] = (lo.timestamp(), next_month(lo).timestamp())
    return found


def _create_month(conn: Connection, lo: datetime) -> bool:
    """Make the month starting at `lo`; False when the default partition already holds rows of
    it (PostgreSQL would refuse: they stay there, and retention deletes them in time)."""
    hi = next_month(lo)
    stray = conn.execute(sa.text(f"SELECT 1 FROM {DEFAULT_PARTITION} WHERE received_at >= :lo AND "
                                 "received_at < :hi LIMIT 1"), {"lo": lo.timestamp(), "hi": hi.timestamp()}).first()
    if stray:
        log.warning("events of %s are in the default partition already; that month stays there", lo.strftime("%Y-%m"))
        return False
    conn.execute(sa.text(f"CREATE TABLE {partition_name(lo)} PARTITION OF events "
                         f"FOR VALUES FROM ({lo.timestamp():.0f}) TO ({hi.timestamp():.0f})"))
    return True


def ensure_months(conn: Connection, now: float | None = None, since: float | None = None) -> list[str]:
    """Make every missing month from `since` (default: this month) to MONTHS_AHEAD ahead, under
    the advisory lock; the names made."""
    now = time.time() if now is None else now
    db.lock(conn, "event-partitions")
    have = months(conn)
    made = []
    d = month_start(now if since is None else min(since, now))
    last = month_start(now)
    for _ in range(MONTHS_AHEAD):
        last = next_month(last)
    while d <= last:
        if partition_name(d) not in have and _create_month(conn, d):
            made.append(partition_name(d))
        d = next_month(d)
    return made


def convert(conn: Connection) -> None:
    """Migration 18 on PostgreSQL: the unpartitioned events table becomes the partitioned one with
    every row, every index and the same id sequence; its (device, uuid) uniqueness moves to
    event_ids. Columns and indexes are read from the live table, so whatever earlier migrations
    gave it comes along."""
    conn.execute(sa.text("ALTER TABLE events RENAME TO events_unpartitioned"))
    indexes = conn.execute(sa.text(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = 'events_unpartitioned'::regclass AND NOT i.indisunique")).all()
    for name, _ in indexes:
        conn.execute(sa.text(f'DROP INDEX "{name}"'))
    for name in conn.execute(sa.text("SELECT conname FROM pg_constraint WHERE conrelid = "
                                     "'events_unpartitioned'::regclass AND contype IN ('p', 'u')")).scalars():
        conn.execute(sa.text(f'ALTER TABLE events_unpartitioned DROP CONSTRAINT "{name}"'))
    conn.execute(sa.text("CREATE TABLE events (LIKE events_unpartitioned INCLUDING DEFAULTS INCLUDING STORAGE) "
                         "PARTITION BY RANGE (received_at)"))
    # A partitioned table's primary key must hold its partition key; id alone stays unique by its sequence.
    conn.execute(sa.text("ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (id, received_at)"))
    conn.execute(sa.text(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF events DEFAULT"))
    oldest = conn.execute(sa.text("SELECT min(received_at) FROM events_unpartitioned")).scalar()
    ensure_months(conn, since=oldest)
    conn.execute(sa.text("INSERT INTO events SELECT * FROM events_unpartitioned"))
    db.event_ids.create(conn, checkfirst=True)
    conn.execute(sa.text("INSERT INTO event_ids (device, uuid, received_at) "
                         "SELECT device, uuid, received_at FROM events_unpartitioned"))
    for _, definition in indexes:  # on the partitioned table: PostgreSQL makes one per partition
        conn.execute(sa.text(definition.replace(" ON public.events_unpartitioned ", " ON public.events ")
                             .replace(" ON events_unpartitioned ", " ON events ")))
    sequence = conn.execute(sa.text("SELECT pg_get_serial_sequence('events_unpartitioned', 'id')")).scalar()
    if sequence:
        conn.execute(sa.text(f"ALTER SEQUENCE {sequence} OWNED BY events.id"))
    conn.execute(sa.text("DROP TABLE events_unpartitioned"))
    conn.execute(sa.text("ANALYZE events"))


# --- retention -----------------------------------------------------------------------------------


def prune(conn: Connection, raw_event_days: float, now: float | None = None) -> dict[str, int]:
    """Remove raw events received more than `raw_event_days` ago, feedback excepted; what went."""
    now = time.time() if now is None else now
    cutoff = now - raw_event_days * 86400.0
    gone = {"months": 0, "events": 0, "ids": 0}
    ev = db.events
    if is_partitioned(conn):
        db.lock(conn, "event-partitions")
        for name, (_lo, hi) in sorted(months(conn).items()):
            if hi > cutoff:
                continue
            conn.execute(sa.text(f"ALTER TABLE events DETACH PARTITION {name}"))
            # the month is no longer part of events, so its feedback lands in the default partition
            conn.execute(sa.text(f"INSERT INTO events SELECT * FROM {name} WHERE type = :kept"), {"kept": KEPT_FOREVER})
            conn.execute(sa.text(f"DROP TABLE {name}"))
            gone["months"] += 1
        gone["events"] = conn.execute(sa.text(
            f"DELETE FROM {DEFAULT_PARTITION} WHERE received_at < :cut AND type <> :kept"),
            {"cut": cutoff, "kept": KEPT_FOREVER}).rowcount
        gone["ids"] = conn.execute(db.event_ids.delete().where(db.event_ids.c.received_at < cutoff)).rowcount
    else:
        gone["events"] = conn.execute(ev.delete().where(ev.c.received_at < cutoff, ev.c.type != KEPT_FOREVER)).rowcount
    settings = db.settings
    conn.execute(settings.delete().where(settings.c.key == PRUNED_BEFORE))
    conn.execute(settings.insert().values(key=PRUNED_BEFORE, value=repr(cutoff)))
    return gone


def pruned_before(conn: Connection) -> float | None:
    """The received_at before which raw events may be gone (None: never pruned)."""
    value = conn.execute(sa.select(db.settings.c.value).where(db.settings.c.key == PRUNED_BEFORE)).scalar()
    return float(value) if value else None


def maintain(engine: Engine, raw_event_days: float, now: float | None = None) -> dict[str, int]:
    """One round: months made ahead, then retention. Several processes may call it; on PostgreSQL
    one does the work and the others wait for its lock and then find nothing left to do."""
    with db.write(engine) as conn:
        made = ensure_months(conn, now) if is_partitioned(conn) else []
        gone = prune(conn, raw_event_days, now)
    if made or gone["months"] or gone["events"]:
        log.info("event partitions made %s; retention removed %s", made, gone)
    return {**gone, "made": len(made)}


def start_periodic(engine: Engine, raw_event_days: float, every: float = MAINTENANCE_EVERY) -> threading.Event:
    """The server's maintenance thread; set the returned event to stop it."""
    stop = threading.Event()

    def loop() -> None:
        while True:
            try:
                maintain(engine, raw_event_days)
            except Exception:  # a failed round is logged and tried again next time
                log.exception("event partition maintenance failed")
            if stop.wait(every):
                return

    threading.Thread(target=loop, name="event-partitions", daemon=True).start()
    return stop
