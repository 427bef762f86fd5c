"""The idle timer and the hidden staff gesture, both fed by every touch on the window.

After `idle_timeout` seconds without a touch or key, "Are you still there?" counts down
`idle_countdown` seconds with a bar; "More time" (or any touch) answers it, "End now" ends the
session at once, and at zero `on_timeout` ends it. In audio mode and with large text people need
longer (WCAG 2.2.1): `idle_timeout_assisted` then. In audio mode the dialog is spoken and its
buttons take the focus like any screen's (screens/focus.py), so a key does not answer it by itself.
Five taps in the top-right corner (a square of `corner_px()`, screens/theme.py's STAFF_CORNER_MM on
the panel) within three seconds call `on_staff_gesture`; those taps never reach a customer's control.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from kivy.clock import Clock

from kiosk.settings import Settings

STAFF_TAPS, STAFF_WINDOW = 5, 3.0  # the hidden staff gesture: five taps within three seconds


class IdleWatch:
    def __init__(self, settings: Settings, *, is_resting: Callable[[], bool], on_timeout: Callable[[], None],
                 on_staff_gesture: Callable[[], None], corner_px: Callable[[], float],
                 is_assisted: Callable[[], bool] = lambda: False, on_overlay: Callable[[], None] = lambda: None):
        self.settings = settings
        self.is_resting = is_resting  # the attract loop: nobody there to time out
        self.on_timeout = on_timeout
        self.on_staff_gesture = on_staff_gesture
        self.corner_px = corner_px
        self.is_assisted = is_assisted  # audio mode or large text: the longer timeout
        self.on_overlay = on_overlay  # the dialog came or went
        self.overlay = None  # the "Are you still there?" view while it is open
        self._last_activity = time.monotonic()
        self._corner_taps: list[float] = []

    def attach(self, window) -> None:
        window.bind(on_touch_down=self._on_any_touch_down)
        Clock.schedule_interval(self._idle_tick, 0.25)

    def touched(self) -> None:
        self._last_activity = time.monotonic()

    def _on_any_touch_down(self, window, touch):
        self.touched()
        if self.overlay is not None:
            if self.overlay.ids.end_now.collide_point(*touch.pos):
                return False  # "End now" takes its own tap
            self.still_here()
            return True  # any other touch answers "Are you still there?"
        corner = self.corner_px()
        if touch.x >= window.width - corner and touch.y >= window.height - corner:
            now = time.monotonic()
            self._corner_taps = [t for t in self._corner_taps if now - t < STAFF_WINDOW] + [now]
            if len(self._corner_taps) >= STAFF_TAPS:
                self._corner_taps = []
                self.on_staff_gesture()
            return True  # corner taps are the gesture, never a customer's tap
        return False

    def _idle_tick(self, _dt) -> None:
        if self.is_resting():
            return
        elapsed = time.monotonic() - self._last_activity
        countdown = self.settings.idle_countdown
        timeout = self.timeout()
        if elapsed < timeout:
            return
        left = timeout + countdown - elapsed
        if left <= 0:
            self.on_timeout()
            return
        if self.overlay is None:
            self.open_overlay()
        self.overlay.remaining = math.ceil(left)
        self.overlay.fraction = left / countdown

    def timeout(self) -> float:
        """Seconds without input before the dialog: longer in audio mode and with large text."""
        if self.is_assisted():
            return max(self.settings.idle_timeout, self.settings.idle_timeout_assisted)
        return self.settings.idle_timeout

    def open_overlay(self) -> None:
        from screens.widgets import IdleOverlay

        self.overlay = IdleOverlay(remaining=math.ceil(self.settings.idle_countdown), fraction=1.0)
        self.overlay.open(animation=False)
        self.on_overlay()

    def dismiss_overlay(self) -> None:
        if self.overlay is not None:
            self.overlay.dismiss(animation=False)
            self.overlay = None
            self.on_overlay()

    def still_here(self) -> None:
        self.touched()
        self.dismiss_overlay()
