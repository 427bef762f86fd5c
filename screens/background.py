"""`run_in_background(work, done)`: the one way the UI does something slow; `LatestOnly`, the
same for work asked for again and again where only the newest answer matters (search as you type).

`work()` runs on a daemon thread, so a tap never waits on scrypt, SQLite, the network or a USB
drive; its result goes to `done(result)` on the UI thread (Kivy's Clock), where widgets may be
touched. An exception in `work` is logged with its traceback and handed on: to `failed(error)` on
the UI thread when the caller can say something useful (staff mode shows it), otherwise raised on
the UI thread, where the App's exception handler treats it like any error in a screen callback.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from kivy.clock import Clock

log = logging.getLogger(__name__)

T = TypeVar("T")


def run_in_background(work: Callable[[], T], done: Callable[[T], None], *,
                      failed: Callable[[Exception], None] | None = None, name: str = "background") -> threading.Thread:
    def on_ui_thread(call: Callable[[], None]) -> None:
        Clock.schedule_once(lambda _dt: call(), 0)

    def run() -> None:
        try:
            result = work()
        except Exception as exc:
            log.exception("%s failed", name)
            hand_on = failed or _raise
            on_ui_thread(lambda error=exc: hand_on(error))
            return
        on_ui_thread(lambda: done(result))

    thread = threading.Thread(target=run, daemon=True, name=name)
    thread.start()
    return thread


def _raise(exc: Exception) -> None:
    raise exc


class LatestOnly:
    """One worker thread for requests where only the newest counts: each `submit(work, done)`
    replaces the request still waiting, so however fast they come, one runs and at most one waits
    (a search per keystroke never queues behind the keystrokes before it). `done(result)` is
    called on the UI thread for the newest request only: a result that a newer request made stale
    by the time it came back is dropped. Errors go as in run_in_background."""

    def __init__(self, name: str):
        self.name = name
        self._cond = threading.Condition()
        self._waiting: tuple[int, Callable[[], object], Callable[[object], None]] | None = None
        self._latest = 0  # the number of the newest request; only its result is handed on
        self._thread: threading.Thread | None = None

    def submit(self, work: Callable[[], T], done: Callable[[T], None]) -> None:
        with self._cond:
            self._latest += 1
            self._waiting = (self._latest, work, done)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True, name=self.name)
                self._thread.start()
            self._cond.notify()

    def cancel(self) -> None:
        """Forget the request waiting and drop the result of the one running."""
        with self._cond:
            self._latest += 1
            self._waiting = None

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._waiting is None:
                    self._cond.wait()
                number, work, done = self._waiting
                self._waiting = None
            try:
                result = work()
            except Exception as exc:
                log.exception("%s failed", self.name)
                Clock.schedule_once(lambda _dt, error=exc, n=number: self._hand_on(n, _raise, error), 0)
                continue
            Clock.schedule_once(lambda _dt, r=result, n=number, d=done: self._hand_on(n, d, r), 0)

    def _hand_on(self, number: int, call: Callable, value) -> None:
        if number == self._latest:  # on the UI thread, where every submit happens too
            call(value)
