"""`kiosk screenshots DIR`: walk the real app through every screen in a few languages and save a
PNG of each, so a person can look at what a customer sees (cut-off text, tofu boxes, Arabic).

`tour()` is a generator driven by the App's clock: each `yield` gives the seconds to let the UI
settle and draw before the next picture is taken. kiosk/cli.py attaches it (`ScreenshotTour`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import deque
from pathlib import Path

from kivy.clock import Clock

log = logging.getLogger(__name__)

# empty: no customer or staff screens, only the keyboards (KIOSK_TOUR_KEYBOARDS) and the modes' pictures
LANGUAGES = tuple(filter(None, os.environ.get("KIOSK_TOUR_LANGUAGES", "en,zh,ar").split(",")))
SEARCH_WORDS = {"en": "bag", "zh": "行李", "ar": "حقيبة", "es": "maleta", "fr": "valise", "de": "koffer"}

SETTLE = float(os.environ.get("KIOSK_TOUR_SETTLE", "0.6"))
# whose keyboards are photographed (<lang>-20-keyboard ...); zh builds the pinyin lexicon first
KEYBOARDS = tuple(filter(None, os.environ.get("KIOSK_TOUR_KEYBOARDS", "en,es,fr,de,ar,zh").split(",")))
# KIOSK_TOUR_PROBES=1: beside each PNG, `<name>.json`, the UI probe's snapshot of that screen
# (controls and labels with their boxes, the panel's mm): what the layout audit reads
# (tests/ui/test_layout_audit.py)
PROBES = os.environ.get("KIOSK_TOUR_PROBES") == "1"
# KIOSK_TOUR_CUSTOMER_ONLY=1: only what a customer sees (01-11, 27-28), no staff screens or modes
CUSTOMER_ONLY = os.environ.get("KIOSK_TOUR_CUSTOMER_ONLY") == "1"
# KIOSK_TOUR_MODES: the customer screens again in each mode after "normal" (DIR/<mode>/<lang>-NN-
# <screen>.png, shared/DESIGN.md): large (large text), contrast (high contrast)
MODES = tuple(m for m in os.environ.get("KIOSK_TOUR_MODES", "normal").split(",") if m)
MODE_SWITCHES = {"normal": {}, "large": {"large_text": True}, "contrast": {"high_contrast": True},
                 "reach": {"reach": True}}


def press_key(name: str, modifiers: tuple[str, ...] = ()) -> None:
    """A key as SDL2 delivers it to Kivy: on_key_down, then on_keyboard unless it was taken."""
    from kivy.core.window import Window

    code = Window._system_keyboard.string_to_keycode(name)
    if not Window.dispatch("on_key_down", code, 0, None, list(modifiers)):
        Window.dispatch("on_keyboard", code, 0, None, list(modifiers))
    Window.dispatch("on_key_up", code, 0)


def focus_walk(app) -> list[dict]:
    """Tab through the screen as it is, with audio mode's keys (screens/focus.py), once round:
    each control that took the focus, with what was said for it. The probe's `focus_walk`; the
    layout audit checks every probed control is in it (tests/ui/test_layout_audit.py)."""
    from kivy.core.window import Window

    from screens.focus import control_label

    nav = app.navigator
    nav.audio_mode, nav.focused, nav._focus_key = True, None, None  # on, without its announcement
    walked: list[dict] = []
    # A long list (screens/lists.py) has widgets for the rows on screen only, and recycles them as
    # the focus scrolls it: the round is as long as every row, and it is over when the first
    # control's id and label come back, not its widget (which may be showing another row by then).
    rows = sum(len(w.data) for w in app.root.walk(restrict=True) if hasattr(w, "step_from"))
    try:
        for _ in range(len(nav.controls()) + rows + 1):
            press_key("tab")
            widget = nav._current()
            if widget is None or (walked and nav._key_of(widget) == (walked[0]["id"], walked[0]["text"])):
                break
            x, y = widget.to_window(widget.x, widget.y)
            walked.append({"widget": widget, "id": getattr(widget, "probe_id", ""), "text": control_label(widget),
                           "said": app.speaker.last.texts if app.speaker.last else [],
                           "box": [round(x), round(Window.height - y - widget.height), round(widget.width),
                                   round(widget.height)]})
    finally:
        nav.reset()
    return [{k: v for k, v in step.items() if k != "widget"} for step in walked]


def _paths_to_outcomes(guide) -> dict[str, tuple[int, ...]]:
    """The shortest choice path from the guide's start to its first resolved and escalate steps
    (following only steps inside the guide)."""
    found: dict[str, tuple[int, ...]] = {}
    queue = deque([(guide.start, ())])
    seen = {guide.start}
    while queue:
        sid, path = queue.popleft()
        step = guide.steps[sid]
        if step.end and step.end not in found:
            found[step.end] = path
        for i, choice in enumerate(step.choices):
            if choice.next and choice.next not in seen:
                seen.add(choice.next)
                queue.append((choice.next, path + (i,)))
    return found


def _demo_guide(app):
    """A guide with an image on its first step and both kinds of outcome, if the library has one."""
    best = None
    for summary in app.store.list_guides("en"):
        guide, _ = app.store.guide(summary.id)
        outcomes = _paths_to_outcomes(guide)
        score = (guide.steps[guide.start].image is not None) + len(outcomes) + ("zh" in guide.languages)
        if best is None or score > best[0]:
            best = (score, guide, outcomes)
    return best[1], best[2]


def tour(app, out: Path):
    from kivy.core.window import Window

    out.mkdir(parents=True, exist_ok=True)
    from screens.devtools.probe import Probe

    prober = Probe(str(out / "probe.json"))
    prober.app = app
    folder = {"dir": out}

    def shoot(name: str, focus: bool = False) -> None:
        """The picture, and with PROBES its snapshot; with `focus` (the customer screens, which
        the layout audit reads) also a round of audio mode's focus through every control."""
        where = folder["dir"]
        where.mkdir(parents=True, exist_ok=True)
        target = where / f"{name}.png"
        target.unlink(missing_ok=True)
        Window.dispatch("on_draw")  # draw now, then read the back buffer before any flip
        written = Window.screenshot(name=str(where / f"{name}-shot.png"))
        os.replace(written, target)
        if PROBES:
            snap = prober.snapshot(Window)
            if focus:
                snap["focus_walk"] = focus_walk(app)  # after the picture: the walk scrolls lists
            (where / f"{name}.json").write_text(json.dumps(snap, ensure_ascii=False), encoding="utf-8")
        log.info("screenshot %s", target)

    def walk(path):
        app.open_guide(guide.id, "home")
        for index in path:
            app.choose(index)

    guide, outcomes = _demo_guide(app)
    for mode in MODES:
        folder["dir"] = out if mode == "normal" else out / mode
        for lang in LANGUAGES:
            yield from _customer(app, lang, MODE_SWITCHES[mode], lambda name: shoot(name, focus=True), walk, guide,
                                 outcomes)
            if CUSTOMER_ONLY or mode != "normal":
                continue
            yield from _staff(app, lang, shoot)
    folder["dir"] = out
    if CUSTOMER_ONLY:
        return
    yield from _keyboards(app, shoot)
    yield from _modes(app, shoot, walk)
    yield from _audio_mode(app, shoot, guide, outcomes, out)


def _customer(app, lang, switches, shoot, walk, guide, outcomes):
    """What a customer sees, 01-11 and 27-28, in `lang` with the mode's switches on."""
    from screens.widgets import AccessPanel

    def modes():
        for name, value in switches.items():
            setattr(app.theme, name, value)

    home = app.screens["home"]
    app.finish_session()
    modes()
    attract = app.screens["attract"]
    attract.on_deactivate()  # hold the cycle on this language for the picture
    attract.shown_lang = lang
    yield SETTLE
    shoot(f"{lang}-01-attract")

    app.start_session(lang)
    yield SETTLE
    shoot(f"{lang}-02-home")

    home.open_search()
    for ch in SEARCH_WORDS.get(lang, "bag"):
        home.on_key(ch)
    yield SETTLE
    shoot(f"{lang}-03-search-results")

    home.query = ""
    for ch in "xqzw":
        home.on_key(ch)
    yield SETTLE
    shoot(f"{lang}-04-no-results")

    home.show_browse()
    walk(())
    yield SETTLE
    shoot(f"{lang}-05-step")

    if "resolved" in outcomes:
        walk(outcomes["resolved"])
        yield SETTLE
        shoot(f"{lang}-06-outcome-resolved")
    if "escalate" in outcomes:
        walk(outcomes["escalate"])
        yield SETTLE
        shoot(f"{lang}-07-outcome-escalate")

    if "escalate" in outcomes:  # "it didn't help": where a person is, the phone
        app.answer_helped(False)
        yield SETTLE
        shoot(f"{lang}-27-person")

    app.answer_helped(True)
    app.tell_us_more()
    feedback = app.screens["feedback"]
    feedback.rating = 4
    for ch in {"zh": "很清楚", "ar": "واضح جدا"}.get(lang, "Very clear, thanks"):
        feedback.on_key(ch)
    yield SETTLE
    shoot(f"{lang}-08-feedback")

    feedback.send()
    yield SETTLE
    shoot(f"{lang}-09-thanks")

    walk(())
    if app.can_hand_off:
        app.show_handoff()
        yield SETTLE
        shoot(f"{lang}-10-handoff")
        app.close_handoff()
    else:  # an unregistered kiosk has no handoff screen to show
        log.info("no %s-10-handoff: this kiosk has no device token or no public server address", lang)
    app.idle.open_overlay()
    app.idle.overlay.remaining = 12
    yield SETTLE
    shoot(f"{lang}-11-idle-overlay")
    app.idle.still_here()

    walk(())
    panel = AccessPanel()
    panel.open(animation=False)
    yield SETTLE
    shoot(f"{lang}-28-accessibility")
    panel.dismiss(animation=False)


def _staff(app, lang, shoot):
    """Staff mode's screens in `lang`: 12-13, 18-19."""
    app.open_staff()
    app.screens["staff_pin"].pin = "12"
    yield SETTLE
    shoot(f"{lang}-12-staff-pin")

    app.screens["staff_pin"].pin = ""
    app.open_staff_status()
    yield 1.0  # the status is gathered on a thread
    shoot(f"{lang}-13-staff-status")
    app.leave_staff()

    # The pad waiting after too many wrong PINs (as the store holds it), and the screen that
    # replaces the factory PIN: numbered after the en-only ones, so earlier names keep theirs.
    from kiosk.staff_pin import STATE_KEY

    app.store.set_state(STATE_KEY, {"failures": 6, "until": time.time() + 60})
    app.set_language(lang)  # leaving staff mode went back to the default language
    app.open_staff()
    for _ in range(100):  # the wait is read on a thread
        if app.screens["staff_pin"].waiting:
            break
        yield 0.1
    yield SETTLE
    shoot(f"{lang}-18-staff-pin-wait")
    app.store.set_state(STATE_KEY, {"failures": 0, "until": 0.0})
    app.set_language(lang)
    app.open_staff_new_pin()
    app.screens["staff_new_pin"].pin = "48"
    yield SETTLE
    shoot(f"{lang}-19-staff-new-pin")
    app.leave_staff()


def _modes(app, shoot, walk):
    """The accessibility modes, once: large text with high contrast, and the reach layout."""
    app.start_session()
    app.theme.large_text = app.theme.high_contrast = True
    yield SETTLE
    shoot("en-14-home-large-contrast")
    walk(())
    yield SETTLE
    shoot("en-15-step-large-contrast")
    app.theme.large_text = app.theme.high_contrast = False
    app.theme.reach = True
    app.go_home()
    yield SETTLE
    shoot("en-16-home-reach")
    walk(())
    yield SETTLE
    shoot("en-17-step-reach")
    app.finish_session()
    yield SETTLE


def _focus_on(app, probe_id: str, limit: int = 80) -> None:
    """Tab (as a keypad would) until `probe_id` has the audio mode's focus."""
    for _ in range(limit):
        press_key("tab")
        if getattr(app.navigator._current(), "probe_id", "") == probe_id:
            return
    log.warning("%s never took the focus", probe_id)


def _settled(app):
    """Until audio mode has said what the screen shows (it waits for the screen to settle)."""
    for _ in range(100):
        yield SETTLE / 3
        if app.navigator._announce_event is None:
            return


def _audio_mode(app, shoot, guide, outcomes, out: Path):
    """The focus ring of audio mode (screens/focus.py) in each language, in normal mode and high
    contrast: audio/<lang>-02-home (a category focused), -05-step (an answer), -08-feedback (a
    star), -11-idle-overlay ("More time"), and audio/<lang>-15-step-large-contrast."""
    (out / "audio").mkdir(parents=True, exist_ok=True)
    for lang in LANGUAGES:
        app.finish_session()
        app.start_session()
        app.set_language(lang)
        yield SETTLE
        press_key("tab")  # the first key: audio mode on
        yield from _settled(app)
        first_category = next((b for b in app.navigator.controls() if b.probe_id.startswith("category:")), None)
        if first_category is not None:
            _focus_on(app, first_category.probe_id)
        yield SETTLE
        shoot(f"audio/{lang}-02-home")
        app.open_guide(guide.id, "home")
        yield from _settled(app)
        yield SETTLE
        shoot(f"audio/{lang}-05-step")
        app.theme.large_text = app.theme.high_contrast = True
        yield SETTLE
        _focus_on(app, "choice:1")
        yield SETTLE
        shoot(f"audio/{lang}-15-step-large-contrast")
        app.theme.large_text = app.theme.high_contrast = False
        path = outcomes.get("resolved") or next(iter(outcomes.values()))
        app.open_guide(guide.id, "home")
        for index in path:
            app.choose(index)
        app.answer_helped(True)
        app.tell_us_more()  # one tap answers the outcome; the stars come only on request
        yield from _settled(app)
        _focus_on(app, "stars:4")
        yield SETTLE
        shoot(f"audio/{lang}-08-feedback")
        app.idle.open_overlay()
        app.idle.overlay.remaining = 12
        app.idle.overlay.fraction = 0.6
        yield from _settled(app)
        yield SETTLE
        shoot(f"audio/{lang}-11-idle-overlay")
        app.idle.still_here()
    app.finish_session()
    yield SETTLE


KEYBOARD_WORDS = {"en": "bag", "es": "maleta", "fr": "valise", "de": "koffer", "ar": "حقيبة", "zh": ""}


def _type_on(keyboard, text: str) -> None:
    """Press the keys that type `text` on the keyboard's current page, as taps would."""
    for ch in text:
        key = next(k for row in keyboard.state.rows() for k in row if k.text == ch)
        keyboard.press(key)


def _press_action(keyboard, code: str) -> None:
    keyboard.press(next(k for row in keyboard.state.rows() for k in row if k.code == code))


def _keyboards(app, shoot):
    """Each language's keyboard on home, its pages (Shift, symbols, accents) and the pinyin bar:
    <lang>-20-keyboard, -21-keyboard-shift, -22-keyboard-symbols, -23-keyboard-accents,
    zh-24-pinyin-candidates (\"xingli\" typed), zh-25-pinyin-chosen (the first one tapped),
    <lang>-29-keyboard-large (large text) and en-26-keyboard-large-contrast."""
    home = app.screens["home"]
    for lang in KEYBOARDS:
        word = KEYBOARD_WORDS.get(lang, "")
        app.finish_session()
        app.start_session()
        app.set_language(lang)
        home.open_search()
        keyboard = home.ids.keyboard
        _type_on(keyboard, word)
        yield SETTLE
        shoot(f"{lang}-20-keyboard")
        if lang in ("en", "de"):
            _press_action(keyboard, "shift")
            yield SETTLE
            shoot(f"{lang}-21-keyboard-shift")
            _press_action(keyboard, "shift")
        if lang in ("en", "ar", "zh"):
            _press_action(keyboard, "special")
            yield SETTLE
            shoot(f"{lang}-22-keyboard-symbols")
            _press_action(keyboard, "special")
        if lang in ("en", "es", "fr", "de"):
            _press_action(keyboard, "accent")
            yield SETTLE
            shoot(f"{lang}-23-keyboard-accents")
            _press_action(keyboard, "accent")
        # large text: every key's words whole on its key (a long one is drawn smaller)
        app.theme.large_text = True
        yield SETTLE
        shoot(f"{lang}-29-keyboard-large")
        app.theme.large_text = False
        if lang == "zh":
            for _ in range(100):  # the lexicon is built the first time (a few seconds)
                if keyboard.pinyin_state != "loading":
                    break
                yield 0.2
            _type_on(keyboard, "xingli")
            yield SETTLE  # a slow frame (the first CJK glyphs) can hold the search back: two settles
            yield SETTLE
            shoot("zh-24-pinyin-candidates")
            keyboard.choose(0)
            yield SETTLE + 0.3
            shoot("zh-25-pinyin-chosen")
    if "en" in KEYBOARDS:  # the keyboard in large text with high contrast, Shift on
        app.finish_session()
        app.start_session()
        app.theme.large_text = app.theme.high_contrast = True
        home.open_search()
        _type_on(home.ids.keyboard, "bag")
        _press_action(home.ids.keyboard, "shift")
        yield SETTLE
        shoot("en-26-keyboard-large-contrast")
    app.finish_session()


class ScreenshotTour:
    """Runs `tour()` once the app is up, then closes the app."""

    def __init__(self, out: Path):
        self.out = out

    def attach(self, app) -> None:
        Clock.schedule_once(lambda *_: self._run_tour(app), 0.5)

    def _run_tour(self, app) -> None:
        app.build_screens()
        steps = iter(tour(app, self.out))

        def advance(*_):
            try:
                wait = next(steps)
            except StopIteration:
                app.shut_down("the screenshot tour is done")
                return
            Clock.schedule_once(advance, wait)

        Clock.schedule_once(advance, 0.3)
