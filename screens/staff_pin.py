"""Staff PIN: a large number pad. The PIN is checked (scrypt, ~50 ms) off the UI thread."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty

from screens.widgets import KioskScreen

MAX_PIN = 12


class StaffPinScreen(KioskScreen):
    pin = StringProperty("")
    message = StringProperty("")
    checking = BooleanProperty(False)

    def on_activate(self) -> None:
        self.pin = ""
        self.message = ""
        self.checking = False

    def on_key(self, value: str) -> None:
        if self.checking:
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

    def _checked(self, ok: bool) -> None:
        self.checking = False
        self.pin = ""
        if ok:
            App.get_running_app().open_staff_status()
        else:
            self.message = App.get_running_app().t("Wrong PIN. Try again.")


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
