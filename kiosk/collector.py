"""Garbage collection away from the customer's taps (issue 16, "No stalls").

A started kiosk holds ~220k objects that live as long as it does (modules, kv rules, the screens,
the content's caches); CPython's automatic full collection walks all of them, and stopped the UI
for 100-200 ms about once every four sessions, under someone's finger. So:

- `settled()`, once the kiosk has started and its content is loaded: one full collection, then
  `gc.freeze()` moves every survivor to the permanent generation, which no collection walks again;
  the thresholds are tuned so young collections stay small and frequent (`GEN0`, `GEN1`) and the
  automatic full collection comes only as a far safety net (`GEN2`).
- `between_sessions(content_changed)`, when a session has ended (the attract loop is back): the
  full collection of what the sessions left (the unfrozen objects only, a few milliseconds); after
  new content, the frozen objects are thawed first, so the old content's cycles are freed too, and
  what survives is frozen again.

`pauses` keeps each collection's duration and generation (gc.callbacks), for the log and
bench/bench_ui.py. The core never imports the UI: screens/app.py calls these.
"""

from __future__ import annotations

import gc
import logging
import time
from collections import deque

log = logging.getLogger(__name__)

# young collections every GEN0 net allocations (CPython's default 700 runs them more often than a
# frame needs; each stays well under a millisecond); the middle generation every GEN1 of them, so it
# never walks more than ~20k objects (at 5000/20 it walked 100k: tens of ms)
GEN0, GEN1 = 2000, 10
# the automatic full collection: only after GEN2 middle ones (~ a hundred million allocations);
# between_sessions() does it first, at a moment no customer is waiting
GEN2 = 1000


class Collector:
    def __init__(self, *, tune: bool = True, keep: int = 4096):
        self.tune = tune  # False: record the pauses only (CPython's own settings, for a comparison)
        # (generation, ms, whether settled()/between_sessions() asked for it) of each collection
        self.pauses: deque[tuple[int, float, bool]] = deque(maxlen=keep)
        self._explicit = False
        self.settled_at: float | None = None
        self._started: float | None = None
        if self._record not in gc.callbacks:
            gc.callbacks.append(self._record)

    def _record(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.thread_time()
        elif self._started is not None:
            # CPU time of the collecting thread: the work a collection is, whatever else the machine
            # does meanwhile (on a loaded machine wall-clock figures mostly measure the others)
            self.pauses.append((info.get("generation", -1), (time.thread_time() - self._started) * 1000,
                                self._explicit))
            self._started = None

    def settled(self) -> float:
        """The kiosk has started and loaded its content: collect, freeze, tune. Returns the ms.
        The pauses recorded so far (the start's) are forgotten: `pauses` is the running kiosk's."""
        self.pauses.clear()
        if not self.tune:
            return 0.0
        started = time.perf_counter()
        self._explicit = True
        try:
            gc.collect()
        finally:
            self._explicit = False
        gc.freeze()
        gc.set_threshold(GEN0, GEN1, GEN2)
        self.settled_at = time.monotonic()
        ms = (time.perf_counter() - started) * 1000
        log.info("garbage collection: %d objects frozen in %.0f ms; thresholds %d/%d/%d",
                 gc.get_freeze_count(), ms, GEN0, GEN1, GEN2)
        return ms

    def between_sessions(self, content_changed: bool = False) -> float:
        """A session has ended: the full collection now, not under the next customer's finger.
        Returns the ms it took."""
        if not self.tune:
            return 0.0
        started = time.perf_counter()
        self._explicit = True
        try:
            if content_changed or self.settled_at is None:
                gc.unfreeze()  # the old content's objects may be garbage now: let the collection see them
                gc.collect()
                gc.freeze()
                if self.settled_at is None:
                    gc.set_threshold(GEN0, GEN1, GEN2)
                    self.settled_at = time.monotonic()
            else:
                gc.collect()  # walks the unfrozen objects only: what the sessions made
        finally:
            self._explicit = False
        ms = (time.perf_counter() - started) * 1000
        log.debug("garbage collection between sessions: %.1f ms (%d frozen)", ms, gc.get_freeze_count())
        return ms

    def worst(self, generation: int | None = None, *, explicit: bool = False) -> float:
        """The longest automatic pause recorded (of one generation, or of any); with `explicit`,
        the longest of those settled() and between_sessions() asked for."""
        return max((ms for gen, ms, asked in self.pauses
                    if asked == explicit and (generation is None or gen == generation)), default=0.0)

    def close(self) -> None:
        if self._record in gc.callbacks:
            gc.callbacks.remove(self._record)
