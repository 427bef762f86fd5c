"""After "it didn't help": where a person is (from the library, per site and guide, or the guide's
own `help`: kiosk/people.py), "Continue on your phone" and "Tell us more". Never a dead end."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import StringProperty

from screens.widgets import KioskScreen


class PersonScreen(KioskScreen):
    place = StringProperty("")  # the library's sentence; "" for the general one

    def show(self, place: str | None) -> None:
        self.place = place or ""

    def refresh(self) -> None:
        app = App.get_running_app()
        if app.engine.position is not None and self.manager and self.manager.current == self.name:
            self.show(app.where_to_find_a_person())


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
