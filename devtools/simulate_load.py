"""Write a simulated history into a server database, fast, through the server's own code:
devices through auth.add_device, content through publish.publish_library, and events through
ingest.check_event (the row the ingest endpoint stores) in bulk multi-row INSERTs."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from contract.heartbeat import LastSync
from devtools.simulate import APP_VERSIONS, PUBLISHERS, History, batches, corrected_time
from server import auth, db, publish, summary

BATCH = 5000


def load(url_or_engine: str | Engine, history: History, *, seed: int = 11, pilot: set[str] = frozenset()) -> Engine:
    """`pilot`: kiosks put in a rollout group "pilot" (before their events are summarised)."""
    engine = db.make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    db.migrate(engine)
    rng = random.Random(seed)
    edit_times = [history.start.timestamp() - 3600, *history.edit_times()]
    for n, (library, at) in enumerate(zip(history.library_revisions(), edit_times, strict=True)):
        result = publish.publish_library(engine, library, by=PUBLISHERS[n % len(PUBLISHERS)],
                                         note="simulated history")
        with db.write(engine) as conn:  # back-date the publication to when the edit happened
            conn.execute(db.content_versions.update().where(
                db.content_versions.c.version == result.content_version).values(published_at=at))
    latest = len(edit_times)
    now = time.time()
    if pilot:
        from server import groups

        groups.add_group(engine, "pilot")
    for n, kiosk in enumerate(history.kiosks):
        auth.add_device(engine, kiosk.id, kiosk.location, "pilot" if kiosk.id in pilot else db.DEFAULT_GROUP)
        # A fleet with a few problems to see:
        # some kiosks silent for hours, some failing to sync, some behind on content or with a deep
        # outbox, one now and then whose events the server refused (a token of another device).
        silent = rng.random() < 0.1
        failing = rng.random() < 0.08
        beat = now - (rng.uniform(3, 30) * 3600 if silent else rng.uniform(5, 240))
        synced_at = datetime.fromtimestamp(beat, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with db.write(engine) as conn:
            conn.execute(db.devices.update().where(db.devices.c.name == kiosk.id).values(
                last_seen=beat,
                last_heartbeat=beat,
                content_version=str(latest if rng.random() < 0.85 else latest - 1),
                outbox_depth=rng.randint(200, 5000) if failing else rng.randint(0, 3),
                last_sync_result=LastSync(result="error", at=synced_at, error="connection timed out").stored()
                if failing else LastSync(result="ok", at=synced_at).stored(),
                rejected_events=rng.randint(40, 2000) if n % 25 == 7 else 0,
                app_version=rng.choice(APP_VERSIONS),
                free_disk=rng.randint(300, 900) * 1024 * 1024 if rng.random() < 0.06 else rng.randint(4, 28) * 1024**3,
                uptime=rng.uniform(3600, 30 * 86400)))
    insert_events(engine, history.events)
    return engine


def insert_events(engine: Engine, events: list[dict]) -> None:
    """Bulk insert, each row exactly as ingest would store it (check_event is the ingest mapping),
    then the per-session summaries in one pass (ingest refreshes them batch by batch)."""
    with db.write(engine) as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA cache_size=-200000")  # 200 MB: the indexes stay in memory
        for chunk in batches(events, BATCH):
            conn.execute(db.events.insert(), [db_row(e) for e in chunk])
        summary.rebuild(conn)
    # Fresh planner statistics after a bulk load; on PostgreSQL VACUUM also marks the pages
    # all-visible, which index-only scans need.
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()


def db_row(event: dict) -> dict:
    from server.ingest import check_event

    # Received a little after it happened: kiosks sync every few minutes.
    return check_event(event, event["device"], corrected_time(event) + 120)


def describe(engine: Engine) -> str:
    with engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(db.events)).scalar_one()
    return f"{n:,} events at {datetime.now(UTC):%Y-%m-%d %H:%M}Z"
