"""Outcome: the guide's answer (resolved, or escalate: where to find a person) and "Did this help?"."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import ObjectProperty, StringProperty

from screens.widgets import KioskScreen


class OutcomeScreen(KioskScreen):
    view = ObjectProperty(None, allownone=True)
    outcome = StringProperty("resolved")

    def show(self, view) -> None:
        app = App.get_running_app()
        self.view = view
        self.heading = view.guide_title
        self.outcome = view.outcome or "resolved"
        self.ids.text.raw = view.text
        self.ids.image.show(app.image_for(view), view.image_alt)
        self.ids.text_scroll.scroll_y = 1

    def refresh(self) -> None:
        app = App.get_running_app()
        if app.engine.position is not None and self.view is not None:
            self.show(app.engine.current())


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
