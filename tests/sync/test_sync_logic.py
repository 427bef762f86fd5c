"""The sync logic against an in-memory server (fast). The end-to-end behaviour over real HTTP
with the real server is in test_sync_server.py."""

from __future__ import annotations

from contract.events import make_event
from contract.validation import load_library
from kiosk.sync import SyncService
from kiosk.transport import NetworkError
from tests.sync.fake_transport import FakeServer, FakeTransport
from tests.sync.libgen import write_library


def _service(store, server, **kw):
    return SyncService(store, FakeTransport(server), device="k1", server_key=server.public_key,
                       backoff_base=0.01, **kw)




def test_pull_installs_then_only_changed_guide_is_fetched(store, tmp_path):
    lib = write_library(tmp_path / "lib", guides=6, images=3)
    server = FakeServer()
    server.publish(load_library(lib))
    sync = _service(store, server)
    changed = []
    sync.on_content_changed = changed.append
    first = sync.sync_once()
    assert first.result == "ok" and first.content_version == "1"
    assert set(store.guide_versions()) == set(server.current)
    assert first.images_downloaded == len(server.images)

    again = sync.sync_once()
    assert again.result == "unchanged" and again.guides_downloaded == 0

    write_library(lib, guides=6, images=3, revision={"guide-0001": 1})
    server.publish(load_library(lib))
    server.requests.clear()
    third = sync.sync_once()
    assert third.result == "ok" and third.guides_downloaded == 1 and third.images_downloaded == 0
    assert server.requests.count("guide") == 1 and "image" not in server.requests
    assert store.guide_versions()["guide-0001"][0] == 2
    assert changed == ["1", "2"]


def test_tampered_manifest_and_offline_change_nothing(store, tmp_path):
    loaded_store = store
    loaded_store.import_library(load_library(write_library(tmp_path / "old", guides=2, images=1, seed=9)),
                                content_version="test-1")
    server = FakeServer()
    server.publish(load_library(write_library(tmp_path / "lib", guides=4, images=2)))
    other = FakeServer()
    sync = _service(loaded_store, server)
    sync.server_key = other.public_key
    res = sync.sync_once()
    assert res.result == "rejected" and "signature" in res.error
    assert loaded_store.content_version == "test-1"
    assert loaded_store.get_state("last_sync")["result"] == "rejected"

    sync.server_key = server.public_key
    server.down = True
    res = sync.sync_once()
    assert res.result == "offline" and loaded_store.content_version == "test-1"
    server.down = False
    assert sync.sync_once().content_version == "1"


def test_push_acks_only_acknowledged_and_sets_aside_rejected(store):
    server = FakeServer()
    sync = _service(store, server, batch_size=7)
    events = [make_event("step_view", device="k1", session="s") for _ in range(50)]
    bad = dict(make_event("step_view", device="k1", session="s"), type="bogus")
    store.append_events(events[:20] + [bad] + events[20:])
    sync.transport.fail["events"] = NetworkError("cut")
    res = sync.sync_once()
    assert res.events_sent == 50 and res.events_rejected == 1
    assert store.outbox_depth() == 0
    assert set(server.events) == {e["uuid"] for e in events}
    assert all(e["server_time_offset"] == 2.5 for e in server.events.values())
    assert sync.tables.rejected_count() == 1
    # The Fleet page learns of it from the heartbeat that follows the round.
    assert server.heartbeats[-1]["rejected_events"] == 1
    assert server.heartbeats[-1]["last_sync_result"]["result"] == "ok"


def test_push_honours_retry_after_and_halves_a_batch_too_large(store):
    import time

    from kiosk.transport import ProtocolError, RateLimited

    server = FakeServer()
    sync = _service(store, server, batch_size=400)
    store.append_events([make_event("search", device="k1", session="s", data={"query": "x", "hits": 1})
                         for _ in range(1000)])
    sync.transport.fail["events"] = RateLimited("busy", retry_after=0.3)
    started = time.monotonic()
    res = sync.sync_once()
    assert time.monotonic() - started >= 0.3 and res.events_sent == 1000

    store.append_events([make_event("search", device="k1", session="s") for _ in range(10)])
    sync.transport.fail["events"] = ProtocolError("too large", 413)
    assert sync.sync_once().events_sent == 10 and store.outbox_depth() == 0

    store.append_events([make_event("feedback", device="k1", session="s")])
    sync.transport.fail["events"] = RateLimited("come back in an hour", retry_after=3600)
    res = sync.sync_once()
    assert res.result == "offline" and "3600" in res.error and store.outbox_depth() == 1


def test_revoked_token_is_reported_not_retried(store):
    server = FakeServer()
    server.token_ok = False
    sync = _service(store, server)
    store.append_events([make_event("feedback", device="k1", session="s")])
    res = sync.sync_once()
    assert res.result == "unauthorized" and "token" in res.error
    assert server.requests.count("events") == 1 and store.outbox_depth() == 1


def test_switch_waits_for_the_session_to_end_without_downloading_again(store, tmp_path):
    lib = write_library(tmp_path / "lib", guides=4, images=2)
    server = FakeServer()
    server.publish(load_library(lib))
    sync = _service(store, server)
    sync.sync_once()
    write_library(lib, guides=4, images=3, revision={"guide-0000": 1})
    server.publish(load_library(lib))
    customer_mid_session = True
    sync.may_switch = lambda: not customer_mid_session
    res = sync.sync_once()
    assert res.content_pending == "2" and store.content_version == "1"
    assert (res.guides_downloaded, res.images_downloaded) == (2, 1)  # guide-0002 gained an image
    customer_mid_session = False
    server.requests.clear()
    res = sync.sync_once()
    assert res.content_changed and store.content_version == "2" and res.content_pending is None
    assert "guide" not in server.requests and "image" not in server.requests


def _with_synonyms(lib, text="synonyms:\n  en:\n    - [guide, walkthrough]\n"):
    (lib / "_library.yaml").write_text(text)
    return load_library(lib)


def test_library_settings_arrive_with_the_guides_and_only_they_change(store, tmp_path):
    lib = write_library(tmp_path / "lib", guides=3, images=1)
    server = FakeServer()
    server.publish(_with_synonyms(lib))
    sync = _service(store, server)
    assert sync.sync_once().result == "ok"
    assert store.library_settings().synonyms == {"en": (("guide", "walkthrough"),)}

    server.publish(_with_synonyms(lib, "synonyms:\n  en:\n    - [guide, tour]\n"))
    server.requests.clear()
    second = sync.sync_once()
    assert second.result == "ok" and second.guides_downloaded == 0 and store.content_version == "2"
    assert store.library_settings().synonyms == {"en": (("guide", "tour"),)}

    (lib / "_library.yaml").unlink()
    server.publish(load_library(lib))
    assert sync.sync_once().result == "ok"
    assert not store.library_settings()


def test_settings_a_kiosk_cannot_use_are_refused_with_the_content(store, tmp_path):
    lib = write_library(tmp_path / "lib", guides=2, images=1)
    server = FakeServer()
    server.publish(load_library(lib))
    sync = _service(store, server)
    assert sync.sync_once().result == "ok"
    server.publish(load_library(lib))
    server.manifest["library"] = {"synonyms": {"en": [["alone"]]}}  # signed, but not valid settings
    res = sync.sync_once()
    assert res.result == "rejected" and "_library.yaml" in res.error
    assert store.content_version == "1" and not store.library_settings()


def test_a_kiosk_upgraded_past_settings_it_ignored_fetches_them_once(store, tmp_path):
    """A kiosk of the previous release installed a version whose manifest had settings, and kept
    its ETag; upgraded, it must not be told "unchanged" about them forever."""
    lib = write_library(tmp_path / "lib", guides=2, images=1)
    server = FakeServer()
    server.publish(_with_synonyms(lib))
    sync = _service(store, server)
    assert sync.sync_once().result == "ok"
    with store.transaction():  # what the previous release left: the ETag, no settings
        store.db.execute("DELETE FROM sync_state WHERE key IN ('library_settings', 'manifest_settings_read')")
    assert not store.library_settings()
    assert sync.sync_once().result == "ok"
    assert store.library_settings().synonyms == {"en": (("guide", "walkthrough"),)}
    assert sync.sync_once().result == "unchanged"


def test_settings_sent_in_another_form_are_installed_once(store, tmp_path):
    lib = write_library(tmp_path / "lib", guides=2, images=1)
    server = FakeServer()
    server.publish(load_library(lib))
    server.manifest["library"] = {"synonyms": {"es": [[" guía ", "tour"]], "en": [["guide", "tour"]]}}
    sync = _service(store, server)
    assert sync.sync_once().result == "ok"
    assert store.library_settings().synonyms["es"] == (("guía", "tour"),)
    store.set_state("manifest_etag", None)  # no 304 to hide behind: the plan itself must see no change
    assert sync.sync_once().result == "unchanged"
