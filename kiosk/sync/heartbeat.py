"""The heartbeat: what the Fleet page knows about this kiosk, as the contract's Heartbeat model
(contract/heartbeat.py), the same model the server validates and the Fleet page reads."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from contract.heartbeat import Heartbeat, LastSync, Recovered
from kiosk.transport import TransportError
from offline_cache.recovery import last_recovery
from offline_cache.store import Store
from offline_cache.sync_tables import SyncTables

if TYPE_CHECKING:
    from kiosk.sync.service import Transport

log = logging.getLogger("kiosk.sync")

# LastSync.error's max_length: a longer error would make the model (and the server) refuse the
# whole heartbeat, and the Fleet page would lose the one kiosk whose problem it should show.
ERROR_CHARS = 1000


def build_heartbeat(store: Store, app_version: str, data_dir: Path, uptime: float, *,
                    default_pin: bool = False) -> Heartbeat:
    last = store.get_state("last_sync") or {}
    version = store.content_version
    error = last.get("error")
    recovery = last_recovery(store)
    return Heartbeat(
        content_version=int(version) if version and version.isdigit() else version,
        outbox_depth=store.outbox_depth(),
        last_sync_result=LastSync(result=last.get("result"), at=last.get("at"),
                                  error=error[:ERROR_CHARS] if isinstance(error, str) else None,
                                  content_version=last.get("content_version")),
        app_version=app_version,
        free_disk=shutil.disk_usage(data_dir).free,
        uptime=round(uptime, 1),
        rejected_events=SyncTables(store).rejected_count(),
        default_pin=True if default_pin else None,
        recovered=Recovered(**recovery.as_dict()) if recovery else None,
    )


class HeartbeatMixin:
    """SyncService's heartbeat. What it uses of the service is declared here."""

    store: Store
    transport: Transport
    app_version: str
    data_dir: Path
    started_at: float
    uses_default_pin: Callable[[], bool] | None  # is the staff PIN still the factory one?

    def heartbeat(self) -> bool:
        beat = build_heartbeat(self.store, self.app_version, self.data_dir, time.monotonic() - self.started_at,
                               default_pin=bool(self.uses_default_pin and self.uses_default_pin()))
        try:
            self.transport.post_heartbeat(beat)
            return True
        except TransportError as exc:
            log.info("heartbeat not delivered: %s", exc)
            return False
