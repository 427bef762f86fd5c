"""Feedback: 1-5 stars and an optional comment typed on the on-screen keyboard."""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from screens.keyboard import OnScreenKeyboard  # noqa: F401 (feedback.kv draws it)
from screens.widgets import KioskScreen

MAX_COMMENT = 300


class FeedbackScreen(KioskScreen):
    helped = BooleanProperty(True)
    rating = NumericProperty(0)  # 0: no stars given
    comment = StringProperty("")
    keyboard_shown = BooleanProperty(True)

    def reset(self, helped: bool) -> None:
        self.helped = helped
        self.rating = 0
        self.comment = ""
        self.keyboard_shown = True
        if "keyboard" in self.ids:
            self.ids.keyboard.reset()

    def on_key(self, char: str) -> None:
        if char == "\b":
            self.comment = self.comment[:-1]
        elif char:
            self.comment = (self.comment + char)[:MAX_COMMENT]

    def on_keyboard_action(self, action: str) -> None:
        """Done and Hide both put the keyboard away; the Keyboard button brings it back."""
        self.keyboard_shown = False

    def on_text_input(self, text: str) -> None:
        """A hardware keyboard, when one is fitted, types into the comment too."""
        for ch in text:
            self.on_key(ch)

    def send(self) -> None:
        self.ids.keyboard.commit()  # pinyin letters still composing are sent as they are
        App.get_running_app().send_feedback(int(self.rating) if self.rating else None, self.comment)


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
