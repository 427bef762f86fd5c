"""`run_in_background(work, done)`: the one way the UI does something slow.

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
