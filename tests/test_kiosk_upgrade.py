"""A kiosk that was switched off for months must start on the new release: its SQLite file is
migrated forward, content and unsent events intact. tests/fixtures/kiosk-schema-m001.db was made by
the first released schema (m001) and must never be regenerated."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from contract.bundle import open_library
from offline_cache.migrations import migrations
from offline_cache.store import Store

FIXTURE = "kiosk-schema-m001.db"


def test_oldest_schema_migrates_forward_with_content_and_outbox(tmp_path, request):
    src = request.path.parent / "fixtures" / FIXTURE
    db_path = tmp_path / "kiosk.db"
    shutil.copy(src, db_path)
    store = Store(db_path)
    applied = [m.name for m in migrations.applied(store.db)]
    assert applied == [m.name for m in migrations._migrations], "every migration is applied in order"
    assert store.integrity_check() == "ok"
    assert store.content_version == "sample"
    assert store.guide_count() == 11
    assert [h.guide_id for h in store.search("bag")][:1] == ["lost-baggage"]
    events = store.take_batch(100)
    assert [e.type for e in events] == ["session_start", "step_view", "choice", "step_view", "session_end"]
    assert {e.body["device"] for e in events} == {"old-kiosk"}
    # and the kiosk command works on it
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(db_path, data / "kiosk.db")
    out = subprocess.run([sys.executable, "-m", "kiosk.cli", "status", "--json", "--data-dir", str(data)],
                         capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    assert report["content_version"] == "sample" and report["outbox_depth"] == 5


def test_new_database_and_reopen_are_idempotent(tmp_path):
    Store(tmp_path / "k.db").close()
    store = Store(tmp_path / "k.db")
    assert len(migrations.applied(store.db)) == len(migrations._migrations)


def test_a_kiosk_indexed_before_traditional_folding_finds_traditional_guides_by_simplified(tmp_path):
    # A guide written in traditional characters, installed by a kiosk whose index still holds the
    # traditional tokens (as every index before m004 did): after the upgrade a traveller typing
    # simplified characters finds it by its step text, which (unlike the title) has no pinyin keys
    # to meet the query by sound.
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "shuttle.yaml").write_text(
        "id: shuttle\ntitle: {en: Airport shuttle, zh: 機場巴士}\ncategory: {en: Transport, zh: 交通}\n"
        "start: a\nsteps:\n  a:\n    text: {en: Take the bus at door 3., zh: 請在3號門乘車。}\n    end: resolved\n",
        encoding="utf-8")
    db_path = tmp_path / "kiosk.db"
    store = Store(db_path)
    store.import_library(open_library(lib))
    with store.db.conn:
        store.db.execute("UPDATE search_docs SET body = ' 請 在 3 號 門 乘 車 。' WHERE lang = 'zh'")
        store.db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm004_simplified_chinese_search'")
    store.close()
    store = Store(db_path)
    assert [h.guide_id for h in store.search("乘车", lang="zh")] == ["shuttle"]


def test_a_kiosk_indexed_before_the_prefix_index_gets_it_and_keeps_its_search(tmp_path):
    # An index made before m005 (no FTS5 prefix index): after the upgrade the full-text table has
    # it, finds what it found, and still follows a content switch (its triggers kept).
    from contract.search_index import FTS_SCHEMA, PREFIX_INDEX

    def library(folder, title):
        folder.mkdir()
        (folder / "shuttle.yaml").write_text(
            f"id: shuttle\ntitle: {{en: {title}}}\ncategory: {{en: Transport}}\n"
            "start: a\nsteps:\n  a:\n    text: {en: Take the bus at door 3.}\n    end: resolved\n", encoding="utf-8")
        return open_library(folder)

    db_path = tmp_path / "kiosk.db"
    store = Store(db_path)
    store.import_library(library(tmp_path / "a", "Airport shuttle"))
    with store.db.conn:
        for table in ("search_vocab", "search_docs_fts"):
            store.db.execute(f"DROP TABLE {table}")
        for statement in FTS_SCHEMA:
            store.db.execute(statement.replace(f", prefix='{PREFIX_INDEX}'", ""))
        store.db.execute("INSERT INTO search_docs_fts(search_docs_fts) VALUES ('rebuild')")
        store.db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm005_search_prefix_index'")
    store.close()
    store = Store(db_path)
    sql = store.db.execute("SELECT sql FROM sqlite_master WHERE name = 'search_docs_fts'").fetchone()[0]
    assert f"prefix='{PREFIX_INDEX}'" in sql
    assert [h.guide_id for h in store.search("s")] == [h.guide_id for h in store.search("shuttle")] == ["shuttle"]
    store.import_library(library(tmp_path / "b", "Airport coach"))
    assert [h.guide_id for h in store.search("coa")] == ["shuttle"] and store.search("shuttle") == []
