"""A server that ran the first released schema for months upgrades in place: the migrations run on
start, on SQLite and on PostgreSQL, and what the old server stored is all there, with the
dashboard's per-session summaries built from the events it already held."""

from __future__ import annotations

import time

import sqlalchemy as sa
from server_testkit import cli

from contract.heartbeat import LastSync
from devtools.simulate import generate
from server import db, ingest


def make_oldest_schema_database(url: str) -> list[dict]:
    """Schema version 1 exactly as the first release made it, holding a few hundred sessions."""
    engine = db.make_engine(url, pool_size=1)
    version, description, first = db.MIGRATIONS[0]
    with db.write(engine) as conn:
        first(conn)
        conn.execute(db.schema_version.insert().values(version=version, description=description,
                                                       applied_at=time.time()))
    history = generate(kiosks=3, days=5, sessions=300, seed=11)
    rows = [ingest.check_event(e, e["device"], e["kiosk_time"] + 5) for e in history.events]
    v1 = sa.MetaData()
    db.schema._v1_tables(v1)
    v1_events = v1.tables["events"]  # today's rows have columns later migrations added
    with db.write(engine) as conn:
        conn.execute(v1_events.insert(), [{k: v for k, v in r.items() if k in v1_events.c} for r in rows])
        # sync results as the first release stored them: a kiosk's JSON object, or any plain text
        for n, result in enumerate(['{"result": "ok", "at": "2026-01-05T10:00:00Z", "error": null}', "ok",
                                    "error: connection timed out"]):
            conn.execute(db.devices.insert().values(name=f"old-{n}", token_sha256=f"{n:064x}", handoff_key="00" * 32,
                                                    created_at=time.time(), last_sync_result=result))
    engine.dispose()
    return history.events


def test_oldest_schema_migrates_forward_with_its_events(db_url):
    events = make_oldest_schema_database(db_url)
    engine = db.make_engine(db_url, pool_size=1)
    with engine.connect() as conn:
        assert db.current_version(conn) == 1
    engine.dispose()

    code, _out, err = cli("device", "list", "--db", db_url)  # any command migrates on start
    assert code == 0, err

    engine = db.make_engine(db_url, pool_size=1)
    with engine.connect() as conn:
        assert db.current_version(conn) == db.SCHEMA_VERSION
        applied = [r.version for r in conn.execute(sa.select(db.schema_version.c.version)
                                                   .order_by(db.schema_version.c.version))]
        assert applied == [v for v, _, _ in db.MIGRATIONS]
        stored = conn.execute(sa.select(sa.func.count()).select_from(db.events)).scalar()
        summarised = conn.execute(sa.select(sa.func.count()).select_from(db.session_summary)).scalar()
        # the comparison summaries built from the same events: one guide row per (session, guide version)
        compared = conn.execute(sa.select(sa.func.sum(db.comparison_summary.c.sessions))
                                .where(db.comparison_summary.c.step == "")).scalar()
        guide_sessions = conn.execute(sa.select(sa.func.count()).select_from(db.session_guides)).scalar()
        synced = dict(conn.execute(sa.select(db.devices.c.name, db.devices.c.last_sync_result)).all())
    engine.dispose()
    assert stored == len(events)
    assert summarised == len({e["session"] for e in events}), "every old session has its summary"
    assert compared == guide_sessions > 0
    # every stored sync result now reads as the one LastSync shape the Fleet page shows
    last = {name: LastSync.from_stored(text) for name, text in synced.items()}
    assert last["old-0"].healthy and last["old-0"].at == "2026-01-05T10:00:00Z"
    assert last["old-1"].healthy
    assert not last["old-2"].healthy and last["old-2"].error == "error: connection timed out"

    # Events are unique per (device, uuid) from migration 8 on: another device may use the same
    # uuid, the same device's re-send is still a duplicate.
    engine = db.make_engine(db_url, pool_size=1)
    some = events[0]
    assert ingest.store_events(engine, "elsewhere", [{**some, "device": "elsewhere"}]).accepted == [some["uuid"]]
    assert ingest.store_events(engine, some["device"], [some]).duplicates == [some["uuid"]]
    engine.dispose()


def test_migration_19_marks_the_images_published_versions_name_and_not_a_drafts_upload(tmp_path):
    """The phone pages serve only published images: after the upgrade, every image a content
    version's manifest lists is published, one uploaded to a studio draft only is not."""
    engine = db.make_engine(str(tmp_path / "server.db"), pool_size=1)
    v1 = sa.MetaData()
    db.schema._v1_tables(v1)
    with db.write(engine) as conn:
        for version, description, apply in db.MIGRATIONS:
            if version == 19:
                break
            apply(conn)
            conn.execute(db.schema_version.insert().values(version=version, description=description,
                                                           applied_at=time.time()))
        for sha in ("a" * 64, "b" * 64):
            conn.execute(v1.tables["images"].insert().values(sha256=sha, kind="png", size=1, data=b"x",
                                                             created_at=1.0))
        conn.execute(db.content_versions.insert().values(
            version=1, published_at=1000.0, published_by="admin", manifest_json='{"images": {"' + "a" * 64 + '": {}}}'))
    engine.dispose()
    engine = db.make_engine(str(tmp_path / "server.db"), pool_size=1)
    assert db.migrate(engine) == db.SCHEMA_VERSION
    with engine.connect() as conn:
        published = dict(conn.execute(sa.select(db.images.c.sha256, db.images.c.published_at)).all())
    engine.dispose()
    assert published == {"a" * 64: 1000.0, "b" * 64: None}
