"""Sync on a kiosk whose disk is full: the round fails with the reason kept for `kiosk status`,
the customer keeps seeing the old content, no event is lost, and the next round after space is
freed completes. (How a full disk is made here: tests/full_disk.py.)"""

from __future__ import annotations

from kiosk.engine import SessionEngine
from kiosk.sync import SyncService
from offline_cache.store import Store
from tests.full_disk import disk_full
from tests.sync.libgen import write_library


def test_a_full_disk_fails_the_round_cleanly_and_the_next_one_completes(tmp_path, server, kiosk, monkeypatch):
    lib = write_library(tmp_path / "lib", guides=6, images=2, image_bytes=40_000)
    server.publish(lib)
    store = Store(kiosk.settings.db_path)
    assert SyncService.from_settings(kiosk.settings, store).sync_once().ok
    version, guides = store.content_version, store.guide_versions()
    engine = SessionEngine(store, kiosk.name)
    engine.start_session()
    engine.open_guide(next(iter(guides)))
    engine.end_session()
    queued = {e.uuid for e in store.take_batch(1000)}
    store.close()

    write_library(lib, guides=12, images=6, image_bytes=400_000, revision={"guide-0001": 3})
    server.publish(lib)
    with disk_full(monkeypatch):
        full = Store(kiosk.settings.db_path)
        result = SyncService.from_settings(kiosk.settings, full).sync_once()
        full.close()
    assert not result.ok and result.error and "full" in result.error, result
    after = Store(kiosk.settings.db_path)
    assert after.integrity_check() == "ok"
    assert after.content_version == version and after.guide_versions() == guides, "old content still shown"
    assert after.get_state("last_sync")["error"] == result.error, "the reason is kept for status"
    assert queued <= set(server.event_uuids()) | {e.uuid for e in after.take_batch(1000)}, "no event lost"

    retry = SyncService.from_settings(kiosk.settings, after).sync_once()
    assert retry.ok, retry.error
    assert after.content_version == str(server.content_version()) and after.guide_count() == 12
    assert queued <= set(server.event_uuids()) and after.outbox_depth() == 0
