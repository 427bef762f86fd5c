"""Run by tests/ui/test_rtl_lines.py in a process of its own: Arabic sentences drawn by the kiosk's
own label (screens/widgets.py KLabel) in a real Kivy window of the portrait panel's size, with large
text, as the step's question (bold, the headline size) and as body text, each as wide as the
portrait step gives its question. Prints, as JSON, each label's text and the lines Kivy drew."""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("KIVY_NO_ARGS", "1")

from kivy.config import Config

Config.set("graphics", "width", "1080")  # the portrait panel, before the window exists
Config.set("graphics", "height", "1920")

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.uix.boxlayout import BoxLayout

from screens.devtools.probe import drawn_lines
from screens.theme import Theme, register_fonts


class Lines(App):
    def build(self):
        register_fonts()
        self.theme = Theme()
        self.theme.follow_window(Window)
        self.theme.large_text = True
        from screens.widgets import KLabel

        self.labels = []
        root = BoxLayout(orientation="vertical", padding=self.theme.pad)
        for text in json.loads(sys.argv[1]):
            for bold, size in ((True, self.theme.font_headline), (False, self.theme.font_body)):
                label = KLabel(raw=text, bold=bold, font_size=size)
                self.labels.append(label)
                root.add_widget(label)
        Clock.schedule_once(self.report, 0.3)
        return root

    def report(self, *_):
        out = []
        for label in self.labels:
            label.texture_update()

            out.append({"text": label.raw, "bold": label.bold, "width": label.width, "lines": drawn_lines(label),
                        "texture": list(label.texture_size)})
        print("LINES " + json.dumps(out, ensure_ascii=False), flush=True)
        self.stop()


if __name__ == "__main__":
    Lines().run()
