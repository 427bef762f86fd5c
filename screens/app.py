"""KioskApp: the Kivy application, and `run_app`, which starts it.

The store, the settings, the session engine and the sync service are built outside and handed in,
as Electrum hands its window the config and network. The screens ask the App to navigate and the
App asks the engine; nothing on screen touches SQLite or the network, and anything slow (PIN
hashing, imports, sync, status checks, speech) runs on a thread and comes back on the UI thread.

Navigation state lives here as Kivy properties (`lang`, `languages`); when a session ends, every
screen is reset and the engine forgets the session, so Back can never reach the last customer.
The rest has its own module: window set-up (screens/window.py), the idle timer and the staff
gesture (screens/idle.py), audio mode's focus and keys (screens/focus.py, speaking through the
one Speaker of kiosk/speech.py) and staff mode (screens/staff.py).
Dev tools (the UI tests' probe, the screenshot tour) are attached from outside, via `dev_tools`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from typing import Any

os.environ.setdefault("KIVY_NO_ARGS", "1")
# SDL would turn SIGTERM into a window-close request, which the kiosk refuses; systemd's stop
# must still stop it, so the signal is handled below instead.
os.environ.setdefault("SDL_NO_SIGNAL_HANDLERS", "1")

from kivy.app import App
from kivy.base import ExceptionHandler, ExceptionManager
from kivy.clock import Clock, mainthread
from kivy.properties import BooleanProperty, ListProperty, ObjectProperty, StringProperty

from contract.guides import pick
from kiosk import i18n, untranslated, watchdog
from kiosk.collector import Collector
from kiosk.engine import EngineError, SessionEngine, StepView
from kiosk.handoff import HandoffLinks
from kiosk.keymap import KeyMap
from kiosk.settings import Settings
from kiosk.speech import Speaker, Utterance, language_of
from offline_cache.lexicon import PinyinLexicon
from offline_cache.store import Store
from screens.background import run_in_background
from screens.focus import Navigator, key_name
from screens.idle import IdleWatch
from screens.staff import StaffController
from screens.window import configure_kivy

log = logging.getLogger(__name__)

CUSTOMER_SCREENS = ("home", "step", "outcome", "person", "feedback", "thanks", "handoff")
STAFF_SCREENS = ("staff_pin", "staff_new_pin", "staff_status")


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
    reading_aloud = BooleanProperty(False)  # "Read aloud" is being spoken: its button offers Stop
    audio_mode = BooleanProperty(False)  # keys move a visible focus and speech says it (screens/focus.py)
    can_hand_off = BooleanProperty(False)  # "Continue on your phone" is offered (kiosk/handoff.py)
    theme = ObjectProperty(None)

    def __init__(self, settings: Settings, store: Store, engine: SessionEngine, *, sync_service: Any = None,
                 handoff: HandoffLinks | None = None, dev_tools: Sequence[Callable[[KioskApp], None]] = (),
                 pinyin: PinyinLexicon | None = None, speaker: Speaker | None = None, **kwargs):
        from screens.theme import Theme

        super().__init__(**kwargs)
        self.settings, self.store, self.engine = settings, store, engine
        # The sync engineer's hook: an object with sync_now(progress) -> str and optionally
        # reachable() -> bool; it calls content_changed() after installing new content.
        self.sync_service = sync_service
        self.theme = Theme(settings.panel_diagonal_in, settings.panel_bottom_mm, brand=self._brand(settings))
        self.logo = self._logo(settings)  # the site's PNG for the attract screen, or None
        self.fbind("lang", lambda *_: setattr(self.theme, "rtl", i18n.is_rtl(self.lang)))
        self.lang = engine.default_language
        self.theme.rtl = i18n.is_rtl(self.lang)
        self.dev_tools = dev_tools  # each is called with the App once its window exists
        self.handoff = handoff or HandoffLinks(settings)
        # the Chinese keyboard's candidates; opened (built the first time) when it first shows
        self.pinyin = pinyin or PinyinLexicon(settings.data_path / "pinyin.sqlite")
        self.can_hand_off = self.handoff.available
        # one speech queue for everything said (kiosk/speech.py); its state comes back from its thread
        self.speaker = speaker or Speaker(volume=settings.speech_volume, rate=settings.speech_rate)
        self.speaker.on_speaking = lambda tag: Clock.schedule_once(
            lambda *_: setattr(self, "reading_aloud", tag == "read-aloud"), 0)
        self.navigator = Navigator(self, KeyMap.from_settings(settings), self.speaker,
                                   on_audio_mode=lambda on: setattr(self, "audio_mode", on))
        self.idle = IdleWatch(settings, is_resting=lambda: self.sm.current == "attract",
                              on_timeout=self.idle_timeout, on_staff_gesture=self.open_staff,
                              corner_px=lambda: self.theme.staff_corner,
                              is_assisted=lambda: self.audio_mode or self.theme.large_text,
                              on_overlay=self.navigator.screen_changed)
        self.staff = StaffController(settings, store, sync_service=sync_service, translate=self.t,
                                     content_changed=self.content_changed)
        self._exiting = False
        self._content_pending = False
        # full garbage collections between two sessions, never under a finger (kiosk/collector.py);
        # KIOSK_GC_TUNING=0 leaves CPython's own (bench/bench_ui.py compares the two)
        self.collector = Collector(tune=os.environ.get("KIOSK_GC_TUNING", "1") != "0")
        # "Did this help?" answered and not yet recorded: the one feedback event of this outcome
        # is written when the traveller is done with it (shared/DESIGN.md), stars and comment
        # included if they asked to tell us more
        self._helped: bool | None = None
        self._languages_of: dict[str, tuple[str, ...]] | None = None

    # --- building --------------------------------------------------------------------------------

    def build(self):
        from kivy.core.window import Window
        from kivy.uix.screenmanager import NoTransition, ScreenManager

        from screens.theme import register_fonts

        i18n.ensure_compiled()
        register_fonts()
        Window.show_cursor = False
        self.theme.follow_window(Window)  # millimetres and portrait, from the window's size
        if self.settings.fullscreen:
            Window.fullscreen = "auto"  # with a window manager: above its panels, no borders
        Window.clearcolor = (0, 0, 0, 1)
        Window.bind(on_request_close=self._on_request_close, on_keyboard=self._on_keyboard,
                    on_textinput=self._on_textinput)
        self.idle.attach(Window)
        ExceptionManager.add_handler(_BackToHome(self))
        self.can_speak = self.speaker.available
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
            # then, with every screen made, what lives for ever is frozen (kiosk/collector.py): in
            # the frame after, while the kiosk is still busy starting anyway
            Clock.schedule_once(lambda *_: self.collector.settled(), 0)

        Window.bind(on_flip=after_first_frame)
        Clock.schedule_once(lambda *_: self.screens["attract"].on_activate(), 0)
        Clock.schedule_once(lambda *_: watchdog.notify("READY=1"), 0.5)
        interval = watchdog.watchdog_interval()
        if interval:  # pinged from the UI thread's clock: a hung UI stops the pings
            Clock.schedule_interval(lambda *_: watchdog.notify("WATCHDOG=1"), interval)
        for attach in self.dev_tools:
            attach(self)
        return self.sm

    def build_screens(self) -> None:
        """Build every screen after the attract loop (once)."""
        if "home" in self.screens:
            return
        from screens.feedback import FeedbackScreen
        from screens.handoff import HandoffScreen
        from screens.home import HomeScreen
        from screens.outcome import OutcomeScreen
        from screens.person import PersonScreen
        from screens.staff_new_pin import StaffNewPinScreen
        from screens.staff_pin import StaffPinScreen
        from screens.staff_status import StaffStatusScreen
        from screens.step import StepScreen
        from screens.thanks import ThanksScreen

        for cls in (HomeScreen, StepScreen, OutcomeScreen, PersonScreen, FeedbackScreen, ThanksScreen, HandoffScreen,
                    StaffPinScreen, StaffNewPinScreen, StaffStatusScreen):
            screen = cls()
            self.sm.add_widget(screen)
            self.screens[screen.name] = screen

    def t(self, message: str, lang: str | None = None) -> str:
        """A UI string in `lang` (default: the customer's language). kv passes app.lang so the
        binding redraws the text when the language changes."""
        return i18n.tr(message, lang or self.lang)

    def _load_languages(self) -> None:
        self._languages_of = None  # each guide's languages, read again for new content
        have = self.store.languages() or [self.settings.default_language]
        ordered = [lang for lang in self.settings.languages if lang in have]
        ordered += [lang for lang in have if lang not in ordered]
        self.languages = ordered
        self.native_names = [i18n.NATIVE_NAMES.get(code, code) for code in ordered]

    # --- kiosk hardening -------------------------------------------------------------------------

    def _install_settings_keys(self, window):
        """Kivy's App opens its settings panel on F1 (a customer could reach the kiosk's
        configuration from any keyboard); here F1 is audio mode's Help, and nothing opens it."""

    def open_settings(self, *_args):
        return False

    def _on_request_close(self, *_args, **_kwargs):
        return not self._exiting  # True keeps the window open: only staff mode Exit closes it

    def _on_keyboard(self, window, key, _scancode=None, _codepoint=None, modifiers=()):
        if self.idle.overlay is None:  # the idle dialog is answered by "More time", not by any key
            self.idle.touched()
        name = key_name(key)
        if name and self.navigator.on_key(name, modifiers or ()):
            return True
        return key == 27  # Esc (and Android back) is swallowed: it never exits

    def _on_textinput(self, _window, text):
        self.idle.touched()
        if self.sm.current == "feedback":
            self.screens["feedback"].on_text_input(text)
        elif self.sm.current == "home" and self.screens["home"].keyboard_open:
            for ch in text:
                self.screens["home"].on_key(ch)

    def recover(self) -> None:
        """After an error: home if a customer is mid-session, else the attract screen."""
        try:
            self.idle.dismiss_overlay()
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

    # --- idle -----------------------------------------------------------------------------------

    def idle_timeout(self) -> None:
        """Nobody answered: record it, forget the session and go back to the attract loop."""
        if self.engine.session_id:
            self._record_feedback()
            self.engine.idle_timeout()
        self.reset_to_attract()

    def reset_to_attract(self) -> None:
        """Wipe every trace of the last customer from the screens, then show the attract loop."""
        self.build_screens()
        self.idle.dismiss_overlay()
        self.navigator.reset()  # audio mode off, speech silenced, the volume back: the next one starts fresh
        self._helped = None
        self.lang = self.engine.default_language
        self.engine.language = self.engine.default_language
        self.theme.reset_modes()
        self.screens["home"].reset()
        self.screens["step"].view = None
        self.screens["outcome"].view = None
        self.screens["feedback"].reset(True)
        self.screens["handoff"].url = ""
        reloaded = self._content_pending
        if self._content_pending:
            self._content_pending = False
            self._reload_content()
        self._show("attract")
        self._between_sessions(reloaded)

    def _between_sessions(self, reloaded: bool) -> None:
        """The moment between two customers: content a sync staged during the session is switched
        in now (off the UI thread; content_changed() then reloads the screens), and the full garbage
        collection runs once the attract loop is drawn."""
        service = self.sync_service
        if service is not None and getattr(service, "has_staged", False):
            run_in_background(service.switch_staged, lambda _switched: None, name="content-switch")
        Clock.schedule_once(lambda *_: self.collector.between_sessions(reloaded), 0.1)

    # --- the hook for the sync service -----------------------------------------------------------

    @mainthread
    def content_changed(self) -> None:
        """New content is installed. Screens are refreshed only between sessions, never under a
        customer's finger: mid-session the refresh waits for the session to end."""
        if self.sm.current in ("attract",) + STAFF_SCREENS:
            self._reload_content()
            Clock.schedule_once(lambda *_: self.collector.between_sessions(True), 0.1)
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
            self.navigator.screen_changed()

    def start_session(self, lang: str | None = None) -> None:
        """A new customer, in `lang` (the language they touched on the attract loop)."""
        self.build_screens()
        self.idle.touched()
        if lang:
            self.lang = lang
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

    @staticmethod
    def _brand(settings) -> dict[str, str]:
        """The brand colours, unless they break a contrast rule: then the kiosk's own, and the log
        says why (`kiosk config check` refuses them by name)."""
        from contract.brand import brand_problems

        brand = settings.brand()
        problems = brand_problems(brand)
        for problem in problems:
            log.error("brand colours not used: %s", problem)
        return {} if problems else brand

    @staticmethod
    def _logo(settings) -> bytes | None:
        from contract.brand import read_logo
        from contract.images import ImageRefused

        if settings.logo_path is None:
            return None
        try:
            return read_logo(settings.logo_path)
        except ImageRefused as exc:
            log.error("no logo shown: %s", exc)
            return None

    def guide_icon(self, guide_id: str) -> str:
        """The pictogram a guide names (contract/icons.py), or ""."""
        return self.store.guide_icons().get(guide_id, "")

    def popular_guides(self):
        if self.settings.untranslated == "hide":  # the six most used that this language has
            return [g for g in self.store.popular_guides(self.lang, limit=10_000) if self._listed(g.id)][:6]
        return self.store.popular_guides(self.lang, limit=6)

    def guides_in(self, category_id: str, lang: str | None = None):
        """A category's guides in `lang` (the session's by default); safe off the UI thread (home
        reads a long category on its list worker): it reads only the store."""
        lang = lang or self.lang
        return [g for g in self.store.list_guides(lang, category_id) if self._listed(g.id, lang)]

    def search(self, text: str):
        return self.engine.search(text)

    def search_results(self, text: str, lang: str | None = None):
        """What the traveller sees for `text` in `lang` (the session's language by default).
        Safe off the UI thread (home runs it on its search worker): it reads only the store."""
        lang = lang or self.lang
        results = self.engine.search_results(text, lang=lang)
        if self.settings.untranslated == "hide":
            results = dataclasses.replace(results, hits=[h for h in results.hits if self._listed(h.guide_id, lang)])
        return results

    def untranslated_language(self, guide_id: str, lang: str | None = None) -> str | None:
        """The language a guide is shown in when it is not written in `lang` (the customer's by
        default): its own (kiosk.toml `untranslated = "mark"` tags it with that language's name);
        None when it is."""
        return untranslated.own_language(self._guide_languages().get(guide_id, ()), lang or self.lang)

    def _listed(self, guide_id: str, lang: str | None = None) -> bool:
        return untranslated.listed(self._guide_languages().get(guide_id, ()), lang or self.lang,
                                   self.settings.untranslated)

    def _guide_languages(self) -> dict[str, tuple[str, ...]]:
        if self._languages_of is None:
            self._languages_of = {g.id: tuple(g.languages) for g in self.store.list_guides()}
        return self._languages_of

    def record_search(self, text: str, hits: int, **correction) -> None:
        self.engine.record_search(text, hits, **correction)

    def image_for(self, view: StepView) -> bytes | None:
        return self.store.image_for(view.guide_id, view.image) if view.image else None

    # moving through a guide
    def _show_view(self, view: StepView) -> None:
        self.speaker.stop()
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
        self.speaker.stop()
        if self.engine.session_id:
            self._record_feedback()
            self.engine.go_home()
        self.screens["home"].show_browse()
        self._show("home")

    def finish_session(self) -> None:
        if self.engine.session_id:
            self._record_feedback()
            self.engine.end_session("done")
        self.reset_to_attract()

    # after the outcome: one tap ("Did this help?"), then thanks, or where a person is
    def answer_helped(self, helped: bool) -> None:
        self._helped = helped
        if helped:
            self.screens["thanks"].kind = "helped"
            self._show("thanks")
        else:
            self.screens["person"].show(self.where_to_find_a_person())
            self._show("person")

    def where_to_find_a_person(self) -> str | None:
        """From the library (per site, per guide) or the guide's own `help` (kiosk/people.py)."""
        from kiosk.people import where_to_find_a_person

        view = self.engine.current() if self.engine.position is not None else None
        guide = self.store.guide(view.guide_id)[0] if view is not None else None
        return where_to_find_a_person(self.store.library_settings(), guide, self.settings.site, self.lang)

    def guide_help(self) -> str:
        """The current guide's own `help` in the customer's language (else its default language),
        or "" when it has none or no guide is open: what audio mode's Help key reads there."""
        view = self.engine.current() if self.engine.position is not None else None
        guide = self.store.guide(view.guide_id)[0] if view is not None else None
        return pick(guide.help, self.lang, guide.language) if guide is not None and guide.help else ""

    def tell_us_more(self) -> None:
        """Stars and a comment, only when the traveller asks for them."""
        self.screens["feedback"].reset(bool(self._helped))
        self._show("feedback")

    def send_feedback(self, rating: int | None, comment: str) -> None:
        """Send on "tell us more": thanked as feedback only when there was some."""
        given = rating is not None or bool(comment.strip())
        self._record_feedback(rating, comment)
        self.screens["thanks"].kind = "feedback" if given else "plain"
        self._show("thanks")

    def _record_feedback(self, rating: int | None = None, comment: str = "") -> None:
        """The outcome's one feedback event, if "Did this help?" was answered and not yet sent."""
        if self._helped is None or not self.engine.session_id:
            return
        helped, self._helped = self._helped, None
        try:
            self.engine.feedback(helped, rating, comment)
        except EngineError as exc:  # given twice for the same outcome: thank them anyway
            log.info("feedback not recorded: %s", exc)

    # handoff
    def handoff_url(self) -> str:
        pos = self.engine.position
        if pos is None or not self.engine.session_id:
            raise EngineError("no guide is open")
        return self.handoff.url_for(pos, self.engine.session_id, self.lang)

    def show_handoff(self) -> None:
        if not self.can_hand_off:  # the button is not drawn then; a stray call must not make a QR
            log.warning("handoff asked for, but this kiosk has no token or no public server address")
            return
        url = self.handoff_url()
        self.engine.handoff_shown(url)
        self.screens["handoff"].show(url, self.engine.current().guide_title)
        self._show("handoff")

    def close_handoff(self) -> None:
        self._show_view(self.engine.current())

    # read aloud
    def read_aloud(self) -> None:
        """The step (or outcome) and its answers, in the step's language; pressed while reading, stop."""
        view = self.screens[self.sm.current].view if self.sm.current in ("step", "outcome") else None
        if view is None or not self.can_speak:
            return
        if self.reading_aloud:
            self.speaker.stop()
            self.reading_aloud = False
            return
        texts = [view.text, *view.choices]
        self.speaker.say([Utterance(t, language_of(t, view.language)) for t in texts], tag="read-aloud")

    # --- staff mode ------------------------------------------------------------------------------

    def open_staff(self) -> None:
        self.build_screens()
        self.idle.dismiss_overlay()
        self._show("staff_pin")

    def open_staff_status(self) -> None:
        """The PIN was right: no customer session survives into staff mode."""
        if self.engine.session_id:
            self._record_feedback()
            self.engine.end_session("staff")
        self._show("staff_status")

    def open_staff_new_pin(self) -> None:
        """The PIN was right but the factory one: a new PIN first, then staff mode."""
        if self.engine.session_id:
            self.engine.end_session("staff")
        self._show("staff_new_pin")

    def leave_staff(self) -> None:
        self.reset_to_attract()

    def exit_app(self) -> None:
        self.shut_down("staff closed the kiosk app")

    def shut_down(self, why: str) -> None:
        log.info("%s", why)
        if self.engine.session_id:  # closed now, not as "interrupted" by the next start
            self.engine.end_session("shutdown")
        self._exiting = True
        self.speaker.close()
        self.stop()


def run_app(settings: Settings, store: Store, *, sync_service: Any = None,
            dev_tools: Sequence[Callable[[KioskApp], None]] = (), speaker: Speaker | None = None) -> int:
    configure_kivy(settings)
    engine = SessionEngine(store, settings.device, default_language=settings.default_language)
    engine.close_interrupted_session()  # a session the last run left open (a crash, a power cut)
    app = KioskApp(settings, store, engine, sync_service=sync_service, handoff=HandoffLinks(settings, lambda: store.get_state("server_protocol")),
                   dev_tools=dev_tools, speaker=speaker)
    if sync_service is not None:
        # New content is switched in only while no customer is mid-session (docs/sync.md), and
        # the screens refresh on the UI thread once it is (content_changed is @mainthread).
        sync_service.may_switch = lambda: engine.session_id is None
        sync_service.on_content_changed = lambda version: app.content_changed()

    def on_sigterm(_signum, _frame):  # `systemctl stop`: leave cleanly, between two frames
        Clock.schedule_once(lambda *_: app.shut_down("SIGTERM: leaving"), 0)

    signal.signal(signal.SIGTERM, on_sigterm)
    app.run()
    return 0
