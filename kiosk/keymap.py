"""The audio mode's keys: which key (of a keyboard or of an EZ-Access style keypad, which sends key
codes like a keyboard) does what. The map lives in kiosk.toml, one list of key names per action
(`keys_next = ["tab", "down", "right"]`); `kiosk config check` names a key it does not know and a
key given to two actions. No Kivy here: the UI turns its key codes into these names.

A key name is Kivy's name for the key ("tab", "enter", "f1", "numpad5", "a"), optionally after
modifiers joined by "+" ("shift+tab"). In a right-to-left language "left" and "right" swap, so the
arrow that points along the reading direction always moves forward.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

ACTIONS = ("next", "previous", "activate", "back", "help", "volume_up", "volume_down", "repeat", "pause")
DEFAULT_KEYS: dict[str, list[str]] = {
    "next": ["tab", "down", "right"],
    "previous": ["shift+tab", "up", "left"],
    "activate": ["enter", "numpadenter"],
    "back": ["backspace"],
    "help": ["f1"],
    "volume_up": ["f10", "numpadadd"],
    "volume_down": ["f9", "numpadsubstract"],
    "repeat": ["f2"],
    "pause": ["f3", "pause"],
}
MODIFIERS = ("shift", "ctrl", "alt", "meta")
# Kivy's names of the keys that are not one character (kivy.core.window.Keyboard.keycodes)
NAMED_KEYS = frozenset({
    "backspace", "tab", "enter", "pause", "escape", "spacebar", "delete", "print", "screenlock",
    *(f"numpad{n}" for n in range(10)), "numpaddecimal", "numpaddivide", "numpadmul", "numpadsubstract",
    "numpadadd", "numpadenter", "up", "down", "right", "left", "insert", "home", "end", "pageup", "pagedown",
    *(f"f{n}" for n in range(1, 16)), "numlock", "capslock",
})
_MIRROR = {"left": "right", "right": "left"}


def setting_name(action: str) -> str:
    """The kiosk.toml key of an action's list of keys."""
    return f"keys_{action}"


def normalise(key: str) -> str:
    """"Shift + Tab" -> "shift+tab": modifiers sorted, lower case, no spaces."""
    key = key.strip().lower()
    if key.endswith("+") and (key == "+" or key[:-1].endswith("+")):  # the plus key itself
        parts = [*key[:-2].split("+"), "+"] if key != "+" else ["+"]
    else:
        parts = [p.strip() for p in key.split("+")]
    name = parts[-1]
    mods = sorted({p for p in parts[:-1] if p})
    return "+".join([*mods, name])


def key_problem(key: str) -> str | None:
    """Why `key` is not a key name, in words; None when it is one."""
    if not isinstance(key, str) or not key.strip():
        return "an empty key name"
    normal = normalise(key)
    name = "+" if normal.endswith("+") else normal.rsplit("+", 1)[-1]
    mods = [m for m in normal[: len(normal) - len(name)].split("+") if m]
    bad = [m for m in mods if m not in MODIFIERS]
    if bad:
        return f"'{key}' has {', '.join(repr(m) for m in bad)}, which is not a modifier ({', '.join(MODIFIERS)})"
    if len(name) == 1 or name in NAMED_KEYS:
        return None
    return f"'{key}' is not a key name (like tab, enter, backspace, f1, up, numpad5 or a letter)"


@dataclass(frozen=True)
class KeyMap:
    """key name (normalised) -> action."""

    actions: Mapping[str, str]

    @classmethod
    def from_lists(cls, lists: Mapping[str, Iterable[str]]) -> KeyMap:
        actions: dict[str, str] = {}
        for action in ACTIONS:
            for key in lists.get(action, ()):
                if key_problem(key) is None:
                    actions.setdefault(normalise(key), action)
        return cls(actions)

    @classmethod
    def from_settings(cls, settings) -> KeyMap:
        return cls.from_lists({a: getattr(settings, setting_name(a)) for a in ACTIONS})

    def action_for(self, name: str, modifiers: Iterable[str] = (), *, rtl: bool = False) -> str | None:
        """The action of key `name` pressed with `modifiers` (Kivy's: "shift", "ctrl", "alt",
        "meta", "numlock", "capslock"); None for a key that does nothing in audio mode."""
        if rtl:
            name = _MIRROR.get(name, name)
        mods = sorted({m for m in modifiers if m in MODIFIERS})
        # a modifier the map does not name is ignored (shift+down moves like down), but a
        # combination it names (shift+tab) is its own key
        return self.actions.get("+".join([*mods, name])) or self.actions.get(name)

    def keys_of(self, action: str) -> list[str]:
        return [k for k, a in self.actions.items() if a == action]


def map_problems(lists: Mapping[str, Iterable[str]]) -> list[str]:
    """Everything wrong with a key map, as sentences for `kiosk config check`."""
    out = []
    owner: dict[str, str] = {}
    for action in ACTIONS:
        keys = list(lists.get(action, ()))
        if not keys and action in ("next", "activate"):
            out.append(f"{setting_name(action)} is empty: audio mode cannot be used without a key to "
                       f"{'move to the next control' if action == 'next' else 'choose'}")
        for key in keys:
            problem = key_problem(key)
            if problem:
                out.append(f"{setting_name(action)}: {problem}")
                continue
            name = normalise(key)
            if name in owner and owner[name] != action:
                out.append(f"key '{key}' is given to both {setting_name(owner[name])} and {setting_name(action)}")
            owner.setdefault(name, action)
    return out
