"""The UI tests' probe: after every frame that changed what is on screen, a JSON file with what a
person would see (the screen, visible texts, every tappable button with its centre and box in
screen pixels, each label's box beside its drawn texture, and the panel's millimetres).

tests/ui and bench/bench_ui.py read it; `kiosk run` attaches it only when KIOSK_TEST_PROBE names
the file (kiosk/cli.py).
"""

from __future__ import annotations

import json
import os
import time

from kivy.clock import Clock

from kiosk.i18n import is_rtl_text

PROBE_SETTLE = 0.08  # seconds without a changed frame before the test probe is written


def drawn_lines(label) -> list[str]:
    """The lines of a label's text as Kivy laid them out (its own wrapping included), top first,
    each in drawing order (left to right), without markup."""
    core = getattr(label, "_label", None)
    return ["".join(word.text for word in line.words) for line in getattr(core, "_cached_lines", None) or []]


class Probe:
    def __init__(self, path: str):
        self.path = path
        self.app = None
        self._last = None
        self._pending: dict = {}
        self._event = None
        self._drawn_at = 0.0
        self._frame = 0
        self._last_input_t = 0.0
        # the UI thread's CPU time (time.thread_time) at the last touch-up and at each frame: the
        # work a screen cost the UI thread, whatever else the machine was doing meanwhile
        self._last_input_cpu = 0.0
        self._drawn_cpu = 0.0

    def attach(self, app) -> None:
        from kivy.core.window import Window

        self.app = app
        # after the buffer swap, so a probe's time is when the frame really was on screen
        Window.bind(on_flip=self._before_flip)
        swap = Window.flip

        def flip_then_probe():
            swap()
            self._write_probe(Window)

        Window.flip = flip_then_probe
        # the pointer's position tells a test that input reaches the app (the first moments
        # after the window appears, X may not deliver clicks to it yet)
        Window.bind(mouse_pos=lambda window, _pos: self._write_probe(window))
        Window.bind(on_touch_up=self._on_any_touch_up)

    def _on_any_touch_up(self, _window, _touch):
        self._last_input_t = time.time()
        self._last_input_cpu = time.thread_time()
        return False

    def _before_flip(self, *_):
        self._drawn_at = time.time()  # the UI thread's work for this frame is done; the swap follows
        self._drawn_cpu = time.thread_time()

    def _write_probe(self, window, *_):
        """After a frame that changed what is on screen, write what a person would see: the
        screen, visible texts, and every tappable button with its centre in screen pixels."""
        flipped_at = time.time()
        snap = self.snapshot(window)
        if snap == self._last:
            return
        self._last = snap
        self._frame += 1
        # every changed frame since the last write, so a benchmark can find the first frame that
        # showed something, not only the settled one
        frames = (self._pending.get("frames", []) if self._event is not None else [])[-15:]
        frames.append({"t": flipped_at, "drawn_t": self._drawn_at, "labels": snap["labels"][:6]})
        self._pending = dict(snap, frame=self._frame, t=flipped_at, drawn_t=self._drawn_at,
                             input_t=self._last_input_t, frames=frames,
                             drawn_cpu=self._drawn_cpu, input_cpu=self._last_input_cpu)
        # Written once the screen has settled (no changed frame for PROBE_SETTLE s): a layout can
        # take a few frames, and a test must not aim at a button that is still moving.
        if self._event is not None:
            self._event.cancel()
        self._event = Clock.schedule_once(self._commit_probe, PROBE_SETTLE)

    def _commit_probe(self, *_):
        self._event = None
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self._pending, fh, ensure_ascii=False)
        os.replace(tmp, self.path)

    @staticmethod
    def _gc(app) -> dict:
        """The longest garbage-collection pauses so far (kiosk/collector.py), in ms: automatic ones
        (any generation, and full ones) and those asked for between sessions."""
        collector = getattr(app, "collector", None)
        if collector is None:
            return {}
        return {"auto_max_ms": round(collector.worst(), 1), "auto_full_max_ms": round(collector.worst(2), 1),
                "between_max_ms": round(collector.worst(explicit=True), 1)}

    def snapshot(self, window) -> dict:
        from kivy.uix.button import Button
        from kivy.uix.label import Label
        from kivy.uix.screenmanager import ScreenManager
        from kivy.uix.scrollview import ScrollView

        app = self.app
        labels: list[str] = []
        buttons: list[dict] = []
        label_boxes: list[dict] = []
        lists: list[dict] = []
        height = window.height
        left, top = int(window.left), int(window.top)

        def walk(widget, clip):
            if widget.opacity == 0 or widget.width < 1 or widget.height < 1:
                return
            if isinstance(widget, ScrollView):
                x0, y0 = widget.to_window(widget.x, widget.y)
                if hasattr(widget, "step_from"):  # a long list (screens/lists.py): where its bar is
                    lists.append({"box": [left + round(x0), top + round(height - y0 - widget.height),
                                          round(widget.width), round(widget.height)],
                                  "rows": len(widget.data), "scroll_y": round(widget.scroll_y, 5),
                                  "bar": widget.bar_pos_y, "bar_width": round(widget.bar_width)})
                box = (x0, y0, x0 + widget.width, y0 + widget.height)
                clip = (max(clip[0], box[0]), max(clip[1], box[1]), min(clip[2], box[2]), min(clip[3], box[3]))
            if isinstance(widget, Label):
                cx, cy = widget.to_window(*widget.center)
                if clip[0] <= cx <= clip[2] and clip[1] <= cy <= clip[3]:
                    text = getattr(widget, "raw", None) or widget.text
                    x0, y0 = widget.to_window(widget.x, widget.y)
                    # the box in screen pixels (left, top, width, height) and the drawn text's
                    # size beside it: a texture larger than its box is clipped text
                    # the part a ScrollView shows of it (left, top, width, height)
                    vx0, vy0 = max(x0, clip[0]), max(y0, clip[1])
                    vx1, vy1 = min(x0 + widget.width, clip[2]), min(y0 + widget.height, clip[3])
                    box = {"box": [left + round(x0), top + round(height - y0 - widget.height),
                                   round(widget.width), round(widget.height)],
                           "visible": [left + round(vx0), top + round(height - vy1), round(vx1 - vx0), round(vy1 - vy0)],
                           "texture": [round(v) for v in widget.texture_size],
                           "scrolls": clip != full}  # inside a ScrollView: may reach past it
                    if is_rtl_text(text):
                        # right-to-left text as Kivy drew it, line by line, top first: the audit
                        # checks the lines read in the text's order (tests/ui/reading.py)
                        box["lines"] = drawn_lines(widget)
                    if isinstance(widget, Button):
                        if not widget.disabled:
                            # primary: drawn highlighted (a lit star, the chosen folder)
                            button = {"text": text, "id": getattr(widget, "probe_id", ""),
                                      "primary": bool(getattr(widget, "primary", False)),
                                      "selected": bool(getattr(widget, "selected", False)),
                                      "halign": widget.halign,
                                      "x": left + round(cx), "y": top + round(height - cy), **box}
                            if getattr(widget, "spoken", ""):  # keys and candidates: their spoken name
                                button["spoken"] = widget.spoken
                            if getattr(widget, "selected", None) is not None:  # a language, a toggle, a star
                                button["selected"] = bool(widget.selected)
                            if widget is focused:
                                button["focused"] = True
                            buttons.append(button)
                    elif text.strip():
                        labels.append(text)
                        label_boxes.append({"text": text, **box})
            if isinstance(widget, ScreenManager):
                # during a switch the screen going out is still a child for a frame; only the
                # current one is what a person sees and touches
                if widget.current_screen is not None:
                    walk(widget.current_screen, clip)
                return
            for child in reversed(widget.children):
                walk(child, clip)

        navigator = getattr(app, "navigator", None)
        focused = navigator._current() if navigator is not None and navigator.audio_mode else None
        full = (0, 0, window.width, window.height)
        overlay = app.idle.overlay is not None
        # an open view (the idle question, the accessibility panel) covers the screen: what it
        # shows is what can be touched
        from kivy.uix.modalview import ModalView

        views = [c for c in window.children if isinstance(c, ModalView)]
        roots = [views[0]] if views else list(reversed(window.children))
        for root in roots:
            walk(root, full)
        mx, my = window.mouse_pos
        return {"screen": app.sm.current, "overlay": overlay, "mouse": [left + round(mx), top + round(height - my)], "lang": app.lang, "session": app.engine.session_id,
                "audio": bool(getattr(app, "audio_mode", False)),
                "volume": app.speaker.volume if getattr(app, "speaker", None) is not None else None,
                "labels": labels, "buttons": buttons, "label_boxes": label_boxes, "lists": lists,
                "gc": self._gc(app),
                # the panel, for the layout audit: window pixels, pixels per mm, the panel's height
                "window": [round(window.width), round(window.height)], "mm": app.theme.mm,
                "panel_bottom_mm": app.theme.panel_bottom_mm, "rtl": app.theme.rtl,
                "modes": {"large_text": app.theme.large_text, "high_contrast": app.theme.high_contrast,
                          "reach": app.theme.reach}}
