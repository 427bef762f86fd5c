"""The heartbeat: what the Fleet page knows about this kiosk."""

from __future__ import annotations

import logging
import shutil
import time

from kiosk.transport import TransportError

log = logging.getLogger("kiosk.sync")


class HeartbeatMixin:
    """SyncService's heartbeat."""

    def heartbeat(self) -> bool:
        last = self.store.get_state("last_sync") or {}
        version = self.store.content_version
        beat = {
            "content_version": int(version) if version and version.isdigit() else version,
            "outbox_depth": self.store.outbox_depth(),
            "last_sync_result": {k: last.get(k) for k in ("result", "at", "error", "content_version")},
            "app_version": self.app_version,
            "free_disk": shutil.disk_usage(self.data_dir).free,
            "uptime": round(time.monotonic() - self.started_at, 1),
        }
        try:
            self.transport.post_heartbeat(beat)
            return True
        except TransportError as exc:
            log.info("heartbeat not delivered: %s", exc)
            return False

