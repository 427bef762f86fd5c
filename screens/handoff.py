"""Handoff: a large QR code (and the short URL beside it) that carries this guide to a phone."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import StringProperty

from screens.widgets import KioskScreen


class HandoffScreen(KioskScreen):
    url = StringProperty("")

    def show(self, url: str, title: str) -> None:
        self.heading = title
        self.url = url


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
