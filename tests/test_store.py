"""The offline cache on a real SQLite file: imports and versions, images, search, categories, the
event outbox and its bound, and readers that never see half an update."""

from __future__ import annotations

import sqlite3
import threading
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from library_factory import (
    base_guides,
    base_images,
    png_bytes,
    snapshot_counts,
    write_generated_library,
    write_library,
)

from contract.events import make_event
from contract.validation import load_library
from devtools.procs import wait_for
from offline_cache.errors import StoreCorrupt, StoreError, StoreFull
from offline_cache.store import Store, fts_query


@pytest.fixture
def library_dir(tmp_path):
    return write_library(tmp_path / "library")


def rows(store: Store, sql: str) -> list:
    return store.db.execute(sql).fetchall()


def ids(hits) -> list[str]:
    return [h.guide_id for h in hits]


# --- importing ---------------------------------------------------------------------------------


def test_import_into_a_real_file_persists_across_reopen(tmp_path, library_dir):
    db_path = tmp_path / "kiosk.db"
    store = Store(db_path)
    counts = store.import_library(load_library(library_dir))
    assert counts == {"added": 4, "changed": 0, "unchanged": 0, "removed": 0}
    version = store.content_version
    store.close()

    reopened = Store(db_path)
    assert reopened.content_version == version
    assert reopened.guide_count() == 4
    guide, guide_version = reopened.guide("lost-baggage")
    assert guide_version == 1 and guide.start == "arrived"
    assert reopened.step("lost-baggage", "report")["end"] == "resolved"
    assert reopened.image_for("lost-baggage", "images/belt.png") == base_images()["images/belt.png"]
    assert reopened.integrity_check() == "ok"
    reopened.close()


def test_reimport_keeps_versions_and_a_change_bumps_only_that_guide(store, tmp_path):
    guides = base_guides()
    store.import_library(load_library(write_library(tmp_path / "v1", guides)))
    first_version = store.content_version
    assert {gid: v for gid, (v, _) in store.guide_versions().items()} == {
        "lost-baggage": 1,
        "airport-wifi": 1,
        "lost-passport": 1,
        "cafe-parking": 1,
    }

    counts = store.import_library(load_library(write_library(tmp_path / "v1-again", guides)))
    assert counts == {"added": 0, "changed": 0, "unchanged": 4, "removed": 0}
    assert all(v == 1 for v, _ in store.guide_versions().values())
    assert store.content_version == first_version  # same content, same version name

    guides["airport-wifi.yaml"]["steps"]["done"]["text"]["en"] = "Enjoy your flight."
    counts = store.import_library(load_library(write_library(tmp_path / "v2", guides)))
    assert counts == {"added": 0, "changed": 1, "unchanged": 3, "removed": 0}
    versions = {gid: v for gid, (v, _) in store.guide_versions().items()}
    assert versions == {"lost-baggage": 1, "airport-wifi": 2, "lost-passport": 1, "cafe-parking": 1}
    assert store.step("airport-wifi", "done")["text"]["en"] == "Enjoy your flight."
    assert store.content_version != first_version


def search_triggers(store: Store) -> int:
    return len(rows(store, "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'search_docs'"))


def test_bulk_and_row_by_row_switches_find_the_same_and_a_failed_one_changes_nothing(store, tmp_path):
    # A whole import rebuilds the full-text index at once; a one-guide update goes through the
    # triggers. Either way search must find the new words and not the old ones.
    guides = base_guides()
    store.import_library(load_library(write_library(tmp_path / "v1", guides)))  # 4 of 4: bulk
    assert search_triggers(store) == 3
    assert "airport-wifi" not in ids(store.search("saxophone"))
    guides["airport-wifi.yaml"]["steps"]["done"]["text"]["en"] = "Saxophone music plays at gate 4."
    store.import_library(load_library(write_library(tmp_path / "v2", guides)))  # 1 of 4: triggers
    assert ids(store.search("saxophone")) == ["airport-wifi"]
    for name, step in (("airport-wifi.yaml", "done"), ("lost-baggage.yaml", "report")):  # 2 of 3 kept: bulk
        guides[name]["steps"][step]["text"]["en"] = "Trombone lessons on the mezzanine."
    del guides["lost-passport.yaml"]
    store.import_library(load_library(write_library(tmp_path / "v3", guides)))
    assert ids(store.search("saxophone")) == []
    assert sorted(ids(store.search("trombone"))) == ["airport-wifi", "lost-baggage"]
    assert "lost-passport" not in ids(store.search("passport"))
    store.db.execute("INSERT INTO search_docs_fts(search_docs_fts) VALUES ('integrity-check')")
    assert search_triggers(store) == 3

    library = load_library(write_library(tmp_path / "v4", guides))
    with pytest.raises(ValueError, match="does not contain"):  # fails after the rebuild: all rolled back
        store.install_content("v4", [(g, 9) for g in library.guides.values()], set(library.guides) | {"ghost"})
    assert search_triggers(store) == 3
    assert sorted(ids(store.search("trombone"))) == ["airport-wifi", "lost-baggage"]
    guides["airport-wifi.yaml"]["steps"]["done"]["text"]["en"] = "Harp recitals nightly."
    store.import_library(load_library(write_library(tmp_path / "v5", guides)))  # the triggers still work
    assert ids(store.search("harp")) == ["airport-wifi"]
    assert ids(store.search("trombone")) == ["lost-baggage"]


def test_removed_guides_disappear_everywhere(store, tmp_path):
    guides = base_guides()
    store.import_library(load_library(write_library(tmp_path / "v1", guides)))
    del guides["lost-passport.yaml"]
    counts = store.import_library(load_library(write_library(tmp_path / "v2", guides)))
    assert counts["removed"] == 1
    assert store.guide("lost-passport") is None
    assert store.step("lost-passport", "where") is None
    assert "lost-passport" not in ids(store.search("passport"))
    assert "documents" not in [c.id for c in store.categories()]
    for table in ("steps", "search_docs", "guide_images"):
        assert rows(store, f"SELECT * FROM {table} WHERE guide_id = 'lost-passport'") == []


def test_images_are_content_addressed_and_unused_ones_cleaned(store, tmp_path):
    guides, images = base_guides(), base_images()
    # The same picture under two names is stored once.
    guides["lost-passport.yaml"]["steps"]["where"]["image"] = "pics/same-belt.png"
    images["pics/same-belt.png"] = images["images/belt.png"]
    store.import_library(load_library(write_library(tmp_path / "v1", guides, images)))
    assert store.db.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 3
    assert store.image_for("lost-passport", "pics/same-belt.png") == images["images/belt.png"]

    old_map = store.image_for("cafe-parking", "images/map.png")
    images["images/map.png"] = png_bytes(seed=99)
    store.import_library(load_library(write_library(tmp_path / "v2", guides, images)))
    assert store.image_for("cafe-parking", "images/map.png") == png_bytes(seed=99)
    stored = [r[0] for r in rows(store, "SELECT data FROM images")]
    assert old_map not in stored and len(stored) == 3


def test_store_errors_are_its_own_and_say_what_happened(tmp_path, library_dir):
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"SQLite format 3\x00" + b"not a database " * 500)  # past the store's header check
    with pytest.raises(StoreCorrupt, match=f"the kiosk's database {damaged} is damaged") as caught:
        Store(damaged)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)  # kept for the log

    store = Store(tmp_path / "kiosk.db")
    store.db.execute("PRAGMA query_only = 1")  # a file that may not be written, as a read-only mount
    with pytest.raises(StoreError, match="could not be read or written") as caught:
        store.import_library(load_library(library_dir))
    assert not isinstance(caught.value, StoreFull | StoreCorrupt)
    store.db.execute("PRAGMA query_only = 0")
    assert store.guide_count() == 0 and store.integrity_check() == "ok"


# --- search ------------------------------------------------------------------------------------


@pytest.fixture
def searchable(store, library_dir):
    store.import_library(load_library(library_dir))
    return store


def test_search_uses_the_calling_threads_connection(searchable):
    # `kiosk run` reads search's vocabulary on another thread after each switch; the UI thread's
    # searches must still run on the UI thread's own connection (here: one in a transaction that
    # has just removed every search row, which only that connection sees).
    worker = threading.Thread(target=searchable.prepare_search)
    worker.start()
    worker.join()
    assert ids(searchable.search("passport"))
    with searchable.transaction():
        searchable.db.execute("DELETE FROM search_docs")
        assert ids(searchable.search("passport")) == []


def test_a_title_match_ranks_above_a_body_match(searchable):
    hits = ids(searchable.search("passport"))
    # lost-passport has it in its title; lost-baggage only in a step's text.
    assert hits[:2] == ["lost-passport", "lost-baggage"]


def test_search_as_you_type_matches_prefixes(searchable):
    # lost-baggage has "luggage" in its title; airport-wifi only in a button label.
    assert ids(searchable.search("lug")) == ["lost-baggage", "airport-wifi"]
    assert ids(searchable.search("lost lug")) == ["lost-baggage"]
    assert "airport-wifi" in ids(searchable.search("wi"))


@pytest.mark.parametrize(
    ("query", "lang", "expected"),
    [
        ("maleta", "es", "lost-baggage"),
        ("Equipaje", "es", "lost-baggage"),
        ("无线", "zh", "airport-wifi"),  # a keyword
        ("网络", "zh", "airport-wifi"),  # inside the title 机场免费无线网络, no spaces in Chinese
        ("上网", "en", "airport-wifi"),  # found from another language too
        ("reserve", "fr", "cafe-parking"),  # réservé typed without accents
        ("réservé", "fr", "cafe-parking"),
        ("CAFÉ", "en", "cafe-parking"),
        ("cafe", "en", "cafe-parking"),
    ],
)
def test_search_in_many_languages(searchable, query, lang, expected):
    assert ids(searchable.search(query, lang=lang))[:1] == [expected]


def test_search_results_are_in_the_customers_language(searchable):
    [hit] = searchable.search("maleta", lang="es")
    assert hit.title == "Equipaje perdido o retrasado" and hit.category == "Equipaje"


LOST = ["lost-passport", "lost-baggage"]


@pytest.mark.parametrize(
    ("hostile", "expected"),
    [
        ('"', []),
        ('""', []),
        ('"lost', LOST),
        ("AND", ["airport-wifi", "lost-baggage"]),
        ("OR", ["lost-baggage"]),
        ("NOT", ["airport-wifi"]),
        ("lost AND", ["lost-baggage"]),
        ("AND lost", ["lost-baggage"]),
        ("*", []),
        ("lost*", LOST),
        ("**", []),
        ("NEAR(", []),
        ("NEAR(lost", []),
        ("NEAR(lost bag, 2)", []),
        ("(", []),
        (")", []),
        ("title:lost", []),
        ("body:", []),
        ("-lost", LOST),
        ("^lost", LOST),
        ("lost OR", ["lost-baggage"]),
        ('lost"bag', ["lost-baggage"]),
        ("(lost)", LOST),
        ('"lost" "passport"', LOST),
        ("lost -passport", LOST),  # no NOT: lost-baggage mentions a passport too
        ("passport:", LOST),
        ("{passport}", LOST),
        ("luggage*)", ["lost-baggage", "airport-wifi"]),
        ("{", []),
        ("}", []),
        ("[", []),
        ("+", []),
        ("'", []),
        ("\\", []),
        ("\x00", []),
        ("%", []),
        ("😀", []),
        ("   ", []),
        ("", []),
        ("a" * 5000, []),
    ],
)
def test_hostile_fts_syntax_is_read_as_words(searchable, hostile, expected):
    # Operators are words ("AND", "OR", "NOT" occur in guide text; NEAR, column filters and
    # brackets do not), so the hits are those of the words alone; no text makes the query fail.
    assert ids(searchable.search(hostile)) == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=60))
def test_no_text_a_customer_can_type_makes_search_fail(searchable, text):
    hits = searchable.search(text)
    assert all(h.guide_id for h in hits)
    if fts_query(text) is None:
        assert hits == []


def test_operators_typed_by_a_customer_are_words(searchable):
    assert ids(searchable.search('lost "luggage')) == ["lost-baggage"]
    # As FTS5 syntax this would find lost-passport; as words, no guide has "not" next to both.
    assert ids(searchable.search("passport NOT luggage")) == []


# --- categories --------------------------------------------------------------------------------


def test_categories_and_guides_by_category(searchable):
    cats = searchable.categories()
    assert [(c.id, c.name, c.guide_count) for c in cats] == [
        ("baggage", "Baggage", 1),
        ("connectivity", "Connectivity", 1),
        ("documents", "Documents", 1),
        ("parking", "Parking", 1),
    ]
    assert [g.id for g in searchable.list_guides(category="baggage")] == ["lost-baggage"]
    [parking] = searchable.list_guides(lang="fr", category="parking")
    assert parking.title == "Parking réservé du café"


def test_category_names_follow_the_language(searchable):
    names = {c.id: c.name for c in searchable.categories("es")}
    assert names["baggage"] == "Equipaje"


# --- the outbox --------------------------------------------------------------------------------


def event(kind: str, n: int = 0) -> dict:
    return make_event(kind, device="test-kiosk", session="s1", data={"n": n})


def test_outbox_append_take_ack_deletes_only_acked(store):
    events = [event("step_view", n) for n in range(5)]
    store.append_events(events)
    store.append_event(events[0])  # the same uuid twice is stored once
    assert store.outbox_depth() == 5
    batch = store.take_batch(limit=3)
    assert [e.uuid for e in batch] == [e["uuid"] for e in events[:3]]
    assert store.outbox_depth() == 5  # taking is not deleting
    assert store.ack([batch[0].uuid, batch[2].uuid, uuid.uuid4().hex]) == 2
    assert [e.body["data"]["n"] for e in store.take_batch()] == [1, 3, 4]
    assert store.take_batch(after_seq=batch[1].seq)[0].body["data"]["n"] == 3


def test_outbox_bound_drops_oldest_step_views_never_feedback(tmp_path):
    store = Store(tmp_path / "kiosk.db", outbox_limit=10)
    store.append_events([event("step_view", n) for n in range(6)])
    store.append_events([event("feedback", 100 + n) for n in range(3)] + [event("outcome", 200)])
    assert store.outbox_depth() == 10 and store.get_state("outbox_dropped", 0) == 0
    store.append_events([event("session_end", 300), event("step_view", 6), event("choice", 301)])
    kept = [(e.type, e.body["data"]["n"]) for e in store.take_batch(limit=100)]
    assert kept == [
        ("step_view", 3),
        ("step_view", 4),
        ("step_view", 5),
        ("feedback", 100),
        ("feedback", 101),
        ("feedback", 102),
        ("outcome", 200),
        ("session_end", 300),
        ("step_view", 6),
        ("choice", 301),
    ]
    assert store.get_state("outbox_dropped") == 3
    store.close()


def test_outbox_never_drops_feedback_even_over_the_bound(tmp_path):
    store = Store(tmp_path / "kiosk.db", outbox_limit=3)
    store.append_events([event("step_view", 0)] + [event("feedback", n) for n in range(1, 6)])
    assert [e.type for e in store.take_batch()] == ["feedback"] * 5
    store.append_event(event("search", 9))
    assert [e.type for e in store.take_batch()] == ["feedback"] * 5
    assert store.get_state("outbox_dropped") == 2  # counts add up across trims
    store.close()


# --- readers during an import ------------------------------------------------------------------


def test_a_reader_during_import_sees_old_or_new_never_a_mix(tmp_path):
    lib_a = load_library(write_generated_library(tmp_path / "a", 100, "alphamark", seed=1, steps=2))
    lib_b = load_library(write_generated_library(tmp_path / "b", 80, "betamark", seed=2, steps=3))
    store = Store(tmp_path / "kiosk.db")
    reader = sqlite3.connect(tmp_path / "kiosk.db", isolation_level=None, check_same_thread=False)

    store.import_library(lib_a)
    state_a = snapshot_counts(reader)
    store.import_library(lib_b)
    state_b = snapshot_counts(reader)
    assert state_a[:5] == (100, 100 * 4, 200, 200, 0) and state_b[:5] == (80, 80 * 5, 160, 0, 160)

    seen, stop = [], threading.Event()

    def read_while_importing():
        while not stop.is_set():
            seen.append(snapshot_counts(reader))

    thread = threading.Thread(target=read_while_importing)
    thread.start()
    for library in (lib_a, lib_b, lib_a):
        store.import_library(library)
    try:
        wait_for(lambda: seen and seen[-1] == state_a, 10, "the reader to see the last import", interval=0.01)
    finally:
        stop.set()
        thread.join()
    mixed = [s for s in seen if s not in (state_a, state_b)]
    assert not mixed, f"{len(mixed)} mixed snapshots, e.g. {mixed[0]}"
    assert {state_a, state_b} <= set(seen)
    assert store.integrity_check() == "ok"
    reader.close()
    store.close()
