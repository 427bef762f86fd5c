"""Audio mode: a visible focus that moves through every control, keys that operate it, and speech
that says what is focused (EN 301 549 §5.1.3 speech output, §5.1.6 operation without vision, in
the spirit of EZ-Access).

- The controls of a screen are its enabled, shown buttons, in the order the .kv files list them:
  reading order, the same order the UI probe reports (screens/devtools/probe.py), whichever way
  a right-to-left language mirrors their places. The idle dialog, when open, is the screen.
- Keys come from kiosk.toml through kiosk/keymap.py: next / previous (Tab, arrows; in RTL the
  left and right arrows swap), activate (Enter), back (Backspace), help (F1), volume, repeat,
  pause. The first of them pressed turns audio mode on, says so and announces the screen.
- Each focus change speaks exactly the drawn label of the control (its `spoken` name where a key
  has one, as "?123" is "Symbols"), with its state ("selected"); each screen change speaks the
  screen's texts above its first control (the heading first, a step image's `image_alt`), then the
  focused control. Speech goes through the one Speaker (kiosk/speech.py).
- The focus ring is two lines, a thick outer one and a thin inner one in the colours that stand out
  most against the theme's background and against each other, so it is >= 3:1 against whatever
  is around it, in every theme (a branded one too).
- `reset()` at session end: audio mode off, ring gone, speech silenced, volume back to default.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kivy.clock import Clock
from kivy.graphics import Color, InstructionGroup, Line
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView

from kiosk.keymap import KeyMap
from kiosk.speech import Speaker, Utterance, language_of

log = logging.getLogger(__name__)

RING_OUTER_MM, RING_INNER_MM = 2.0, 0.8
# candidates for the ring's two colours: black, white and yellow
RING_COLOURS = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (1.0, 1.0, 0.0))


def _luminance(rgb) -> float:
    def lin(c):
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (lin(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def ring_colours(background) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """(outer, inner): the outer line the colour farthest from the background, the inner one the
    colour farthest from the outer line."""
    outer = max(RING_COLOURS, key=lambda c: contrast(c, background))
    inner = max(RING_COLOURS, key=lambda c: contrast(c, outer))
    return outer, inner


# What each screen's help says after the general words (msgids in kiosk/locale).
HELP_GENERAL = ("Audio mode. The arrow keys or Tab move between the controls, Enter chooses, Back goes back "
                "and Help says this again. Use the volume keys to change the loudness, and the repeat key to "
                "hear the last words again.")
HELP = {
    "attract": "Press any key to start.",
    "home": "Choose a language, a category or a guide. The search field opens a keyboard.",
    "step": "Choose one of the answers, or go back, start over or go home.",
    "outcome": "This is the answer. Then tell us whether it helped: Yes or No.",
    "feedback": "Choose how many stars to give, from 1 to 5, then Send. Skip leaves without stars.",
    "thanks": "Choose whether you have another question, or whether you are done.",
    "handoff": "The screen shows a code for a phone camera. Back to the guide returns to the step.",
    "idle": "Choose More time to stay, or End now to finish.",
    "person": "This says where a person can help you. You can take the guide to your phone, tell us more, "
              "ask another question or finish.",
    "access": "Switch larger text, high contrast or the lower layout on or off, then Close.",
}


# the screens that show a guide's step or its end: F1 there reads the guide's own `help` if it has
# one (the person screen says where a person is already, the library's most specific place first)
GUIDE_SCREENS = ("step", "outcome")


def key_name(keycode: int) -> str | None:
    """Kivy's name of a key code ("tab", "f1", "numpad5"), as kiosk.toml's key map names keys."""
    from kivy.core.window import Keyboard

    global _KEY_NAMES
    if _KEY_NAMES is None:
        _KEY_NAMES = {code: name for name, code in Keyboard.keycodes.items()}
    return _KEY_NAMES.get(keycode)


_KEY_NAMES: dict[int, str] | None = None


def control_label(widget) -> str:
    """What a control says: its spoken name, else its drawn text (logical order, not shaped)."""
    return getattr(widget, "spoken", "") or getattr(widget, "raw", "") or widget.text


def control_selected(widget) -> bool | None:
    """True/False for a control that can be selected (a language, a toggle, a star), else None."""
    selected = getattr(widget, "selected", None)
    if selected is not None:
        return bool(selected)
    key = getattr(widget, "key", None)  # a keyboard's Shift or accent key, lit while its page is on
    if key is not None and getattr(key, "code", "") in ("shift", "accent"):
        return bool(widget.primary)
    return None


def _takes_focus(button) -> bool:
    """A button a person could press now: enabled, and with a size of its own (a list just rebuilt
    may have none until the next layout)."""
    return not button.disabled and button.width >= 1 and button.height >= 1


def _list_of(widget):
    """The long list (screens/lists.py VirtualList) whose row `widget` is, else None."""
    if not getattr(widget, "recycled_row", False):
        return None
    layout = widget.parent
    rows = getattr(layout, "parent", None)
    return rows if hasattr(rows, "step_from") else None


class Navigator:
    """The focus, the keys and what they say. The App makes one and routes its key events here."""

    def __init__(self, app, keymap: KeyMap, speaker: Speaker, *, on_audio_mode: Callable[[bool], None] | None = None):
        self.app = app
        self.keymap = keymap
        self.speaker = speaker
        self.audio_mode = False
        self.on_audio_mode = on_audio_mode
        self.focused = None
        self._focus_key: tuple[str, str] | None = None
        self._ring: InstructionGroup | None = None
        self._ring_event = None
        self._placed = None
        self._announce_event = None
        self._flips = 0
        self._counting_flips = False
        self._screen_seen: tuple | None = None

    # --- what is on screen ----------------------------------------------------------------------

    def modal(self):
        """The dialog on top (the idle dialog, the Accessibility panel), which takes every touch
        and so every key until it closes; None when there is none."""
        from kivy.core.window import Window
        from kivy.uix.modalview import ModalView

        overlay = self.app.idle.overlay
        if overlay is not None:
            return overlay
        return next((w for w in Window.children if isinstance(w, ModalView)), None)

    def roots(self) -> list:
        from kivy.core.window import Window

        modal = self.modal()
        return [modal] if modal is not None else list(reversed(Window.children))

    def screen_key(self) -> tuple:
        modal = self.modal()
        return (self.app.sm.current, type(modal).__name__ if modal is not None else None)

    def screen_name(self) -> str:
        modal = self.modal()
        if modal is None:
            return self.app.sm.current
        return "idle" if modal is self.app.idle.overlay else "access"

    def controls(self) -> list:
        """Every control a person could tap now, in reading order (the probe's order)."""
        found: list = []

        def walk(widget):
            # hidden parts draw nothing (opacity 0); a list just rebuilt may still have no size
            # until the next layout, so only a control's own size counts
            if widget.opacity == 0:
                return
            if isinstance(widget, Button) and _takes_focus(widget):
                found.append(widget)
            for child in reversed(widget.children):
                walk(child)

        for root in self.roots():
            walk(root)
        return found

    def heading_texts(self) -> list[str]:
        """The screen's texts above its first control: its heading first, then what the screen
        says before it asks anything (a step's question, a step image's description)."""
        texts: list[str] = []
        done = False

        def walk(widget):
            nonlocal done
            # not by size: a screen just built may not be laid out yet when it is announced
            if done or widget.opacity == 0:
                return
            if isinstance(widget, Button):
                done = done or _takes_focus(widget)
                return
            alt = getattr(widget, "alt", "")
            if alt and getattr(widget, "texture", None) is not None:
                texts.append(alt)
            if isinstance(widget, Label):
                text = (getattr(widget, "raw", None) or widget.text).strip()
                if text:
                    texts.append(text)
            for child in reversed(widget.children):
                walk(child)

        for root in self.roots():
            walk(root)
        return texts

    # --- keys -----------------------------------------------------------------------------------

    def on_key(self, key_name: str, modifiers) -> bool:
        """A key was pressed; True when audio mode used it."""
        action = self.keymap.action_for(key_name, modifiers, rtl=self.app.theme.rtl)
        if action is None:
            return False
        if not self.audio_mode:
            self.start_audio_mode()
            return True
        getattr(self, "do_" + action)()
        return True

    def start_audio_mode(self) -> None:
        self.audio_mode = True
        if self.on_audio_mode:
            self.on_audio_mode(True)
        self._show_ring()
        self._screen_seen = None
        if self.app.sm.current == "attract":
            self.app.start_session()
        # replaces the announcement the screen change just asked for: one, with the prefix
        self._schedule(lambda: self._announce_screen(prefix=[self.app.t("Audio mode on.")]))

    def do_next(self) -> None:
        self._move(+1)

    def do_previous(self) -> None:
        self._move(-1)

    def do_activate(self) -> None:
        widget = self._current()
        if widget is None:
            self._move(+1)
            return
        self._focus_key = self._key_of(widget)
        self._then_announce(lambda: widget.trigger_action(duration=0))

    def _state(self) -> tuple:
        return (self.screen_key(), self.app.lang, tuple(self.heading_texts()))

    def _then_announce(self, action) -> None:
        """Do `action`, then say what changed once the screen has settled: a new screen, or the
        same screen with a new heading (the next step of a guide), is announced whole; a new
        language too, in it, with the focus kept; otherwise the control (a toggle, a star)."""
        before = self._state()
        action()
        self._schedule(lambda: self._after_activation(before))

    def do_back(self) -> None:
        app = self.app
        if app.idle.overlay is not None:
            app.idle.still_here()
            return
        modal = self.modal()
        if modal is not None:  # the Accessibility panel: Back closes it
            modal.dismiss(animation=False)
            self._schedule(self._announce_screen)
            return
        name = app.sm.current
        home = app.screens.get("home")
        if name in ("step", "outcome"):
            self._then_announce(app.back)
        elif name in ("handoff", "feedback"):
            feedback = app.screens["feedback"]
            if name == "feedback" and feedback.comment:
                feedback.on_key("\b")  # Back in a comment rubs out, as on a keyboard
                self._schedule(self._speak_focused)
                return
            app.close_handoff()  # back to the guide's step or outcome
        elif name in ("thanks", "person"):
            app.go_home()
        elif name == "home" and home is not None and (home.mode != "browse" or home.keyboard_open):
            home.show_browse()
            self._schedule(self._speak_focused)
        elif name in ("staff_pin", "staff_new_pin", "staff_status"):
            app.leave_staff()
        else:
            self._speak_focused()

    def do_help(self) -> None:
        """The keys, then in a guide that has its own `help` (shared/DESIGN.md) that help, else what
        this screen is for."""
        name = self.screen_name()
        texts = [self.app.t(HELP_GENERAL)]
        guide_help = self.app.guide_help() if name in GUIDE_SCREENS else ""
        if guide_help:
            texts.append(guide_help)
        elif name in HELP:
            texts.append(self.app.t(HELP[name]))
        self._say(texts, "help")

    def do_volume_up(self) -> None:
        self._say_volume(self.speaker.louder())

    def do_volume_down(self) -> None:
        self._say_volume(self.speaker.quieter())

    def do_repeat(self) -> None:
        self.speaker.repeat()

    def do_pause(self) -> None:
        self.speaker.toggle_pause()

    def _say_volume(self, level: int) -> None:
        from kiosk.speech import VOLUME_LEVELS

        self._say([self.app.t("Volume {level} of {levels}").format(level=level, levels=VOLUME_LEVELS)], "volume")

    # --- focus ------------------------------------------------------------------------------------

    @staticmethod
    def _key_of(widget) -> tuple[str, str]:
        return (getattr(widget, "probe_id", ""), control_label(widget))

    def _current(self):
        """The focused control if it is still on screen, else the one that replaced it (a list
        rebuilt, the language changed), else None."""
        controls = self.controls()
        if self.focused is not None and any(c is self.focused for c in controls) and not (
                getattr(self.focused, "recycled_row", False) and self._key_of(self.focused) != self._focus_key):
            # (a long list's row widget shows another row once the list scrolled: the focus is the
            # row, found again by its key below, not the widget)
            return self.focused
        if self._focus_key is not None:
            pid, label = self._focus_key
            match = [c for c in controls if self._key_of(c) == (pid, label)] or (
                [c for c in controls if pid and getattr(c, "probe_id", "") == pid])
            if match:
                self.focused = match[0]
                return self.focused
        return None

    def _move(self, step: int) -> None:
        controls = self.controls()
        if not controls:
            self._announce_screen()
            return
        current = self._current()
        if current is None:
            index = 0 if step > 0 else len(controls) - 1
        else:
            # in a long list (screens/lists.py) only the rows on screen are controls: the next row
            # is brought into view and focused, to the list's end, as if every row were there
            rows = _list_of(current)
            row = rows.step_from(current, step) if rows is not None else None
            if row is not None:
                self.focus(row)
                return
            if rows is not None:
                # past the list's end: the control after (or before) all of its rows. The row widgets
                # are recycled in any order, so the next widget in the tree may be another row of it,
                # which trapped the focus inside the list.
                mine = [i for i, c in enumerate(controls) if _list_of(c) is rows]
                outside = [i for i, c in enumerate(controls) if _list_of(c) is not rows]
                if not outside:
                    index = mine[0]
                elif step > 0:
                    index = next((i for i in outside if i > mine[-1]), outside[0])
                else:
                    index = next((i for i in reversed(outside) if i < mine[0]), outside[-1])
            else:
                index = (next(i for i, c in enumerate(controls) if c is current) + step) % len(controls)
        entered = _list_of(controls[index])
        if entered is not None and (current is None or _list_of(current) is not entered):
            # into a long list from outside: its first row on screen (its last, going back), whichever
            # widget shows it (recycled widgets are in no order in the tree)
            shown = sorted((entered.views_index(c), n) for n, c in enumerate(controls)
                           if _list_of(c) is entered and entered.views_index(c) is not None)
            if shown:
                index = shown[0][1] if step > 0 else shown[-1][1]
        self.focus(controls[index])

    def focus(self, widget, *, speak: bool = True) -> None:
        self.focused = widget
        self._focus_key = self._key_of(widget)
        self._scroll_into_view(widget)
        self._placed = None
        if self._ring_event is not None:
            self._place_ring()  # in the frame that shows the focus (and the probe that reports it)
        if speak:
            self._speak_focused()

    def focus_first(self) -> None:
        controls = self.controls()
        self.focused = None
        if controls:
            self.focus(controls[0], speak=False)

    def _scroll_into_view(self, widget) -> None:
        rows = _list_of(widget)
        if rows is not None:  # a long list scrolls by its rows, whose widgets are made as they show
            index = rows.views_index(widget)
            if index is not None:
                rows.view_at(index)
            return
        parent = widget.parent
        while parent is not None and parent is not getattr(parent, "parent", None):  # the Window is its own parent
            if isinstance(parent, ScrollView):
                try:
                    parent.scroll_to(widget, padding=self.app.theme.gap, animate=False)
                except Exception:  # a list still being laid out: the ring follows it anyway
                    log.debug("could not scroll to the focused control", exc_info=True)
                break
            parent = parent.parent

    def focused_words(self, widget=None) -> str:
        widget = widget or self._current()
        if widget is None:
            return ""
        label = control_label(widget)
        selected = control_selected(widget)
        if selected:
            return self.app.t("{label}, selected").format(label=label)
        return label

    def _speak_focused(self) -> None:
        words = self.focused_words()
        if words:
            self._say([words], "focus")

    def _say(self, texts: list[str], tag: str) -> None:
        lang = self.app.lang
        self.speaker.say([Utterance(t, language_of(t, lang)) for t in texts if t], tag)

    # --- screens ----------------------------------------------------------------------------------

    def _schedule(self, fn) -> None:
        """Run `fn` once the screen has settled: two frames drawn since now. A screen shown for
        the first time is laid out over a frame or two after it appears, and until then its
        controls have no size, so neither their order nor their place would be right."""
        from kivy.core.window import Window

        if self._announce_event is not None:
            self._announce_event.cancel()
        if not self._counting_flips:
            Window.bind(on_flip=self._count_flip)
            self._counting_flips = True
        wanted = self._flips + 2

        def when_settled(*_):
            if self._flips >= wanted:
                self._announce_event = None
                fn()
                return
            Window.canvas.ask_update()  # frames come even when nothing else changed
            self._announce_event = Clock.schedule_once(when_settled, 0.02)

        self._announce_event = Clock.schedule_once(when_settled, 0.02)

    def _count_flip(self, *_):
        self._flips += 1

    def screen_changed(self) -> None:
        """The App calls this when the screen or the idle dialog comes or goes."""
        if self.audio_mode:
            self._schedule(self._announce_screen)

    def _after_activation(self, before) -> None:
        self._announce_event = None
        if not self.audio_mode:
            return
        screen, lang, heading = before
        if self.screen_key() != screen or tuple(self.heading_texts()) != heading and lang == self.app.lang:
            self._announce_screen()
            return
        if self.app.lang != lang:  # every word changed: the screen again, the focus kept
            self._announce_screen(keep_focus=True)
            return
        current = self._current()
        if current is None:
            self.focus_first()
        elif getattr(current, "masked_entry", False):
            return  # a PIN key: what was pressed is not said again (EN 301 549 §5.1.3.8)
        last = self.speaker.last
        if last is not None and last.tag == "read-aloud":
            return  # "Read aloud" was pressed: let it read
        self._speak_focused()

    def _announce_screen(self, prefix: list[str] | None = None, keep_focus: bool = False) -> None:
        self._announce_event = None
        key = self.screen_key()
        returning = self._screen_seen is not None and self._screen_seen[1] and not key[1] \
            and self._screen_seen[0] == key[0]
        self._screen_seen = key
        if returning and self._current() is not None:
            # the idle dialog closed over the same screen: the focus is where it was
            self._say([*(prefix or []), self.focused_words()], "focus")
            return
        if not (keep_focus and self._current() is not None):
            self.focus_first()
        texts = [*(prefix or []), *self.heading_texts()]
        words = self.focused_words()
        if words:
            texts.append(words)
        self._say(texts, "screen")

    # --- the ring -------------------------------------------------------------------------------

    def _show_ring(self) -> None:
        from kivy.core.window import Window

        if self._ring is None:
            self._ring = InstructionGroup()
            Window.canvas.after.add(self._ring)
        if self._ring_event is None:
            self._ring_event = Clock.schedule_interval(self._place_ring, 0)

    def _hide_ring(self) -> None:
        from kivy.core.window import Window

        if self._ring_event is not None:
            self._ring_event.cancel()
            self._ring_event = None
        if self._ring is not None:
            self._ring.clear()
            Window.canvas.ask_update()
        self._placed = None

    def ring_box(self):
        """The focused control's box in window pixels (x, y, width, height), or None."""
        widget = self._current()
        if widget is None or widget.get_root_window() is None:
            return None
        x, y = widget.to_window(widget.x, widget.y)
        return (x, y, widget.width, widget.height)

    def _place_ring(self, *_):
        from kivy.core.window import Window

        box = self.ring_box()
        theme = self.app.theme
        outer_rgb, inner_rgb = ring_colours(theme.bg)
        placed = (box, tuple(outer_rgb), theme.mm)
        if placed == self._placed:
            return  # nothing moved: no new frame is drawn for the ring
        self._placed = placed
        self._ring.clear()  # new lines each time: a Line whose width changes is not always redrawn
        Window.canvas.ask_update()  # a change in canvas.after alone does not ask for a new frame
        if box is None:
            return
        x, y, w, h = box
        ow, iw = max(2.0, RING_OUTER_MM * theme.mm), max(1.0, RING_INNER_MM * theme.mm)
        # Kivy draws a line of width w on both sides of its path (2w wide): the outer line lies
        # just outside the control's edge, the inner one just inside it
        self._ring.add(Color(*outer_rgb, 1))
        self._ring.add(Line(rectangle=(x - ow / 2, y - ow / 2, w + ow, h + ow), width=ow / 2))
        self._ring.add(Color(*inner_rgb, 1))
        self._ring.add(Line(rectangle=(x + iw / 2, y + iw / 2, w - iw, h - iw), width=iw / 2))

    # --- a new traveller ----------------------------------------------------------------------------

    def reset(self) -> None:
        """Session end: audio mode off, no focus, no ring, silence, the default volume."""
        if self._announce_event is not None:
            self._announce_event.cancel()
            self._announce_event = None
        was_on = self.audio_mode
        self.audio_mode = False
        self.focused = None
        self._focus_key = None
        self._screen_seen = None
        self._hide_ring()
        self.speaker.reset()
        if was_on and self.on_audio_mode:
            self.on_audio_mode(False)
