"""KioskApp: the Kivy application. The only module in kiosk/ that imports Kivy.

The store, the settings, the session engine and (later) the sync service are built outside and
handed in, as Electrum hands its window the config and network. The screens ask the App to
navigate and the App asks the engine; nothing on screen touches SQLite or the network, and
anything slow (PIN hashing, imports, sync, status checks, speech) runs on a thread and comes back
with @mainthread.

Navigation state lives here as Kivy properties (`lang`, `languages`); when a session ends, every
screen is reset and the engine forgets the session, so Back can never reach the last customer.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("KIVY_NO_ARGS", "1")
# SDL would turn SIGTERM into a window-close request, which the kiosk refuses; systemd's stop
# must still stop it, so the signal is handled below instead.
os.environ.setdefault("SDL_NO_SIGNAL_HANDLERS", "1")

from kivy.app import App
from kivy.base import ExceptionHandler, ExceptionManager
from kivy.clock import Clock, mainthread
from kivy.config import Config
from kivy.properties import BooleanProperty, ListProperty, ObjectProperty, StringProperty

from contract.handoff import Handoff, handoff_key, make_url
from kiosk import i18n, watchdog
from kiosk.engine import EngineError, SessionEngine, StepView
from kiosk.settings import Settings
from offline_cache.store import Store

log = logging.getLogger(__name__)

STAFF_CORNER_DP = 90  # the hidden staff gesture: five taps in this top-right square...
STAFF_TAPS, STAFF_WINDOW = 5, 3.0  # ...within three seconds
ESPEAK_VOICES = {"zh": "cmn", "en": "en-gb"}
PROBE_SETTLE = 0.08  # seconds without a changed frame before the test probe is written
CUSTOMER_SCREENS = ("home", "step", "outcome", "feedback", "thanks", "handoff")
STAFF_SCREENS = ("staff_pin", "staff_status")


def x11_screen_size() -> tuple[int, int] | None:
    """The X screen's size in pixels, or None when there is no X display (e.g. Wayland)."""
    import ctypes
    import ctypes.util

    if not os.environ.get("DISPLAY"):
        return None
    name = ctypes.util.find_library("X11")
    if not name:
        return None
    try:
        x11 = ctypes.cdll.LoadLibrary(name)
        x11.XOpenDisplay.restype = ctypes.c_void_p
        x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        for fn in (x11.XDefaultScreen, x11.XCloseDisplay):
            fn.argtypes = [ctypes.c_void_p]
        x11.XDisplayWidth.argtypes = x11.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
        display = x11.XOpenDisplay(None)
        if not display:
            return None
        screen = x11.XDefaultScreen(display)
        size = x11.XDisplayWidth(display, screen), x11.XDisplayHeight(display, screen)
        x11.XCloseDisplay(display)
        return size
    except (OSError, AttributeError):
        return None


def configure_kivy(settings: Settings) -> None:
    """Window and input settings; must run before kivy.core.window is first imported."""
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("kivy", "keyboard_mode", "system")  # our own keyboard, never Kivy's pop-up one
    Config.set("input", "mouse", "mouse,disable_multitouch")  # no red multitouch dots on right click
    Config.set("graphics", "show_cursor", "0")
    size = os.environ.get("KIOSK_WINDOW_SIZE")
    screen = x11_screen_size() if settings.fullscreen else None
    if settings.fullscreen and screen:
        # A window exactly the screen's size at its corner, made fullscreen once it exists
        # (build): SDL's fullscreen alone needs a window manager to take effect, and many kiosks
        # run X with none, where it would stay 800x600.
        size = f"{screen[0]}x{screen[1]}"
        Config.set("graphics", "fullscreen", "0")
    else:
        Config.set("graphics", "fullscreen", "auto" if settings.fullscreen else "0")
    if size and (not settings.fullscreen or screen):
        width, height = size.lower().split("x")
        Config.set("graphics", "width", width)
        Config.set("graphics", "height", height)
        # at the screen's top-left corner, so window and screen coordinates agree (UI tests)
        Config.set("graphics", "position", "custom")
        Config.set("graphics", "left", "0")
        Config.set("graphics", "top", "0")


class _BackToHome(ExceptionHandler):
    """An exception in a screen callback is logged and the kiosk returns to a safe screen instead
    of dying. A storm of them (a broken install) is let through, so systemd restarts the app."""

    def __init__(self, app: KioskApp):
        super().__init__()
        self.app = app
        self.recent: list[float] = []

    def handle_exception(self, exception):
        if isinstance(exception, (KeyboardInterrupt, SystemExit)):
            return ExceptionManager.RAISE
        now = time.monotonic()
        self.recent = [t for t in self.recent if now - t < 10] + [now]
        log.error("error in the UI, returning to a safe screen", exc_info=exception)
        if len(self.recent) > 20:
            log.critical("too many UI errors in 10 s, exiting so the service restarts the kiosk")
            return ExceptionManager.RAISE
        Clock.schedule_once(lambda *_: self.app.recover(), 0)
        return ExceptionManager.PASS


class KioskApp(App):
    title = "Guide kiosk"
    lang = StringProperty("en")
    languages = ListProperty([])  # the library's languages, in the operator's order
    native_names = ListProperty([])
    can_speak = BooleanProperty(False)
    theme = ObjectProperty(None)

    def __init__(self, settings: Settings, store: Store, engine: SessionEngine, *, sync_service: Any = None,
                 probe_path: str | None = None, tour_dir: str | None = None, **kwargs):
        from screens.theme import Theme

        super().__init__(**kwargs)
        self.settings, self.store, self.engine = settings, store, engine
        # The sync engineer's hook: an object with sync_now(progress) -> str and optionally
        # status() -> dict; it calls content_changed() after installing new content.
        self.sync_service = sync_service
        self.theme = Theme()
        self.lang = engine.default_language
        self.probe_path = probe_path
        self.tour_dir = tour_dir
        self.handoff_key = b""
        self._exiting = False
        self._last_activity = time.monotonic()
        self._overlay = None
        self._corner_taps: list[float] = []
        self._content_pending = False
        self._speech: subprocess.Popen | None = None
        self._helped = True
        self._last_input_t = 0.0
        self._probe_last = None
        self._probe_pending: dict = {}
        self._probe_event = None
        self._drawn_at = 0.0
        self._probe_frame = 0

    # --- building --------------------------------------------------------------------------------

    def build(self):
        from kivy.core.window import Window
        from kivy.uix.screenmanager import NoTransition, ScreenManager

        from screens.theme import register_fonts

        i18n.ensure_compiled()
        register_fonts()
        Window.show_cursor = False
        if self.settings.fullscreen:
            Window.fullscreen = "auto"  # with a window manager: above its panels, no borders
        Window.clearcolor = (0, 0, 0, 1)
        Window.bind(on_request_close=self._on_request_close, on_keyboard=self._on_keyboard,
                    on_textinput=self._on_textinput)
        Window.bind(on_touch_down=self._on_any_touch_down, on_touch_up=self._on_any_touch_up)
        ExceptionManager.add_handler(_BackToHome(self))
        self.can_speak = shutil.which("espeak-ng") is not None
        self._load_languages()

        from screens.attract import AttractScreen

        # Only the attract loop before the first frame; the other screens are built right after
        # it is on screen (or at once, if a touch comes first), so the kiosk shows something fast.
        self.sm = ScreenManager(transition=NoTransition())
        self.sm.add_widget(AttractScreen())
        self.screens = {s.name: s for s in self.sm.screens}

        def after_first_frame(*_):
            Window.unbind(on_flip=after_first_frame)
            Clock.schedule_once(lambda *_: self.build_screens(), 0)

        Window.bind(on_flip=after_first_frame)
        Clock.schedule_interval(self._idle_tick, 0.25)
        if self.probe_path:
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
        Clock.schedule_once(lambda *_: self.screens["attract"].on_activate(), 0)
        Clock.schedule_once(lambda *_: watchdog.notify("READY=1"), 0.5)
        interval = watchdog.watchdog_interval()
        if interval:  # pinged from the UI thread's clock: a hung UI stops the pings
            Clock.schedule_interval(lambda *_: watchdog.notify("WATCHDOG=1"), interval)
        if self.tour_dir:
            Clock.schedule_once(lambda *_: self._run_tour(), 0.5)
        return self.sm

    def build_screens(self) -> None:
        """Build every screen after the attract loop (once)."""
        if "home" in self.screens:
            return
        from screens.feedback import FeedbackScreen
        from screens.handoff import HandoffScreen
        from screens.home import HomeScreen
        from screens.outcome import OutcomeScreen
        from screens.staff_pin import StaffPinScreen
        from screens.staff_status import StaffStatusScreen
        from screens.step import StepScreen
        from screens.thanks import ThanksScreen

        for cls in (HomeScreen, StepScreen, OutcomeScreen, FeedbackScreen, ThanksScreen, HandoffScreen,
                    StaffPinScreen, StaffStatusScreen):
            screen = cls()
            self.sm.add_widget(screen)
            self.screens[screen.name] = screen

    def t(self, message: str, lang: str | None = None) -> str:
        """A UI string in `lang` (default: the customer's language). kv passes app.lang so the
        binding redraws the text when the language changes."""
        return i18n.tr(message, lang or self.lang)

    def _load_languages(self) -> None:
        have = self.store.languages() or [self.settings.default_language]
        ordered = [lang for lang in self.settings.languages if lang in have]
        ordered += [lang for lang in have if lang not in ordered]
        self.languages = ordered
        self.native_names = [i18n.NATIVE_NAMES.get(code, code) for code in ordered]

    # --- kiosk hardening -------------------------------------------------------------------------

    def _on_request_close(self, *_args, **_kwargs):
        return not self._exiting  # True keeps the window open: only staff mode Exit closes it

    def _on_keyboard(self, _window, key, *_args):
        self._touched()
        return key == 27  # Esc (and Android back) is swallowed: it never exits

    def _on_textinput(self, _window, text):
        self._touched()
        if self.sm.current == "feedback":
            self.screens["feedback"].on_text_input(text)
        elif self.sm.current == "home" and self.screens["home"].keyboard_open:
            for ch in text:
                self.screens["home"].on_key(ch)

    def recover(self) -> None:
        """After an error: home if a customer is mid-session, else the attract screen."""
        try:
            self._dismiss_overlay()
            if self.engine.session_id:
                try:
                    self.engine.go_home()
                except EngineError:
                    pass
                self._show("home")
            else:
                self.reset_to_attract()
        except Exception:
            log.exception("could not recover; resetting to the attract screen")
            self.sm.current = "attract"

    # --- touches, idle and the staff gesture ------------------------------------------------------

    def _touched(self) -> None:
        self._last_activity = time.monotonic()

    def _on_any_touch_down(self, window, touch):
        from kivy.metrics import dp

        self._touched()
        if self._overlay is not None:
            self.still_here()
            return True  # any touch answers "Are you still there?"
        corner = dp(STAFF_CORNER_DP)
        if touch.x >= window.width - corner and touch.y >= window.height - corner:
            now = time.monotonic()
            self._corner_taps = [t for t in self._corner_taps if now - t < STAFF_WINDOW] + [now]
            if len(self._corner_taps) >= STAFF_TAPS:
                self._corner_taps = []
                self.open_staff()
            return True  # corner taps are the gesture, never a customer's tap
        return False

    def _on_any_touch_up(self, _window, _touch):
        self._last_input_t = time.time()
        return False

    def _idle_tick(self, _dt) -> None:
        if self.sm.current == "attract":
            return
        elapsed = time.monotonic() - self._last_activity
        timeout, countdown = self.settings.idle_timeout, self.settings.idle_countdown
        if elapsed < timeout:
            return
        remaining = math.ceil(timeout + countdown - elapsed)
        if remaining <= 0:
            self.idle_timeout()
            return
        if self._overlay is None:
            self._open_overlay()
        self._overlay.remaining = remaining

    def _open_overlay(self) -> None:
        from screens.widgets import IdleOverlay

        self._overlay = IdleOverlay(remaining=math.ceil(self.settings.idle_countdown))
        self._overlay.open(animation=False)

    def _dismiss_overlay(self) -> None:
        if self._overlay is not None:
            self._overlay.dismiss(animation=False)
            self._overlay = None

    def still_here(self) -> None:
        self._touched()
        self._dismiss_overlay()

    def idle_timeout(self) -> None:
        """Nobody answered: record it, forget the session and go back to the attract loop."""
        if self.engine.session_id:
            self.engine.idle_timeout()
        self.reset_to_attract()

    def reset_to_attract(self) -> None:
        """Wipe every trace of the last customer from the screens, then show the attract loop."""
        self.build_screens()
        self._dismiss_overlay()
        self._stop_speech()
        self.lang = self.engine.default_language
        self.engine.language = self.engine.default_language
        self.theme.large_text = self.theme.high_contrast = self.theme.reach = False
        self.screens["home"].reset()
        self.screens["step"].view = None
        self.screens["outcome"].view = None
        self.screens["feedback"].reset(True)
        self.screens["handoff"].url = ""
        if self._content_pending:
            self._content_pending = False
            self._reload_content()
        self._show("attract")

    # --- the hook for the sync service -----------------------------------------------------------

    @mainthread
    def content_changed(self) -> None:
        """New content is installed. Screens are refreshed only between sessions, never under a
        customer's finger: mid-session the refresh waits for the session to end."""
        if self.sm.current in ("attract",) + STAFF_SCREENS:
            self._reload_content()
        else:
            self._content_pending = True

    def _reload_content(self) -> None:
        self._load_languages()
        if self.lang not in self.languages and self.languages:
            self.lang = self.languages[0]
        for screen in self.screens.values():
            screen.refresh()
        if self.sm.current == "attract":
            self.screens["attract"].on_activate()

    # --- navigation ------------------------------------------------------------------------------

    def _show(self, name: str) -> None:
        current = self.sm.current
        if current != name:
            self.screens[current].on_deactivate()
            self.sm.current = name
            self.screens[name].on_activate()

    def start_session(self) -> None:
        self.build_screens()
        self._touched()
        self.engine.start_session(self.lang)
        self.screens["home"].reset()
        self._show("home")

    def set_language(self, code: str) -> None:
        self.engine.set_language(code)
        self.lang = code
        screen = self.screens[self.sm.current]
        screen.refresh()

    # home's questions
    def categories(self):
        return self.store.categories(self.lang)

    def popular_guides(self):
        return self.store.popular_guides(self.lang, limit=6)

    def guides_in(self, category_id: str):
        return self.store.list_guides(self.lang, category_id)

    def search(self, text: str):
        return self.engine.search(text)

    def record_search(self, text: str, hits: int) -> None:
        self.engine.record_search(text, hits)

    def image_for(self, view: StepView) -> bytes | None:
        return self.store.image_for(view.guide_id, view.image) if view.image else None

    # moving through a guide
    def _show_view(self, view: StepView) -> None:
        self._stop_speech()
        if view.is_outcome:
            self.screens["outcome"].show(view)
            self._show("outcome")
        else:
            self.screens["step"].show(view)
            self._show("step")

    def open_guide(self, guide_id: str, via: str = "home") -> None:
        self._show_view(self.engine.open_guide(guide_id, via))

    def choose(self, index: int) -> None:
        self._show_view(self.engine.choose(index))

    def back(self) -> None:
        view = self.engine.back() if self.engine.session_id else None
        if view is None:
            self.go_home()
        else:
            self._show_view(view)

    def restart(self) -> None:
        self._show_view(self.engine.restart())

    def go_home(self) -> None:
        self._stop_speech()
        if self.engine.session_id:
            self.engine.go_home()
        self.screens["home"].show_browse()
        self._show("home")

    def finish_session(self) -> None:
        if self.engine.session_id:
            self.engine.end_session("done")
        self.reset_to_attract()

    # after the outcome
    def answer_helped(self, helped: bool) -> None:
        self._helped = helped
        self.screens["feedback"].reset(helped)
        self._show("feedback")

    def send_feedback(self, rating: int | None, comment: str) -> None:
        try:
            self.engine.feedback(self._helped, rating, comment)
        except EngineError as exc:  # given twice for the same outcome: thank them anyway
            log.info("feedback not recorded: %s", exc)
        self._show("thanks")

    # handoff
    def handoff_url(self) -> str:
        pos = self.engine.position
        if pos is None or not self.engine.session_id:
            raise EngineError("no guide is open")
        handoff = Handoff(device=self.settings.device, guide=pos.guide_id, version=pos.guide_version,
                          step=pos.step_id, path=pos.path, session=self.engine.session_id, lang=self.lang)
        return make_url(self.settings.handoff_base, handoff, self.handoff_key)

    def show_handoff(self) -> None:
        url = self.handoff_url()
        self.engine.handoff_shown(url)
        self.screens["handoff"].show(url, self.engine.current().guide_title)
        self._show("handoff")

    def close_handoff(self) -> None:
        self._show_view(self.engine.current())

    # read aloud
    def read_aloud(self) -> None:
        view = self.screens[self.sm.current].view if self.sm.current in ("step", "outcome") else None
        if view is None or not self.can_speak:
            return
        self._stop_speech()
        text = "\n".join([view.text, *view.choices])
        voice = ESPEAK_VOICES.get(view.language, view.language)
        threading.Thread(target=self._speak, args=(text, voice), daemon=True, name="speech").start()

    def _speak(self, text: str, voice: str) -> None:
        try:
            self._speech = subprocess.Popen(["espeak-ng", "-v", voice, text], stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL)
            self._speech.wait(timeout=120)
        except (OSError, subprocess.SubprocessError):  # no speaker, no espeak: stay silent
            log.info("read-aloud unavailable", exc_info=True)

    def _stop_speech(self) -> None:
        proc, self._speech = self._speech, None
        if proc is not None and proc.poll() is None:
            proc.terminate()

    # --- staff mode ------------------------------------------------------------------------------

    def open_staff(self) -> None:
        self.build_screens()
        self._dismiss_overlay()
        self._show("staff_pin")

    def check_staff_pin(self, pin: str, done: Callable[[bool], None]) -> None:
        def work():
            ok = self.settings.check_staff_pin(pin)
            finish(ok)

        @mainthread
        def finish(ok: bool):
            done(ok)
            if ok:
                if self.engine.session_id:
                    self.engine.end_session("staff")
                self._show("staff_status")
            else:
                log.warning("wrong staff PIN entered")

        threading.Thread(target=work, daemon=True, name="pin-check").start()

    def leave_staff(self) -> None:
        self.reset_to_attract()

    def exit_app(self) -> None:
        log.info("staff closed the kiosk app")
        self._exiting = True
        self._stop_speech()
        self.stop()

    def staff_status(self, done: Callable[[list[str]], None]) -> None:
        from kiosk.status import status_report

        def work():
            report = status_report(self.settings, self.store)
            reach = self._server_reachability()
            lines = self._status_lines(report, reach)
            finish(lines)

        @mainthread
        def finish(lines):
            done(lines)

        threading.Thread(target=work, daemon=True, name="staff-status").start()

    def _server_reachability(self) -> str:
        if self.sync_service is not None and hasattr(self.sync_service, "reachable"):
            try:
                return self.t("reachable") if self.sync_service.reachable() else self.t("not reachable")
            except Exception:  # noqa: BLE001 - whatever the service raises, the server is not reachable
                return self.t("not reachable")
        if not self.settings.server_url:
            return self.t("no server configured")
        import requests

        try:
            requests.get(self.settings.server_url.rstrip("/") + "/api/v1/health", timeout=3)
            return self.t("reachable")
        except requests.RequestException:
            return self.t("not reachable")

    def _status_lines(self, report: dict, reach: str) -> list[str]:
        last = report.get("last_sync") or {}
        last_text = (f"{last.get('result', '')} {last.get('at', '')} {last.get('error') or ''}".strip()
                     or self.t("never"))
        return [
            self.t("Device: {value}").format(value=report["device"]),
            self.t("Content version: {value}").format(value=report["content_version"]),
            self.t("Guides: {value}").format(value=report["guides"]),
            self.t("Languages: {value}").format(value=", ".join(report["languages"])),
            self.t("Last sync: {value}").format(value=last_text),
            self.t("Events waiting to send: {value}").format(value=report["outbox_depth"]),
            self.t("Server: {value}").format(value=reach),
            self.t("Free disk: {value} GB").format(value=f"{report['free_disk_bytes'] / 1e9:.1f}"),
            self.t("App version: {value}").format(value=report["app_version"]),
        ]

    def staff_sync(self, progress: Callable[[str, float], None], done: Callable[[str], None]) -> None:
        if self.sync_service is None:
            done(self.t("No server is configured, so there is nothing to sync."))
            return

        def work():
            try:
                result = self.sync_service.sync_now(progress=mainthread(progress))
                finish(str(result) if result else self.t("Sync finished."))
            except Exception as exc:
                log.exception("sync from staff mode failed")
                finish(self.t("Sync failed: {error}").format(error=exc))

        @mainthread
        def finish(message: str):
            done(message)

        threading.Thread(target=work, daemon=True, name="staff-sync").start()

    def staff_import_candidates(self, done: Callable[[list[str]], None]) -> None:
        """Folders and bundle files that look like a guide library on mounted media (USB sticks),
        found on a thread: a slow or dead drive must not freeze the screen."""
        from contract.bundle import BUNDLE_SUFFIXES

        roots = os.environ.get("KIOSK_IMPORT_ROOTS", "/media:/run/media:/mnt").split(os.pathsep)

        def work():
            found: list[str] = []
            for root in roots:
                for folder, dirs, files in os.walk(root):
                    depth = Path(folder).relative_to(root).parts
                    if len(depth) >= 3:
                        dirs.clear()
                    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                    if any(f.endswith((".yaml", ".yml")) for f in files):
                        found.append(folder)
                    found += [str(Path(folder) / f) for f in sorted(files) if f.lower().endswith(BUNDLE_SUFFIXES)]
                    if len(found) >= 30:
                        break
            finish(found[:30])

        @mainthread
        def finish(found):
            done(found)

        threading.Thread(target=work, daemon=True, name="import-scan").start()

    def staff_import(self, path: str, done: Callable[[str], None]) -> None:
        from contract.bundle import open_library
        from contract.guides import LibraryInvalid

        def work():
            try:
                library = open_library(path)
                counts = self.store.import_library(library)
                message = self.t("Imported {n} guides ({added} added, {changed} changed, {removed} removed).").format(
                    n=len(library), added=counts["added"], changed=counts["changed"], removed=counts["removed"])
                finish(message, True)
            except LibraryInvalid as exc:
                head = self.t("Not imported: {n} problem(s). The kiosk's content is unchanged.").format(
                    n=len(exc.problems))
                finish("\n".join([head, *(f"- {p}" for p in exc.problems[:30])]), False)
            except Exception as exc:
                log.exception("import from %s failed", path)
                finish(self.t("Not imported: {error}").format(error=exc), False)

        @mainthread
        def finish(message: str, changed: bool):
            done(message)
            if changed:
                self.content_changed()

        threading.Thread(target=work, daemon=True, name="staff-import").start()

    # --- the UI tests' probe ---------------------------------------------------------------------

    def _before_flip(self, *_):
        self._drawn_at = time.time()  # the UI thread's work for this frame is done; the swap follows

    def _write_probe(self, window, *_):
        """After a frame that changed what is on screen, write what a person would see: the
        screen, visible texts, and every tappable button with its centre in screen pixels."""
        flipped_at = time.time()
        snap = self.snapshot(window)
        if snap == self._probe_last:
            return
        self._probe_last = snap
        self._probe_frame += 1
        # every changed frame since the last write, so a benchmark can find the first frame that
        # showed something, not only the settled one
        frames = (self._probe_pending.get("frames", []) if self._probe_event is not None else [])[-15:]
        frames.append({"t": flipped_at, "drawn_t": self._drawn_at, "labels": snap["labels"][:6]})
        self._probe_pending = dict(snap, frame=self._probe_frame, t=flipped_at, drawn_t=self._drawn_at,
                                   input_t=self._last_input_t, frames=frames)
        # Written once the screen has settled (no changed frame for PROBE_SETTLE s): a layout can
        # take a few frames, and a test must not aim at a button that is still moving.
        if self._probe_event is not None:
            self._probe_event.cancel()
        self._probe_event = Clock.schedule_once(self._commit_probe, PROBE_SETTLE)

    def _commit_probe(self, *_):
        self._probe_event = None
        tmp = self.probe_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self._probe_pending, fh, ensure_ascii=False)
        os.replace(tmp, self.probe_path)

    def snapshot(self, window) -> dict:
        from kivy.uix.button import Button
        from kivy.uix.label import Label
        from kivy.uix.scrollview import ScrollView

        labels: list[str] = []
        buttons: list[dict] = []
        height = window.height
        left, top = int(window.left), int(window.top)

        def walk(widget, clip):
            if widget.opacity == 0 or widget.width < 1 or widget.height < 1:
                return
            if isinstance(widget, ScrollView):
                x0, y0 = widget.to_window(widget.x, widget.y)
                box = (x0, y0, x0 + widget.width, y0 + widget.height)
                clip = (max(clip[0], box[0]), max(clip[1], box[1]), min(clip[2], box[2]), min(clip[3], box[3]))
            if isinstance(widget, Label):
                cx, cy = widget.to_window(*widget.center)
                if clip[0] <= cx <= clip[2] and clip[1] <= cy <= clip[3]:
                    text = getattr(widget, "raw", None) or widget.text
                    if isinstance(widget, Button):
                        if not widget.disabled:
                            buttons.append({"text": text, "id": getattr(widget, "probe_id", ""),
                                            "x": left + round(cx), "y": top + round(height - cy)})
                    elif text.strip():
                        labels.append(text)
            for child in reversed(widget.children):
                walk(child, clip)

        full = (0, 0, window.width, window.height)
        overlay = self._overlay is not None
        roots = [self._overlay] if overlay else list(reversed(window.children))
        for root in roots:
            walk(root, full)
        mx, my = window.mouse_pos
        return {"screen": self.sm.current, "overlay": overlay, "mouse": [left + round(mx), top + round(height - my)], "lang": self.lang, "session": self.engine.session_id,
                "labels": labels, "buttons": buttons}

    # --- screenshots of every screen (`kiosk screenshots DIR`) ----------------------------------

    def _run_tour(self) -> None:
        from screens.tour import tour

        self.build_screens()
        steps = iter(tour(self, Path(self.tour_dir)))

        def advance(*_):
            try:
                wait = next(steps)
            except StopIteration:
                self._exiting = True
                self.stop()
                return
            Clock.schedule_once(advance, wait)

        Clock.schedule_once(advance, 0.3)


def run_app(settings: Settings, store: Store, *, sync_service: Any = None, tour_dir: str | None = None) -> int:
    configure_kivy(settings)
    engine = SessionEngine(store, settings.device, default_language=settings.default_language)
    token = settings.token or store.get_state("handoff_local_secret")
    if not token:
        # No device token yet: sign with a local secret so the QR still works on this kiosk's
        # own server once it is registered (the server learns the key at registration).
        token = secrets.token_hex(16)
        store.set_state("handoff_local_secret", token)
    app = KioskApp(settings, store, engine, sync_service=sync_service,
                   probe_path=os.environ.get("KIOSK_TEST_PROBE") or None, tour_dir=tour_dir)
    app.handoff_key = handoff_key(token)
    if sync_service is not None:
        # New content is switched in only while no customer is mid-session (docs/sync.md), and
        # the screens refresh on the UI thread once it is (content_changed is @mainthread).
        sync_service.may_switch = lambda: engine.session_id is None
        sync_service.on_content_changed = lambda version: app.content_changed()

    def on_sigterm(_signum, _frame):  # `systemctl stop`: leave cleanly, between two frames
        Clock.schedule_once(lambda *_: app.exit_app(), 0)

    signal.signal(signal.SIGTERM, on_sigterm)
    app.run()
    return 0
