"""A full disk never costs a customer their tap, an operator their content, or staff an event."""

from __future__ import annotations

import pytest
from full_disk import disk_full, fill, make_room
from library_factory import write_generated_library

from contract.validation import load_library
from kiosk import cli
from kiosk.engine import SessionEngine
from offline_cache.errors import StoreFull
from offline_cache.store import Store


def test_taps_go_on_when_the_outbox_cannot_be_written_and_no_event_is_lost(loaded_store):
    engine = SessionEngine(loaded_store, "kiosk-1")
    engine.start_session()
    fill(loaded_store.db.conn)
    before = loaded_store.outbox_depth()
    with pytest.raises(StoreFull, match="the disk is full"):
        loaded_store.set_state("probe", "x" * 100_000)  # the disk really is full

    view = engine.open_guide("lost-baggage")  # the customer notices nothing
    view = engine.choose(0)
    engine.back()
    engine.choose(0)
    assert view.step_id == engine.current().step_id
    assert engine.unsaved_events == 7 and loaded_store.outbox_depth() == before

    make_room(loaded_store.db.conn)
    engine.feedback(True, 5, "")
    assert engine.unsaved_events == 0
    kinds = [e.type for e in loaded_store.take_batch(100)]
    assert kinds == ["session_start", "step_view", "choice", "step_view", "back", "step_view", "choice",
                     "step_view", "feedback"], "every event, in the order they happened"


def test_import_on_a_full_disk_says_so_and_keeps_the_old_content(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    old = write_generated_library(tmp_path / "old", 3, "alpha")
    new = write_generated_library(tmp_path / "new", 300, "beta")
    assert cli.main(["import", "--data-dir", str(data), str(old)]) == 0
    store = Store(data / "kiosk.db")
    version = store.content_version
    store.close()

    with disk_full(monkeypatch):
        code = cli.main(["import", "--data-dir", str(data), str(new)])
    err = capsys.readouterr().err
    assert code == 1
    assert f"the kiosk's database {data / 'kiosk.db'} could not be written: the disk is full" in err
    assert "The kiosk's content is unchanged." in err
    assert "Traceback" not in err

    store = Store(data / "kiosk.db")
    assert store.integrity_check() == "ok"
    assert store.content_version == version and store.guide_count() == 3
    assert set(store.guide_versions()) == set(load_library(old).guides)
