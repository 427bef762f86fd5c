"""Staff mode's first stop while the staff PIN is the factory 1234: choose a new one, entered twice
(kiosk/staff_pin.py). It is saved the way `kiosk config set-pin` saves it, off the UI thread; then
staff mode opens. Cancel leaves staff mode without it."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import BooleanProperty, StringProperty

from kiosk.settings import valid_new_pin
from screens.staff_pin import MAX_PIN
from screens.widgets import KioskScreen

FIRST_PROMPT = "This kiosk still has the factory PIN 1234. Enter a new PIN of 4 to 12 digits."
AGAIN_PROMPT = "Enter the new PIN again"


class StaffNewPinScreen(KioskScreen):
    pin = StringProperty("")
    first = StringProperty("")  # the new PIN as entered the first time; "" while asking for it
    prompt = StringProperty(FIRST_PROMPT)  # untranslated: the kv translates it with app.lang
    message = StringProperty("")
    saving = BooleanProperty(False)

    def on_activate(self) -> None:
        self.pin = self.first = self.message = ""
        self.prompt = FIRST_PROMPT
        self.saving = False

    def on_key(self, value: str) -> None:
        if self.saving:
            return
        if value == "\b":
            self.pin = self.pin[:-1]
        elif value == "\n":
            if self.pin:
                self._entered(self.pin)
        elif len(self.pin) < MAX_PIN:
            self.pin += value
            self.message = ""

    def _entered(self, pin: str) -> None:
        app = App.get_running_app()
        self.pin = ""
        if not self.first:
            problem = valid_new_pin(pin)
            if problem:
                self.message = app.t(problem)
                return
            self.first, self.prompt = pin, AGAIN_PROMPT
            return
        if pin != self.first:
            self.first, self.prompt = "", FIRST_PROMPT
            self.message = app.t("The two PINs were not the same. Enter the new PIN again from the start.")
            return
        self.saving = True
        self.message = app.t("Saving\u2026")
        app.staff.set_new_pin(pin, self._saved)

    def _saved(self, problem: str | None) -> None:
        self.saving = False
        self.first, self.prompt = "", FIRST_PROMPT
        if problem:
            self.message = problem
            return
        App.get_running_app().open_staff_status()


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
