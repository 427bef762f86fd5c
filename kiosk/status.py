"""What a kiosk knows about itself, for `kiosk status`, staff mode and the heartbeat: the store
of a data dir (filled from the sample library when new, rebuilt when damaged) and a status report
of it."""

from __future__ import annotations

import logging
import shutil
import sys

from contract.bundle import open_library
from contract.guides import LibraryInvalid
from kiosk import __version__
from kiosk.paths import SAMPLE_LIBRARY
from kiosk.settings import Settings
from offline_cache.recovery import last_recovery, open_or_rebuild
from offline_cache.store import Store
from offline_cache.sync_tables import SyncTables

log = logging.getLogger("kiosk")


def open_store(settings: Settings, *, seed: bool = True) -> Store:
    """The store for this data dir. A damaged kiosk.db is moved aside and rebuilt, keeping the
    events that can still be read (offline_cache/recovery.py), and the operator is told. A new (or
    rebuilt) store is filled from the bundled sample library unless seed=False (`kiosk import` and
    `kiosk sync` fill it themselves), so a kiosk that has never seen a server has guides to show."""
    store, recovery = open_or_rebuild(settings.db_path, settings.outbox_limit)
    if recovery is not None:
        lost = "an unknown number" if recovery.outbox_lost is None else recovery.outbox_lost
        print(f"Warning: the kiosk's database {settings.db_path} was damaged; it was moved to "
              f"{recovery.moved_to} and a new one started ({recovery.outbox_kept} waiting events kept, "
              f"{lost} lost). `kiosk status` keeps saying so.", file=sys.stderr)
    if seed and not store.has_content() and store.content_version is None:
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
        "content_digest": store.content_digest(),  # contract/digest.py: the one kiosk-server export prints
        "group": store.get_state("content_group"),  # the rollout group its server's manifest named
        "epoch": store.get_state("content_epoch", 0),
        "guides": store.guide_count(),
        "languages": store.languages(),
        "outbox_depth": store.outbox_depth(),
        "outbox_dropped": store.get_state("outbox_dropped", 0),
        "server_url": settings.server_url or None,
        "last_sync": store.get_state("last_sync"),
        "rejected_events": rejected_events(store),
        "free_disk_bytes": usage.free,
        "recovered": recovery.as_dict() if (recovery := last_recovery(store)) else None,
    }


def rejected_events(store: Store) -> int:
    return SyncTables(store).rejected_count()
