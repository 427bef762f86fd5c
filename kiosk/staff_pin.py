"""The staff PIN against guessing, and the factory PIN that must be changed.

A 4-digit PIN falls to a patient guesser in minutes if every guess is free. The first
FREE_ATTEMPTS wrong PINs cost nothing (staff mistype); each one after that makes the pad wait,
FIRST_WAIT seconds and twice as long each time, at most MAX_WAIT: never a lock that needs an
engineer. While the pad waits it refuses every PIN, the right one too. The count and the deadline
live in the kiosk's store (sync_state 'staff_pin_attempts'), so restarting the app does not reset
them; the deadline is on the wall clock (it must outlive a reboot), and a clock set back cannot
stretch a wait past MAX_WAIT.

While the PIN is the factory 1234 (no PIN set, or one set to 1234), the right PIN opens staff mode
only to choose a new one, saved the way `kiosk config set-pin` saves it (kiosk/settings.py), and
the heartbeat tells the Fleet page (contract/heartbeat.py, default_pin).

No Kivy here: screens/staff.py calls this off the UI thread (scrypt takes ~50 ms).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiosk.settings import DEFAULT_PIN, Settings, save_staff_pin, valid_new_pin
from offline_cache.store import Store

log = logging.getLogger(__name__)

FREE_ATTEMPTS = 5  # wrong PINs before the pad waits
FIRST_WAIT = 30.0  # seconds after the 5th wrong PIN; doubles with each further one
MAX_WAIT = 300.0  # the cap: 5 minutes
STATE_KEY = "staff_pin_attempts"


class PinRefused(ValueError):
    """A new PIN staff mode cannot take; the message says why, in words for staff."""


@dataclass(frozen=True)
class PinCheck:
    ok: bool
    wait: float = 0.0  # seconds the pad waits before it takes another PIN
    must_change: bool = False  # the right PIN, but the factory one: choose a new PIN first


def wait_after(failures: int) -> float:
    """How long the pad waits after `failures` wrong PINs in a row."""
    if failures < FREE_ATTEMPTS:
        return 0.0
    return min(MAX_WAIT, FIRST_WAIT * 2 ** (failures - FREE_ATTEMPTS))


class PinGuard:
    def __init__(self, settings: Settings, store: Store, *, clock: Callable[[], float] = time.time):
        self.settings, self.store, self.clock = settings, store, clock

    def _state(self) -> tuple[int, float]:
        state = self.store.get_state(STATE_KEY) or {}
        failures, until = state.get("failures", 0), state.get("until", 0.0)
        if not isinstance(failures, int) or not isinstance(until, (int, float)):
            return 0, 0.0
        return failures, float(until)

    def wait_left(self) -> float:
        """Seconds until the pad takes a PIN again; 0 when it does now."""
        failures, until = self._state()
        left = until - self.clock()
        return max(0.0, min(left, wait_after(failures)))  # a clock set back cannot stretch it

    def check(self, pin: str) -> PinCheck:
        wait = self.wait_left()
        if wait > 0:
            return PinCheck(False, wait)
        if self.settings.check_staff_pin(pin):
            self.store.set_state(STATE_KEY, {"failures": 0, "until": 0.0})
            return PinCheck(True, must_change=pin == DEFAULT_PIN)
        failures = self._state()[0] + 1
        wait = wait_after(failures)
        self.store.set_state(STATE_KEY, {"failures": failures, "until": self.clock() + wait})
        log.warning("wrong staff PIN entered (%d in a row)%s", failures,
                    f"; the pad waits {wait:.0f} s" if wait else "")
        return PinCheck(False, wait)

    def set_new(self, pin: str) -> Path:
        """Save a new staff PIN in kiosk.toml, as `kiosk config set-pin` does; returns the file."""
        problem = valid_new_pin(pin)
        if problem:
            raise PinRefused(problem)
        path, pin_hash = save_staff_pin(self.settings.data_path, pin)
        self.settings.staff_pin_hash = pin_hash  # the running app (and its heartbeat) use it at once
        log.info("the staff PIN was changed in staff mode")
        return path
