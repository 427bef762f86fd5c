"""What a kiosk knows about itself, for `kiosk status`, staff mode and the heartbeat: the store
of a data dir (filled from the sample library when new) and a status report of it."""

from __future__ import annotations

import logging
import shutil
import sys

from contract.bundle import open_library
from contract.guides import LibraryInvalid
from kiosk import __version__
from kiosk.paths import SAMPLE_LIBRARY
from kiosk.settings import Settings
from offline_cache.store import Store
from offline_cache.sync_tables import SyncTables

log = logging.getLogger("kiosk")


def open_store(settings: Settings) -> Store:
    """The store for this data dir; a new one is filled from the bundled sample library, so a
    kiosk that has never seen a server still has guides to show."""
    store = Store(settings.db_path, outbox_limit=settings.outbox_limit)
    if not store.has_content() and store.content_version is None:
        try:
            library = open_library(SAMPLE_LIBRARY)
        except LibraryInvalid as exc:
            # A broken bundled library must not stop `kiosk status` or crash-loop `kiosk run`: the
            # kiosk starts empty and says why; `kiosk import` or a sync fills it later.
            log.error("the bundled sample library is invalid, starting with no guides:\n%s", exc.report())
            print(f"Warning: the bundled sample library in {SAMPLE_LIBRARY} is invalid "
                  f"({len(exc.problems)} problem(s)), so this kiosk has no guides yet:\n{exc.report()}",
                  file=sys.stderr)
            return store
        store.import_library(library, content_version="sample")
        log.info("filled a new data dir from the sample library (%d guides)", len(library))
    return store


def status_report(settings: Settings, store: Store) -> dict:
    usage = shutil.disk_usage(settings.data_path)
    return {
        "device": settings.device,
        "app_version": __version__,
        "data_dir": str(settings.data_path),
        "content_version": store.content_version,
        "guides": store.guide_count(),
        "languages": store.languages(),
        "outbox_depth": store.outbox_depth(),
        "outbox_dropped": store.get_state("outbox_dropped", 0),
        "server_url": settings.server_url or None,
        "last_sync": store.get_state("last_sync"),
        "rejected_events": rejected_events(store),
        "free_disk_bytes": usage.free,
    }


def rejected_events(store: Store) -> int:
    return SyncTables(store).rejected_count()
