"""Attract: the idle loop. It invites a tap in each of the library's languages in turn. Each
language's name is a button that starts in that language; a touch anywhere else starts in the
language on show; Accessibility (low, beside the languages) opens the modes before a session."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import NumericProperty, StringProperty

from screens.widgets import KioskScreen

CYCLE_SECONDS = 2.5


class AttractScreen(KioskScreen):
    shown_lang = StringProperty("en")
    cycle_index = NumericProperty(0)
    _event = None

    def on_activate(self) -> None:
        # one button per language: each name needs its own script's font
        from screens.widgets import LanguageButton

        app = App.get_running_app()
        self.ids.logo.show(app.logo)
        row = self.ids.langs
        row.clear_widgets()
        for code, name in zip(app.languages, app.native_names, strict=True):
            row.add_widget(LanguageButton(raw=name, code=code, probe_id=f"lang:{code}",
                                          on_release=lambda _b, c=code: app.start_session(c)))
        self.cycle_index = 0
        self._show()
        self._event = Clock.schedule_interval(self._next, CYCLE_SECONDS)

    def on_deactivate(self) -> None:
        if self._event:
            self._event.cancel()
            self._event = None

    def _next(self, *_):
        self.cycle_index += 1
        self._show()

    def _show(self):
        langs = App.get_running_app().languages or ["en"]
        self.shown_lang = langs[self.cycle_index % len(langs)]

    def on_touch_down(self, touch):
        if super().on_touch_down(touch):  # a language or Accessibility
            return True
        App.get_running_app().start_session(self.shown_lang)
        return True


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
