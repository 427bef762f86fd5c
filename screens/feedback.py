"""Feedback: 1-5 stars and an optional comment typed on the on-screen keyboard."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from screens.widgets import KioskScreen

MAX_COMMENT = 300


class FeedbackScreen(KioskScreen):
    helped = BooleanProperty(True)
    rating = NumericProperty(0)  # 0: no stars given
    comment = StringProperty("")

    def reset(self, helped: bool) -> None:
        self.helped = helped
        self.rating = 0
        self.comment = ""

    def on_key(self, char: str) -> None:
        if char == "\b":
            self.comment = self.comment[:-1]
        elif len(self.comment) < MAX_COMMENT:
            self.comment += char

    def on_text_input(self, text: str) -> None:
        """A hardware keyboard, when one is fitted, types into the comment too."""
        for ch in text:
            self.on_key(ch)

    def send(self) -> None:
        App.get_running_app().send_feedback(int(self.rating) if self.rating else None, self.comment)


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
