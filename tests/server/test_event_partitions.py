"""A year of events (issue 16): on PostgreSQL, migration 18 turns an existing events table into one
partitioned by month of received_at with every row, id and index kept and (device, uuid)
uniqueness moved to event_ids; months are made ahead; retention drops whole months past
raw_event_days and keeps feedback and summaries for ever. SQLite keeps one table and prunes the
same rows with DELETE. The 1M-row upgrade runs under -m matrix; the default run converts 6,000."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from server_testkit import fresh_pg_database

from contract.events import make_event
from server import db, ingest, partitions, summary
from server.config import Config

DAY = 86400.0
NOW = time.time()
V18 = next(i for i, (v, _, _) in enumerate(db.MIGRATIONS) if v == 18)


def schema_before_18(engine) -> None:
    with db.write(engine) as conn:
        for version, description, apply in db.MIGRATIONS[:V18]:
            apply(conn)
            conn.execute(db.schema_version.insert().values(version=version, description=description, applied_at=NOW))


def fill_history(engine, rows: int, days: float) -> None:
    """`rows` events of 20 kiosks spread evenly over the last `days` days (one in ten feedback),
    written in SQL: a million rows built in Python would take minutes."""
    with db.write(engine) as conn:
        conn.execute(sa.text(f"""
            INSERT INTO events (uuid, device, session, channel, type, guide, guide_version, step, lang,
                                kiosk_time, server_time, received_at, data, rating, helped)
            SELECT md5(n::text), 'kiosk-' || (n % 20), 's' || (n / 10), 'kiosk',
                   CASE WHEN n % 10 = 9 THEN 'feedback' WHEN n % 10 = 0 THEN 'session_start' ELSE 'step_view' END,
                   'lost-bag', 1, 'tag', 'en', t, t, t + 5, '{{}}',
                   CASE WHEN n % 10 = 9 THEN 4 END, CASE WHEN n % 10 = 9 THEN true END
            FROM (SELECT n, {NOW} - {days * DAY} + n * {days * DAY / rows} AS t
                  FROM generate_series(0, {rows - 1}) AS n) AS s"""))
        summary.rebuild(conn, comparisons=False)  # the per-session summaries, in SQL alone


def counts(conn) -> dict[str, int]:
    q = lambda sql: conn.execute(sa.text(sql)).scalar()
    return {"events": q("SELECT count(*) FROM events"), "feedback": q("SELECT count(*) FROM events WHERE type = 'feedback'"),
            "max_id": q("SELECT max(id) FROM events"), "sessions": q("SELECT count(*) FROM session_summary"),
            "ratings": q("SELECT sum(ratings) FROM session_summary")}


def check_upgrade(rows: int) -> None:
    with fresh_pg_database("partition_upgrade") as url:
        engine = db.make_engine(url, pool_size=2)
        schema_before_18(engine)
        fill_history(engine, rows, days=120)
        with engine.connect() as conn:
            before = counts(conn)
            old_indexes = {r[0] for r in conn.execute(sa.text("SELECT indexname FROM pg_indexes WHERE tablename = 'events'"))}
        started = time.perf_counter()
        db.migrate(engine)
        took = time.perf_counter() - started
        with engine.connect() as conn:
            assert partitions.is_partitioned(conn)
            assert counts(conn) == before  # every row, the same ids, the summaries untouched
            assert conn.execute(sa.text("SELECT count(*) FROM event_ids")).scalar() == rows
            months = partitions.months(conn)
            first = partitions.month_start(NOW - 120 * DAY)
            assert partitions.partition_name(first) in months and len(months) >= 5 + partitions.MONTHS_AHEAD - 1
            assert conn.execute(sa.text(f"SELECT count(*) FROM {partitions.DEFAULT_PARTITION}")).scalar() == 0
            new_indexes = {r[0] for r in conn.execute(sa.text("SELECT indexname FROM pg_indexes WHERE tablename = 'events'"))}
            assert new_indexes >= old_indexes - {"uq_events_device_uuid", "events_pkey"}, old_indexes - new_indexes
            # the dashboard's query plans read one month's partition for one month's events
            plan = "\n".join(conn.execute(sa.text(
                f"EXPLAIN SELECT count(*) FROM events WHERE received_at >= {NOW - 10 * DAY}")).scalars())
            assert partitions.partition_name(partitions.month_start(NOW - 120 * DAY)) not in plan
        # the old events are still each (device, uuid) once: a kiosk re-sending one is told duplicate
        with engine.connect() as conn:
            device, uuid, session = conn.execute(sa.text("SELECT device, uuid, session FROM events LIMIT 1")).one()
        resent = {**make_event("step_view", device=device, session=session), "uuid": uuid}
        result = ingest.store_events(engine, device, [resent, make_event("step_view", device=device, session=session)])
        assert result.duplicates == [uuid] and len(result.accepted) == 1
        engine.dispose()
    print(f"\nmigration 18 converted {rows:,} events in {took:.1f} s")


def test_migration_18_partitions_an_existing_events_table():
    check_upgrade(6_000)


@pytest.mark.matrix
@pytest.mark.timeout(1800)
def test_migration_18_partitions_a_million_events():
    check_upgrade(1_000_000)


@pytest.fixture(params=["sqlite", "postgres"])
def history(request, tmp_path):
    """A migrated server holding five months of events, with summaries."""
    if request.param == "sqlite":
        engine = db.make_engine(str(tmp_path / "server.db"), pool_size=2)
        yield _filled(engine)
        engine.dispose()
        return
    with fresh_pg_database("retention") as url:
        engine = db.make_engine(url, pool_size=2)
        yield _filled(engine)
        engine.dispose()


def _filled(engine):
    schema_before_18(engine)
    with db.write(engine) as conn:
        if conn.dialect.name == "sqlite":  # no generate_series: the same rows from Python
            rows = []
            for n in range(3000):
                t = NOW - 150 * DAY + n * (150 * DAY / 3000)
                kind = "feedback" if n % 10 == 9 else "step_view"
                event = make_event(kind, device=f"kiosk-{n % 20}", session=f"s{n // 10}", guide="lost-bag",
                                   guide_version=1, step="tag", lang="en",
                                   data={"helped": True, "rating": 4} if kind == "feedback" else {})
                rows.append(ingest.check_event({**event, "kiosk_time": t}, event["device"], t + 5))
            conn.execute(db.events.insert(), rows)
            summary.rebuild(conn)
    if engine.dialect.name == "postgresql":
        fill_history(engine, 3000, days=150)
    db.migrate(engine)
    return engine


def test_retention_keeps_feedback_and_summaries_and_drops_old_months(history):
    engine = history
    with engine.connect() as conn:
        before = counts(conn)
        old = conn.execute(sa.text(f"SELECT count(*) FROM events WHERE received_at < {NOW - 90 * DAY} "
                                   "AND type <> 'feedback'")).scalar()
    assert old > 0
    gone = partitions.maintain(engine, raw_event_days=90, now=NOW)
    with engine.connect() as conn:
        after = counts(conn)
        oldest_raw = conn.execute(sa.text("SELECT min(received_at) FROM events WHERE type <> 'feedback'")).scalar()
        if partitions.is_partitioned(conn):
            assert gone["months"] >= 1  # whole months went, not rows one by one
            assert min(lo for lo, _ in partitions.months(conn).values()) >= partitions.month_start(NOW - 90 * DAY - 31 * DAY).timestamp()
            kept_ids = conn.execute(sa.text("SELECT min(received_at) FROM event_ids")).scalar()
            assert kept_ids >= NOW - 90 * DAY
            names = set(partitions.months(conn))
            assert partitions.partition_name(partitions.month_start(NOW)) in names
            ahead = partitions.month_start(NOW)
            for _ in range(partitions.MONTHS_AHEAD):  # the months ahead exist
                ahead = partitions.next_month(ahead)
                assert partitions.partition_name(ahead) in names
        assert partitions.pruned_before(conn) == pytest.approx(NOW - 90 * DAY)
    assert oldest_raw >= NOW - 90 * DAY - 31 * DAY  # at most the rest of the cut-off month remains
    assert after["feedback"] == before["feedback"]  # feedback is kept for ever
    assert (after["sessions"], after["ratings"]) == (before["sessions"], before["ratings"])  # so are summaries
    assert after["events"] < before["events"] - old // 4
    # a new event lands in this month's partition, never in the default one
    event = make_event("restart", device="kiosk-1", session="new")
    assert ingest.store_events(engine, "kiosk-1", [event]).accepted == [event["uuid"]]
    with engine.connect() as conn:
        if partitions.is_partitioned(conn):
            where = conn.execute(sa.text("SELECT tableoid::regclass::text FROM events WHERE uuid = :u"),
                                 {"u": event["uuid"]}).scalar()
            assert where == partitions.partition_name(partitions.month_start(NOW))


def test_raw_events_are_kept_at_least_as_long_as_a_kiosk_may_be_offline():
    with pytest.raises(ValidationError, match="at least 90 days"):
        Config(raw_event_days=30)
    assert Config(raw_event_days=400).raw_event_days == 400
    assert datetime.fromtimestamp(partitions.next_month(datetime(2026, 12, 1, tzinfo=UTC)).timestamp(), UTC).month == 1
