"""The on-screen keyboards' data and what each key types, with no Kivy: the widget in
screens/widgets.py only draws `KeyboardState.rows()` and hands every tap back to `press()`.

Layouts are JSON files in kiosk/keyboards/, in the format Kivy's own VKeyboard reads
(kivy/data/keyboards: `title`, `description`, `cols`, `rows`, and for each page and row
`"<page>_<n>": [[label, text, keycode, width], ...]`). Kivy's pages are `normal`, `shift` and
`special` (the symbols page); this kiosk adds an `accent` page (accented letters of the language)
and one optional field, `ime`: `"pinyin"` composes Chinese from the Latin letters typed.
Keys with `text` null are actions, named by their keycode: Kivy's `backspace`, `shift`,
`special`, `layout`, `enter` and `escape` (here: Delete, Shift, symbols, next keyboard, Search and
Hide), plus `accent`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

LAYOUT_DIR = Path(__file__).resolve().parent / "keyboards"

# The keyboard each language starts with (the customer switches with the keyboard's own key).
LAYOUT_FOR_LANGUAGE = {"en": "en_qwerty", "es": "es_qwerty", "fr": "fr_azerty", "de": "de_qwertz",
                       "zh": "zh_pinyin", "ar": "ar_arabic"}
# The order the "next keyboard" key walks through.
LAYOUT_ORDER = ("en_qwerty", "es_qwerty", "fr_azerty", "de_qwertz", "zh_pinyin", "ar_arabic")

PAGES = ("normal", "shift", "special", "accent")

# What an action key is called when it is drawn with a word and when it is spoken (English msgids;
# the widget translates them). Letters are spoken as themselves.
ACTION_NAMES = {
    "backspace": "Delete", "shift": "Shift", "special": "Symbols", "accent": "Accents",
    "layout": "Next keyboard", "enter": "Search", "escape": "Hide keyboard", "spacebar": "Space",
}
# Drawn as a word, translated; the others keep the JSON's label (?123, ABC, é è).
WORD_LABELS = {"backspace", "shift", "enter", "escape", "spacebar"}


@dataclass(frozen=True)
class Key:
    label: str
    text: str | None  # what it types; None for an action
    code: str  # Kivy's keycode field: the action's name, or the character
    width: float = 1.0

    @property
    def action(self) -> str | None:
        if self.code == "spacebar":
            return None  # it types its text, " "
        return None if self.text is not None else self.code

    @property
    def probe_id(self) -> str:
        """The widget's name in the UI probe: `key:<what it types>` or `key:<action>`."""
        if self.code == "spacebar":
            return "key:space"
        if self.text is None:
            return {"backspace": "key:delete"}.get(self.code, f"key:{self.code}")
        return f"key:{self.text}"


@dataclass(frozen=True)
class Layout:
    name: str
    title: str
    description: str
    pages: dict[str, list[list[Key]]]
    ime: str | None = None

    @property
    def units(self) -> float:
        """The width of the widest row of any page, in key widths: one key's size for every page."""
        return max(sum(k.width for k in row) for rows in self.pages.values() for row in rows)

    def keys(self, page: str) -> list[Key]:
        return [k for row in self.pages.get(page, []) for k in row]


def parse_layout(name: str, data: dict) -> Layout:
    pages: dict[str, list[list[Key]]] = {}
    for page in PAGES:
        rows = []
        n = 1
        while f"{page}_{n}" in data:
            rows.append([Key(str(k[0]), k[1], str(k[2]) if k[2] is not None else (k[1] or ""),
                             float(k[3]) if len(k) > 3 else 1.0) for k in data[f"{page}_{n}"]])
            n += 1
        if rows:
            pages[page] = rows
    if "normal" not in pages:
        raise ValueError(f"keyboard layout {name}: no normal_1 row")
    return Layout(name, data.get("title", name), data.get("description", ""), pages, data.get("ime"))


@cache
def load_layout(name: str) -> Layout:
    path = LAYOUT_DIR / f"{name}.json"
    return parse_layout(name, json.loads(path.read_text(encoding="utf-8")))


def layout_for_language(lang: str) -> str:
    return LAYOUT_FOR_LANGUAGE.get(lang, "en_qwerty")


@dataclass(frozen=True)
class Candidate:
    """A word the pinyin bar offers: tapping it types `text` in place of the first `consumed`
    letters of the composition."""

    text: str
    consumed: int
    kind: str = "pinyin"  # pinyin (full syllables) | initials


@dataclass
class Effect:
    """What a tap did to the field: `text` typed, `delete` characters removed, or an action for
    the screen (`enter`: search / done, `hide`: put the keyboard away)."""

    text: str = ""
    delete: int = 0
    action: str | None = None


Lookup = Callable[[str, int], Sequence[Candidate]]


@dataclass
class KeyboardState:
    """One keyboard on screen: which layout and page, Shift, and for pinyin the letters composed
    so far and the candidates for them. `lookup(letters, limit)` gives the candidates; it is set
    once the pinyin lexicon is ready (until then pinyin letters are simply typed)."""

    layout_name: str = "en_qwerty"
    page: str = "normal"
    composing: str = ""
    lookup: Lookup | None = None
    candidate_limit: int = 30
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def layout(self) -> Layout:
        return load_layout(self.layout_name)

    @property
    def composes(self) -> bool:
        return self.layout.ime == "pinyin" and self.lookup is not None

    def rows(self) -> list[list[Key]]:
        """The keys to draw now. The shifted accent page is the accent page in capitals."""
        pages = self.layout.pages
        if self.page == "accent_shift":
            return [[_upper(k) for k in row] for row in pages["accent"]]
        return pages.get(self.page) or pages["normal"]

    def set_layout(self, name: str) -> list[Effect]:
        done = self.commit_composition()
        self.layout_name, self.page = name, "normal"
        return done

    def next_layout_name(self) -> str:
        order = list(LAYOUT_ORDER)
        i = order.index(self.layout_name) if self.layout_name in order else -1
        return order[(i + 1) % len(order)]

    def reset(self, name: str | None = None) -> None:
        self.layout_name = name or self.layout_name
        self.page, self.composing, self.candidates = "normal", "", []

    # --- taps ------------------------------------------------------------------------------------

    def press(self, key: Key) -> list[Effect]:
        action = key.action
        if action is None:
            return self._type(key.text or "")
        if action == "backspace":
            if self.composing:
                self._compose(self.composing[:-1])
                return []
            return [Effect(delete=1)]
        if action == "shift":
            self.page = {"normal": "shift", "shift": "normal", "accent": "accent_shift",
                         "accent_shift": "accent"}.get(self.page, "shift")
            return []
        if action == "special":
            self.page = "normal" if self.page == "special" else "special"
            return []
        if action == "accent":
            self.page = "normal" if self.page.startswith("accent") else "accent"
            return []
        if action == "layout":
            return self.set_layout(self.next_layout_name())
        if action in ("enter", "escape"):
            done = self.commit_composition()
            return done + [Effect(action="enter" if action == "enter" else "hide")]
        return []

    def _type(self, text: str) -> list[Effect]:
        page = self.page
        if page in ("shift", "accent", "accent_shift"):
            self.page = "normal"  # one letter, as on a phone: Shift and the accent page let go
        if self.composes and page == "normal" and text.isascii() and text.isalpha():
            self._compose(self.composing + text)
            return []
        if self.composes and self.composing and text == " ":
            return self.choose(0) if self.candidates else self.commit_composition()
        done = self.commit_composition()
        return done + [Effect(text=text)]

    # --- pinyin ----------------------------------------------------------------------------------

    def _compose(self, letters: str) -> None:
        self.composing = letters
        self.candidates = list(self.lookup(letters, self.candidate_limit)) if letters and self.lookup else []

    def choose(self, index: int) -> list[Effect]:
        """The customer tapped candidate `index`: it is typed, and the letters it stood for leave
        the composition; the rest stay, with their own candidates."""
        if not 0 <= index < len(self.candidates):
            return []
        cand = self.candidates[index]
        self._compose(self.composing[cand.consumed:])
        return [Effect(text=cand.text)]

    def commit_composition(self) -> list[Effect]:
        """Letters still being composed are typed as they are (Search, Hide, a symbol)."""
        if not self.composing:
            return []
        text, self.composing, self.candidates = self.composing, "", []
        return [Effect(text=text)]


def _upper(key: Key) -> Key:
    if key.text and len(key.text.upper()) == 1:
        return Key(key.label.upper(), key.text.upper(), key.code.upper(), key.width)
    return key


def apply(effects: Sequence[Effect], text: str, limit: int | None = None) -> str:
    """The field's text after `effects` (for a screen that keeps its text as one string)."""
    for e in effects:
        if e.delete:
            text = text[:-e.delete]
        if e.text:
            text = text + e.text
            if limit is not None:
                text = text[:limit]
    return text
