"""KioskApp: the Kivy application. The only module in kiosk/ that imports Kivy.

The store, the engine and the settings are built outside and handed in (as Electrum hands its
window the config and network): the app shows and forwards taps, the engine decides.
"""

from __future__ import annotations

import logging
import os

from kiosk.engine import SessionEngine
from kiosk.settings import Settings
from offline_cache.store import Store

log = logging.getLogger(__name__)


def run_app(settings: Settings, store: Store) -> int:
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.app import App
    from kivy.core.window import Window
    from kivy.metrics import dp
    from kivy.uix.boxlayout import BoxLayout
    from kivy.uix.button import Button
    from kivy.uix.label import Label
    from kivy.uix.scrollview import ScrollView

    engine = SessionEngine(store, settings.device, default_language=settings.default_language)

    class KioskApp(App):
        title = "Guide kiosk"

        def build(self):
            Window.fullscreen = "auto" if settings.fullscreen else False
            root = BoxLayout(orientation="vertical", padding=dp(16), spacing=dp(8))
            root.add_widget(Label(text="How can we help?", font_size="32sp", size_hint_y=None, height=dp(80)))
            scroll = ScrollView()
            column = BoxLayout(orientation="vertical", size_hint_y=None, spacing=dp(8))
            column.bind(minimum_height=column.setter("height"))
            for guide in store.list_guides(engine.language):
                column.add_widget(Button(text=guide.title, font_size="22sp", size_hint_y=None, height=dp(72)))
            scroll.add_widget(column)
            root.add_widget(scroll)
            return root

    KioskApp().run()
    return 0
