"""Thanks: a short goodbye, then back to home on its own."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder

from screens.widgets import KioskScreen

BACK_HOME_AFTER = 8.0


class ThanksScreen(KioskScreen):
    _event = None

    def on_activate(self) -> None:
        self._event = Clock.schedule_once(lambda *_: App.get_running_app().go_home(), BACK_HOME_AFTER)

    def on_deactivate(self) -> None:
        if self._event:
            self._event.cancel()


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
