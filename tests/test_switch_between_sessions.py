"""New content switches in at the first moment between two sessions (issue 16): a sync that finds
it while a customer is mid-session keeps it staged, verified and ready; no round switches it while
that session is open; the moment the session ends the app asks for it and it is installed at once,
nothing fetched again, so the next customer's first tap already sees it (with back-to-back
customers it once waited for a 15-second poll that found no gap, 203 s for a 200 MB update)."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from contract.validation import load_library
from kiosk.engine import SessionEngine
from kiosk.sync import SyncService
from tests.sync.fake_transport import FakeServer, FakeTransport
from tests.sync.libgen import write_library


def _kiosk(store, tmp_path):
    """A synced kiosk's core as run_app wires it: the switch waits for no session to be open."""
    lib = write_library(tmp_path / "lib", guides=4, images=2)
    server = FakeServer()
    server.publish(load_library(lib))
    sync = SyncService(store, FakeTransport(server), device="k1", server_key=server.public_key, backoff_base=0.01)
    engine = SessionEngine(store, "k1")
    sync.may_switch = lambda: engine.session_id is None
    assert sync.sync_once().result == "ok" and store.content_version == "1"
    return lib, server, sync, engine


def test_staged_content_waits_out_the_session_then_switches_at_its_end(store, tmp_path):
    lib, server, sync, engine = _kiosk(store, tmp_path)
    switched = []
    sync.on_content_changed = switched.append

    engine.start_session("en")
    write_library(lib, guides=4, images=3, revision={"guide-0000": 1})
    server.publish(load_library(lib))
    first = sync.sync_once()
    assert first.content_pending == "2" and store.content_version == "1", "never mid-session"
    assert sync.has_staged
    assert not sync.switch_staged() and store.content_version == "1", "asked mid-session: still no"
    again = sync.sync_once()  # the retry poll, the customer still there
    assert again.content_pending == "2" and store.content_version == "1" and switched == []

    engine.end_session("done")
    server.requests.clear()
    assert sync.switch_staged(), "the session has ended: the staged content goes in at once"
    assert store.content_version == "2" and switched == ["2"] and not sync.has_staged
    assert server.requests == [], "nothing is fetched again: it was verified and staged already"
    after = sync.sync_once()  # the next round (it sends the session's events) finds nothing to do
    assert not after.content_changed and after.content_pending is None and after.guides_downloaded == 0


def test_staged_content_is_dropped_when_other_content_was_installed_since(store, tmp_path):
    lib, server, sync, engine = _kiosk(store, tmp_path)
    engine.start_session("en")
    write_library(lib, guides=4, images=2, revision={"guide-0001": 1})
    server.publish(load_library(lib))
    assert sync.sync_once().content_pending == "2"
    engine.end_session("done")
    write_library(lib, guides=4, images=2, revision={"guide-0001": 2})
    server.publish(load_library(lib))
    assert sync.sync_once().content_changed and store.content_version == "3"  # a round got there first
    assert not sync.switch_staged() and store.content_version == "3", "an older staged plan never goes in"


def test_the_app_asks_for_the_switch_as_a_session_ends(store, tmp_path):
    """KioskApp's moment between two sessions (reset_to_attract) hands the switch to a worker."""
    from kivy.clock import Clock

    from screens.app import KioskApp

    lib, server, sync, engine = _kiosk(store, tmp_path)
    engine.start_session("en")
    write_library(lib, guides=4, images=3, revision={"guide-0002": 1})
    server.publish(load_library(lib))
    assert sync.sync_once().content_pending == "2"
    engine.end_session("done")
    done = threading.Event()
    sync.on_content_changed = lambda version: done.set()
    collected = []
    app = SimpleNamespace(sync_service=sync, collector=SimpleNamespace(between_sessions=collected.append))
    KioskApp._between_sessions(app, False)
    assert done.wait(10), "the staged content was switched in when the session ended"
    assert store.content_version == "2"
    Clock.tick()  # the garbage collection is asked for on the clock, after the attract loop is drawn
