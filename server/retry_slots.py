"""When to tell a refused kiosk to come back (429 + Retry-After).

After an outage a whole site reconnects in the same few seconds. Telling every refused kiosk the
same "Retry-After: 2" only moves the stampede two seconds on; handing out the next free place in a
queue at `retry_rate` a second is no better for a burst smaller than the rate (every refusal hears
"1", so the returns keep the burst's shape: bench_ingest.py once saw 19.7% of them in one second).

So this process keeps a count of the returns it has promised for each whole second ahead (on its
own clock: the second a reply's X-Server-Time falls in) and gives each refusal the earliest of the
least-promised seconds within a window. The window is at least `retry_window` seconds (75: no
second holds more than 1/75 of a burst's returns, under the issue's 2% even when two processes'
counts fall on the same seconds), and grows with what is promised and not yet due, to
`promised / retry_rate` seconds, so a backlog comes back at the pace the server stores it; it never
passes `retry_max_wait` (no kiosk is told to wait longer; past it the seconds hold more than
retry_rate). A lone refusal in a quiet minute still hears "1": the earliest empty second is the
next one. Each refusal going to a least-promised second, the window fills level by level, whatever
order the refusals come in: no second gets a second return before every second of the window has one.
Past the first level the least-promised second is picked at random, so that two processes (which
share nothing) do not both top up the same earliest seconds.

The kiosk waits Retry-After and then a random part of what is left of that second on the server's
clock (kiosk/sync/push.py retry_wait, from the 429's X-Server-Time), so its jitter spreads a
second's returns over that second and never pushes them into the next one, where they would pile
onto its own returns. Every process keeps its own counts (a fleet of N processes takes up to N x
retry_rate returns a second); nothing is shared, so a refusal costs no database write.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable


class RetrySlots:
    def __init__(self, rate: float, window: float = 75.0, max_wait: float = 600.0,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None):
        self.rate = max(rate, 0.01)
        self.window = max(1, math.ceil(window))
        self.max_wait = max(self.window, math.ceil(max_wait))
        self.clock = clock
        self.rng = rng or random.Random()
        self._promised: dict[int, int] = {}  # whole second -> returns promised in it
        self._total = 0  # sum of _promised
        self._start: int | None = None  # no second before this one is in _promised
        self._lock = threading.Lock()

    def retry_after(self) -> int:
        """Whole seconds until this refusal's second (at least 1); the place is taken."""
        with self._lock:
            this = math.floor(self.clock())
            self._forget_before(this + 1)
            width = min(self.max_wait, max(self.window, math.ceil((self._total + 1) / self.rate)))
            least, ties = math.inf, []
            for ahead in range(1, width + 1):
                n = self._promised.get(this + ahead, 0)
                if n == 0:  # the earliest empty second: a lone refusal hears "1"
                    ties = [ahead]
                    break
                if n < least:
                    least, ties = n, [ahead]
                elif n == least:
                    ties.append(ahead)
            # Past the first level, any of the least-promised seconds: several processes, which
            # do not share their counts, then top up different seconds rather than the same first ones.
            best = ties[0] if len(ties) == 1 else self.rng.choice(ties)
            self._promised[this + best] = self._promised.get(this + best, 0) + 1
            self._total += 1
        return best

    def promised(self) -> dict[int, int]:
        """Returns promised per whole second from now on (a copy, for tests and the bench)."""
        with self._lock:
            self._forget_before(math.floor(self.clock()) + 1)
            return dict(self._promised)

    def _forget_before(self, second: int) -> None:
        if self._start is None or second - self._start > self.max_wait + 1:  # first call, or the clock jumped on
            self._promised.clear()
            self._total = 0
            self._start = second
        while self._start < second:
            self._total -= self._promised.pop(self._start, 0)
            self._start += 1
