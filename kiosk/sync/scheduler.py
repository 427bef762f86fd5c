"""The background thread: rounds on start, on a timer, on demand and when the server answers again."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from kiosk.sync.results import OFFLINE
from kiosk.sync.timing import backoff_delay

if TYPE_CHECKING:
    import random

    from kiosk.sync.service import Transport

log = logging.getLogger("kiosk.sync")


class SchedulerMixin:
    """SyncService's background loop: it calls the service's sync_once() and heartbeat(). What else
    it uses of the service is declared here; SyncService.__init__ sets it."""

    transport: Transport
    interval: float
    heartbeat_seconds: float
    pending_retry: float
    probe_cap: float
    rng: random.Random
    _stop: threading.Event
    _wake: threading.Event
    _requested: bool
    _thread: threading.Thread | None
    _not_before: float

    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="kiosk-sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)

    def request_sync(self) -> None:
        """Staff mode's "Sync now": a round as soon as the thread is free."""
        self._requested = True
        self._wake.set()

    @property
    def running(self) -> bool:
        return bool(self._thread and self._thread.is_alive())

    def _loop(self) -> None:
        next_sync = time.monotonic()  # a round on start
        next_beat = next_sync + self.heartbeat_seconds
        next_probe: float | None = None  # set while the server is unreachable
        failures = 0
        while not self._stop.is_set():
            now = time.monotonic()
            try:
                if self._requested or (next_probe is None and now >= max(next_sync, self._not_before)):
                    self._requested = False
                    result = self.sync_once()
                    now = time.monotonic()
                    next_beat = now + self.heartbeat_seconds
                    if result.result == OFFLINE and now >= self._not_before:
                        failures = 1
                        next_probe = now + backoff_delay(1, 1.0, self.probe_cap, self.rng) + 1.0
                    else:
                        failures, next_probe = 0, None
                        next_sync = now + (min(self.interval, self.pending_retry) if result.content_pending
                                           else self.interval)
                elif next_probe is not None and now >= next_probe:
                    if self.transport.health():
                        log.info("the server answers again: syncing now")
                        next_probe, failures = None, 0
                        next_sync = now
                        continue
                    failures += 1
                    next_probe = now + 1.0 + backoff_delay(failures, 1.0, self.probe_cap, self.rng)
                elif next_probe is None and now >= next_beat:
                    self.heartbeat()
                    next_beat = now + self.heartbeat_seconds
            except Exception:  # never let the sync thread die
                log.exception("sync scheduler step failed")
                next_sync = time.monotonic() + self.interval
            deadlines = [next_probe if next_probe is not None else max(next_sync, self._not_before)]
            if next_probe is None:
                deadlines.append(next_beat)
            timeout = max(0.0, min(deadlines) - time.monotonic())
            self._wake.wait(timeout)
            self._wake.clear()

