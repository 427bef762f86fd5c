"""Time on the kiosk: the wall clock can jump, the monotonic clock cannot.

NTP stepping a clock that booted wrong, an operator setting it, a dead RTC battery: the wall clock
(time.time) of a kiosk jumps, hours at a time. The monotonic clock (`monotonic()` here:
CLOCK_BOOTTIME) only moves forward at the rate of real time, but it starts again at each boot. So:

- the session engine (kiosk/engine.py) records each event's time as the wall-clock reading taken
  when the session started plus the monotonic time since, and keeps the raw wall reading beside
  it when the two disagree by more than STEP_TOLERANCE (a step);
- `ServerClock` learns the server's time from its replies against the monotonic clock, so a sample
  taken before a step stays true after it, and the sync client (kiosk/sync/push.py) asks it for
  the offset that turns an event's recorded time into server time, for events of this boot.
Every clock is injected, so the tests move them.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Wall and monotonic clocks disagreeing by more than this (seconds) is a step, not jitter or an
# NTP slew (at most 0.5 ms per second).
STEP_TOLERANCE = 2.0
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def monotonic() -> float:
    """Seconds on a clock that never steps: Linux's CLOCK_BOOTTIME, which (unlike time.monotonic)
    also counts time suspended, so an event after a suspend is not placed too early; elsewhere
    time.monotonic. The engine and the transport must read the same one."""
    return time.clock_gettime(_BOOTTIME) if _BOOTTIME is not None else time.monotonic()


_BOOTTIME = getattr(time, "CLOCK_BOOTTIME", None)


@cache
def boot_id() -> str:
    """This boot's id: the monotonic clock's readings compare only within one boot. Where Linux's
    boot id is missing, one per process (readings of an earlier process then count as another boot)."""
    try:
        return _BOOT_ID.read_text().strip() or secrets.token_hex(8)
    except OSError:
        return secrets.token_hex(8)


class ServerClock:
    """What the server's clock reads, learnt from its replies (X-Server-Time).

    Each sample is the server's time minus the middle of the request's round trip on the monotonic
    clock; of the recent samples the one with the shortest round trip wins (a slow reply says
    least about when the server stamped it). Because samples are on the monotonic clock, a step of
    the wall clock does not make them stale."""

    def __init__(self, *, wall: Callable[[], float] = time.time, monotonic: Callable[[], float] = monotonic,
                 boot: str | None = None, window: int = 8):
        self.wall, self.monotonic = wall, monotonic
        self.boot = boot or boot_id()
        self._samples: list[tuple[float, float]] = []  # (round trip, server time - monotonic)
        self._window = window
        self._lock = threading.Lock()
        self._wall_minus_mono: float | None = None

    def add(self, server_time: float, sent_mono: float, received_mono: float) -> None:
        rtt = max(received_mono - sent_mono, 0.0)
        with self._lock:
            self._samples.append((rtt, server_time - (sent_mono + received_mono) / 2))
            del self._samples[:-self._window]
        self._notice_step()

    def _notice_step(self) -> None:
        """Log a step of the wall clock once, when a reply shows it: staff reading the log then
        know why some events carry a raw time that differs from their recorded one."""
        drift = self.wall() - self.monotonic()
        before, self._wall_minus_mono = self._wall_minus_mono, drift
        if before is not None and abs(drift - before) > STEP_TOLERANCE:
            log.warning("the kiosk's wall clock stepped by %+.1f s; event times follow the monotonic clock",
                        drift - before)

    def server_time_at(self, mono: float) -> float | None:
        """The server's time at monotonic reading `mono` of this boot; None before any reply."""
        with self._lock:
            if not self._samples:
                return None
            return mono + min(self._samples)[1]

    @property
    def offset(self) -> float | None:
        """How far the wall clock is behind the server's right now, in seconds."""
        server = self.server_time_at(self.monotonic())
        return None if server is None else server - self.wall()

    def offset_for(self, event: dict[str, Any]) -> float | None:
        """The offset that turns this event's kiosk_time into server time. An event of this boot
        is placed on the monotonic clock (exact, whatever the wall clock did since); an event of
        an earlier boot gets the wall clock's offset known now."""
        local = event.get("_clock")
        if isinstance(local, dict) and local.get("boot") == self.boot and isinstance(local.get("mono"), (int, float)):
            server = self.server_time_at(local["mono"])
            if server is not None:
                return server - event["kiosk_time"]
        return self.offset
