"""What a sync round ended with: the outcome constants, the stages a round reports progress
for, the result `kiosk status` and the heartbeat show, and the counters one round keeps."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger("kiosk.sync")

# What a round ended with, as `kiosk status` and the heartbeat report it.
OK, UNCHANGED, OFFLINE, REJECTED, UNAUTHORIZED, ERROR, BUSY = (
    "ok", "unchanged", "offline", "rejected", "unauthorized", "error", "busy")
_SEVERITY = {UNCHANGED: 0, OK: 1, OFFLINE: 2, ERROR: 3, REJECTED: 4, UNAUTHORIZED: 5}

ProgressCallback = Callable[[str, int, int], None]  # (stage, done, total); stages below
STAGES = ("events", "manifest", "guides", "images")  # in the order a round runs them


@dataclass
class SyncResult:
    result: str
    at: str
    error: str | None = None
    content_version: str | None = None
    content_changed: bool = False
    content_pending: str | None = None  # downloaded and verified, waiting for may_switch()
    pull: str = UNCHANGED
    push: str = UNCHANGED
    guides_downloaded: int = 0
    images_downloaded: int = 0
    bytes_downloaded: int = 0
    events_sent: int = 0
    events_rejected: int = 0
    outbox_depth: int = 0
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.result in (OK, UNCHANGED)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class _Round:
    """Counters of one round, and the progress callback."""

    progress: ProgressCallback | None
    guides: int = 0
    images: int = 0
    bytes: int = 0
    events_sent: int = 0
    events_rejected: int = 0
    changed: bool = False
    pending: str | None = None

    def report(self, stage: str, done: int, total: int) -> None:
        if self.progress:
            try:
                self.progress(stage, done, total)
            except Exception:  # a broken progress display must not break sync
                log.exception("progress callback failed")
