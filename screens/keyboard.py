"""The on-screen keyboard widget: it draws any layout of kiosk/keyboard.py and hands every tap to
that module's KeyboardState, which decides what the key types (Shift, symbols, accents, pinyin).

The seam with the kiosk-screen work (issue 12): this widget owns how the keyboard looks, the core
owns what it types. Every size is read from `key_height` and `key_gap` (set in keyboard.kv from the
theme, the one place to size the keys from the panel), and every key and pinyin candidate is a
KeyboardKey with a `probe_id` and a `spoken` name: what the audio mode says when it is focused.
"""

from __future__ import annotations

import logging
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.widget import Widget

from kiosk.i18n import shape
from kiosk.keyboard import (
    ACTION_NAMES,
    WORD_LABELS,
    Candidate,
    Key,
    KeyboardState,
    layout_for_language,
    load_layout,
)
from screens.background import run_in_background
from screens.theme import font_for
from screens.widgets import KLabel, ShapedText, line_width

log = logging.getLogger(__name__)

SHOWN = 12  # candidates in the bar (it scrolls sideways); the lexicon is asked for this many


class KeyboardKey(ShapedText, Button):
    """One key or candidate: a focusable, named control. `spoken` is what the audio mode says.
    Not a KButton: its kv rule sizes a button from its text (at least 72 dp), and a rule's binding
    stays even where a subclass rule sets the same property; a key is as tall as its row."""

    primary = BooleanProperty(False)

    spoken = StringProperty("")
    key = ObjectProperty(None, allownone=True)
    is_action = BooleanProperty(False)  # drawn in the button colour: Shift, Delete, Search ...
    # A long word on a narrow key ("Leertaste", "Ausblenden" in large text, "إخفاء لوحة المفاتيح" in
    # portrait) is drawn smaller until its widest word fits the key whole (a key's word is never
    # broken), then smaller again while its lines are taller than the key, down to FIT_FLOOR.
    fit_scale = NumericProperty(1.0)
    FIT_FLOOR = 0.6

    _fitted_for = 0.0  # the theme's size for this key when its words were last fitted

    def on_raw(self, *_):  # not on_text: the shaped text changes as the font shrinks
        self._fit_words()

    def on_text_size(self, *_):
        self._fit_words()

    def on_font_size(self, *_):
        if abs(self.font_size / self.fit_scale - self._fitted_for) > 0.5:  # the theme's size changed
            self._fit_words()

    def _fit_words(self) -> None:
        full = self._fitted_for = self.font_size / self.fit_scale  # the size the theme gives this key
        room = (self.text_size[0] or 0) - 2
        words = self.raw.split()
        widest = max((line_width(font_for(self.raw), full, self.bold)(shape(word)) for word in words), default=0)
        self.fit_scale = min(1.0, room / widest) if widest and room > 0 else 1.0

    def on_texture_size(self, _, texture_size):
        too_big = texture_size[1] > self.height * 0.95 or texture_size[0] > self.width
        if too_big and self.fit_scale > self.FIT_FLOOR:
            self.fit_scale = max(self.FIT_FLOOR, self.fit_scale * 0.85)


class OnScreenKeyboard(BoxLayout):
    """A keyboard of large keys. Typed text goes to `key_handler(text)` ("\\b" deletes one
    character); Search and Hide go to `action_handler("enter" | "hide")`. `composing` holds the
    pinyin letters being composed, for the field to show after its text."""

    language = StringProperty("en")  # the session's language: picks the first layout
    layout_name = StringProperty("en_qwerty")  # the layout shown now
    page = StringProperty("normal")
    composing = StringProperty("")
    candidates = ListProperty([])
    pinyin_state = StringProperty("")  # "", "loading", "ready", "failed"
    enter_label = StringProperty("Search")  # msgid of the Search key's word (feedback: "Done")
    key_handler = ObjectProperty(None)  # callable(str)
    action_handler = ObjectProperty(None, allownone=True)  # callable(str)
    # Sizes: the one place (keyboard.kv) that says how big a key is; issue 12 sizes it from the panel.
    key_height = NumericProperty(52)
    key_gap = NumericProperty(6)
    candidate_height = NumericProperty(52)
    shows_candidates = BooleanProperty(False)

    def __init__(self, **kwargs):
        self.state = KeyboardState(candidate_limit=SHOWN)
        self._candidate_keys: list[KeyboardKey] = []
        self._note_label = None
        # each page's keys, built once (~70 ms) and swapped in on Shift, ?123 or the accent key
        self._pages: dict[tuple[str, str], BoxLayout] = {}
        self._redraw = Clock.create_trigger(lambda *_: self.build_keys(), -1)
        super().__init__(**kwargs)
        app = App.get_running_app()
        app.fbind("lang", self._rebuild_all)  # the words on the keys are translated
        for name in ("key_height", "key_gap", "enter_label"):
            self.fbind(name, self._rebuild_all)
        self.reset()

    def _rebuild_all(self, *_) -> None:
        self._pages.clear()
        self._redraw()

    # --- what the host calls -------------------------------------------------------------------

    def reset(self, *_) -> None:
        """Back to the session language's keyboard, first page, nothing composed."""
        self.state.reset(layout_for_language(self.language))
        self._sync()

    def clear(self) -> None:
        """The field was emptied: forget the letters being composed, keep the keyboard."""
        self.state.composing, self.state.candidates = "", []
        self._sync()

    def commit(self) -> None:
        """Letters still composing are typed as they are."""
        self._apply(self.state.commit_composition())

    def on_language(self, *_):
        self.reset()

    def show_layout(self, name: str) -> None:
        self._apply(self.state.set_layout(name))

    # --- taps ------------------------------------------------------------------------------------

    def press(self, key: Key) -> None:
        self._apply(self.state.press(key))

    def choose(self, index: int) -> None:
        self._apply(self.state.choose(index))

    def _apply(self, effects) -> None:
        self._sync()
        for effect in effects:
            for _ in range(effect.delete):
                self._send("\b")
            if effect.text:
                self._send(effect.text)
            if effect.action and self.action_handler:
                self.action_handler(effect.action)

    def _send(self, text: str) -> None:
        if self.key_handler:
            self.key_handler(text)

    def _sync(self) -> None:
        """Copy the core's state into the widget's properties (the .kv and the host bind to them)."""
        state = self.state
        layout_changed = state.layout_name != self.layout_name or state.page != self.page
        self.layout_name, self.page = state.layout_name, state.page
        self.composing = state.composing
        self.candidates = list(state.candidates)
        self.shows_candidates = state.layout.ime == "pinyin"
        if self.shows_candidates and state.lookup is None and self.pinyin_state in ("", "failed"):
            self._load_pinyin()
        if layout_changed or not self.children:
            self._redraw()
        self._fill_candidates()

    # --- pinyin ----------------------------------------------------------------------------------

    def _load_pinyin(self) -> None:
        """The lexicon is opened (built, the first time on this kiosk) when the Chinese keyboard
        first shows, on a thread; until it is ready, letters type as letters."""
        lexicon = getattr(App.get_running_app(), "pinyin", None)
        if lexicon is None:
            return
        self.pinyin_state = "loading"

        def ready(opened):
            self.state.lookup = lambda letters, limit: [Candidate(w, n, kind) for w, n, kind in
                                                        opened.lookup(letters, limit)]
            self.pinyin_state = "ready"
            self._fill_candidates()

        def failed(error):
            log.error("the pinyin lexicon could not be opened: %s", error)
            self.pinyin_state = "failed"
            self._fill_candidates()

        run_in_background(lexicon.ensure_built, ready, failed=failed, name="pinyin-lexicon")

    def _fill_candidates(self) -> None:
        """The bar: the letters being composed, then up to SHOWN candidates. Its buttons are made
        once and relabelled on each keystroke (making 20 buttons per key cost ~20 ms a tap)."""
        bar = self.ids.get("candidates")
        if bar is None:
            return
        bar.clear_widgets()
        if not self.shows_candidates:
            return
        app = App.get_running_app()
        if self.pinyin_state == "loading":
            bar.add_widget(self._note(app.t("Loading Chinese characters\u2026")))
            return
        if self.composing:
            bar.add_widget(self._note(self.composing))
        pool = self._candidate_keys
        for i, cand in enumerate(self.candidates[:SHOWN]):
            if i == len(pool):
                pool.append(KeyboardKey(probe_id=f"candidate:{i}", size_hint_x=None,
                                        on_release=lambda _b, n=i: self.choose(n)))
            button = pool[i]
            button.raw = button.spoken = cand.text
            button.width = max(self.candidate_height * 1.3,
                               self.candidate_height * 0.55 * len(cand.text) + self.key_gap * 4)
            bar.add_widget(button)

    def _note(self, text: str):
        """The letters being composed (or "Loading ..."), at the start of the candidate bar."""
        if self._note_label is None:
            self._note_label = KLabel(size_hint=(None, None), pos_hint={"center_y": 0.5})
        label = self._note_label
        label.raw = text
        label.width = max(self.candidate_height * 2, label.font_size * 0.62 * len(text) + 16)
        return label

    # --- drawing ---------------------------------------------------------------------------------

    def build_keys(self) -> None:
        rows_box = self.ids.get("rows")
        if rows_box is None:
            return
        name = (self.state.layout_name, self.state.page)
        if name not in self._pages:
            self._pages[name] = self._build_page()
        rows_box.clear_widgets()
        rows_box.add_widget(self._pages[name])

    def _build_page(self) -> BoxLayout:
        layout = load_layout(self.state.layout_name)
        units = layout.units
        page = BoxLayout(orientation="vertical", spacing=self.key_gap, size_hint_y=None)
        page.bind(minimum_height=page.setter("height"))
        for row in self.state.rows():
            line = BoxLayout(spacing=self.key_gap, size_hint_y=None, height=self.key_height)
            used = sum(k.width for k in row)
            if used < units:
                line.add_widget(Widget(size_hint_x=(units - used) / 2))
            for key in row:
                label, spoken = self.describe(key)
                line.add_widget(KeyboardKey(raw=label, spoken=spoken, key=key, probe_id=key.probe_id,
                                            size_hint_x=key.width, is_action=key.code in ACTION_NAMES,
                                            primary=self._lit(key),
                                            on_release=lambda b: self.press(b.key)))
            if used < units:
                line.add_widget(Widget(size_hint_x=(units - used) / 2))
            page.add_widget(line)
        return page

    def _lit(self, key: Key) -> bool:
        page = self.state.page
        return (key.code == "shift" and page in ("shift", "accent_shift")) or (
            key.code == "accent" and page.startswith("accent"))

    def describe(self, key: Key) -> tuple[str, str]:
        """(the label drawn, the name spoken) of a key: letters as themselves, actions as
        translated words (the same word drawn and spoken, where the key shows a word)."""
        app = App.get_running_app()
        if key.code == "enter":
            word = app.t(self.enter_label)
            return word, word
        if key.code in WORD_LABELS:
            word = app.t(ACTION_NAMES[key.code])
            return word, word
        if key.code == "layout":
            nxt = load_layout(self.state.next_layout_name()).title
            return nxt, app.t("Next keyboard: {name}").format(name=nxt)
        if key.code == "special":
            return key.label, app.t("Letters" if self.state.page == "special" else "Symbols")
        if key.code == "accent":
            return key.label, app.t("Letters" if self.state.page.startswith("accent") else "Accents")
        return key.label, key.label


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
