"""Staff PIN: a large number pad. The PIN is checked (scrypt, ~50 ms) off the UI thread.

After too many wrong PINs the pad waits (kiosk/staff_pin.py): it says for how long, counts down,
and takes no digit until then. The countdown asks the store each second, so the wait it shows is
the one a restart of the app would show too.
"""

from __future__ import annotations

import math
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty

from screens.widgets import KioskScreen

MAX_PIN = 12


class StaffPinScreen(KioskScreen):
    pin = StringProperty("")
    message = StringProperty("")
    checking = BooleanProperty(False)
    waiting = BooleanProperty(False)  # too many wrong PINs: the pad takes nothing until the wait is over

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._countdown = None

    def on_activate(self) -> None:
        self.pin = ""
        self.message = ""
        self.checking = False
        App.get_running_app().staff.pin_wait(self._show_wait)

    def on_deactivate(self) -> None:
        self._stop_countdown()

    def on_key(self, value: str) -> None:
        if self.checking or self.waiting:
            return
        if value == "\b":
            self.pin = self.pin[:-1]
        elif value == "\n":
            if self.pin:
                self.checking = True
                self.message = App.get_running_app().t("Checking\u2026")
                App.get_running_app().staff.check_pin(self.pin, self._checked)
        elif len(self.pin) < MAX_PIN:
            self.pin += value
            self.message = ""

    def _checked(self, result) -> None:
        self.checking = False
        self.pin = ""
        app = App.get_running_app()
        if result.ok:
            if result.must_change:
                app.open_staff_new_pin()
            else:
                app.open_staff_status()
        elif result.wait > 0:
            self._show_wait(result.wait)
        else:
            self.message = app.t("Wrong PIN. Try again.")

    # --- the wait after too many wrong PINs -----------------------------------------------------

    def _show_wait(self, seconds: float) -> None:
        if self.manager is None or self.manager.current != self.name:  # an answer for a pad left meanwhile
            self._stop_countdown()
            return
        if seconds <= 0:
            if self.waiting:
                self.waiting = False
                self.message = ""
            self._stop_countdown()
            return
        self.waiting = True
        self.pin = ""
        self.message = App.get_running_app().t(
            "Too many wrong PINs. Try again in {seconds} seconds.").format(seconds=math.ceil(seconds))
        if self._countdown is None:
            self._countdown = Clock.schedule_interval(self._tick, 1.0)

    def _tick(self, _dt) -> None:
        App.get_running_app().staff.pin_wait(self._show_wait)

    def _stop_countdown(self) -> None:
        if self._countdown is not None:
            self._countdown.cancel()
            self._countdown = None


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
