"""Thanks: a short goodbye that ends the session on its own, so the next person starts afresh
(the attract loop, the default language, every accessibility mode off, nothing typed kept).

`kind` says what is thanked: "helped" (the guide helped; "Tell us more" is offered), "feedback"
(stars or a comment were sent) or "plain" (an empty Send is not thanked as feedback).
"""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import OptionProperty

from screens.widgets import KioskScreen


class ThanksScreen(KioskScreen):
    kind = OptionProperty("feedback", options=["helped", "feedback", "plain"])
    _event = None

    def on_activate(self) -> None:
        app = App.get_running_app()
        self._event = Clock.schedule_once(lambda *_: app.finish_session(), app.settings.thanks_timeout)

    def on_deactivate(self) -> None:
        if self._event:
            self._event.cancel()
            self._event = None


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
