"""When to tell a refused kiosk to come back (429 + Retry-After).

After an outage a whole site reconnects in the same few seconds. Telling every refused kiosk the
same "Retry-After: 2" only moves the stampede two seconds on. Instead each refusal is given the
next free place in a queue of seconds: this process promises at most `retry_rate` returns per
second (server setting retry_rate, near what one process stores per second), so a thousand
refusals in one second become returns spread evenly over the next 1000 / retry_rate seconds, at
the pace the server can take them. Every process keeps its own queue (a fleet of N processes
takes N x retry_rate returns a second); nothing is shared, so a refusal costs no database write.
The kiosk adds up to a second of its own jitter (kiosk/sync/push.py), so one second's returns
do not all arrive at its first millisecond.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RetrySlots:
    def __init__(self, rate: float, clock: Callable[[], float] = time.time):
        self.spacing = 1.0 / max(rate, 0.01)
        self.clock = clock
        self._next = 0.0  # the earliest time no refusal has been promised yet
        self._lock = threading.Lock()

    def retry_after(self) -> int:
        """Whole seconds until this refusal's place (at least 1); the place is taken."""
        with self._lock:
            now = self.clock()
            slot = self._next = max(self._next, now + 1.0)
            self._next += self.spacing
        return max(1, math.floor(slot - now))
