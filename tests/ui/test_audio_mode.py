"""Audio mode on the real app (issue 12; EN 301 549 §5.1.3, §5.1.6): a blind traveller completes a
guide and leaves feedback with the keys alone (sent through X and SDL2 by xdotool, as a keypad's
keys arrive), first in English, then the next traveller in Arabic. What the kiosk said is read
from the recording speech backend (KIOSK_TEST_SPEECH), in order, with its language:

- each focus change says exactly the drawn label of the focused control (from the UI probe), with
  its state ("selected");
- each screen change says the screen's heading first (the probe's first text) and the focused
  control last, and nothing that is not drawn;
- Enter chooses, Backspace goes back, F1 says the guide's own `help` in a guide that has one (the
  screen's help elsewhere), F10 / F2 change the volume and repeat; in Arabic the left arrow moves
  forward;
- the focus ring stands out >= 3:1 from what surrounds it, in normal and high contrast (pixels of
  a capture of the X screen);
- at the session's end audio mode, the volume and the modes go back for the next traveller.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from contract.guides import pick
from kiosk.i18n import tr
from screens.focus import HELP, HELP_GENERAL, RING_INNER_MM, RING_OUTER_MM, contrast
from tests.ui.conftest import KIOSK, REPO, WINDOW

pytestmark = pytest.mark.ui


class Listener:
    """What the kiosk said (the recording backend's JSON lines) and the keys that made it say it."""

    def __init__(self, kiosk, path):
        self.kiosk, self.path = kiosk, path
        self.lang = "en"

    def said(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]

    def words(self, button: dict) -> str:
        label = button.get("spoken") or button["text"]
        return tr("{label}, selected", self.lang).format(label=label) if button.get("selected") else label

    @staticmethod
    def focused(snap: dict) -> dict | None:
        return next((b for b in snap["buttons"] if b.get("focused")), None)

    def press(self, key: str, *, what: str = "") -> tuple[dict, list[dict]]:
        """Press `key`; wait until the focus is drawn and the last thing said is its label;
        returns the probe and what was said since the key."""
        before = len(self.said())
        frame = self.kiosk.probe().get("frame", 0)
        self.kiosk.key(key)

        def settled(snap):
            if snap.get("frame", 0) <= frame:
                return False
            said = self.said()[before:]
            focus = self.focused(snap)
            return bool(said) and focus is not None and said[-1]["text"] == self.words(focus)

        snap = self.kiosk.wait(settled, what=what or f"speech after {key}")
        return snap, self.said()[before:]

    def press_expecting(self, key: str, *texts: str) -> tuple[dict, list[dict]]:
        """Press a key whose speech ends with one of `texts` rather than the focused control."""
        before = len(self.said())
        self.kiosk.key(key)
        snap = self.kiosk.wait(lambda s: len(self.said()) > before and self.said()[-1]["text"] in texts,
                               what=f"{texts} after {key}")
        return snap, self.said()[before:]

    def move_to(self, probe_id: str, key: str = "Tab", limit: int = 60) -> dict:
        """Move the focus with `key` until `probe_id` has it; each step must say exactly the
        focused control's drawn label, in the screen's language."""
        for _ in range(limit):
            snap, said = self.press(key)
            focus = self.focused(snap)
            assert [s["text"] for s in said] == [self.words(focus)], f"{key} on {focus['id']}"
            if focus["id"] == probe_id:
                return snap
        raise AssertionError(f"{probe_id} never took the focus with {key}")

    def activate_to_screen(self, screen: str, key: str = "Return", prefix: int = 0) -> tuple[dict, list[dict]]:
        """Enter on the focused control leads to `screen`: its heading is said first and the newly
        focused control last, and everything between is drawn on it."""
        before = len(self.said())
        self.kiosk.key(key)

        def arrived(snap):
            focus = self.focused(snap)
            said = self.said()[before:]
            return (snap["screen"] == screen and not snap["overlay"] and focus is not None and said
                    and said[-1]["text"] == self.words(focus))

        snap = self.kiosk.wait(arrived, what=f"the {screen} screen announced")
        said = [s["text"] for s in self.said()[before:]][prefix:]
        assert said[0] == snap["labels"][0], f"the heading first on {screen}: {said}"
        assert all(text in snap["labels"] for text in said[:-1]), f"only drawn texts on {screen}: {said}"
        return snap, self.said()[before:]


def ring_contrasts(kiosk, focus: dict, snap: dict) -> tuple[float, float]:
    """The focus ring measured in a capture of the X screen, across the middle of the focused
    control's top edge: (its outer line against what lies around the control, the better of its
    two lines against the control itself: a dark ring on a light control, a light one on a dark).
    X may show the frame a moment after the probe reports it: captured again until the ring is
    there, for at most 5 s, and the last capture is measured."""
    import time

    from PIL import Image

    mm = snap["mm"]
    outer, inner = RING_OUTER_MM * mm, RING_INNER_MM * mm
    x, top = focus["x"], focus["box"][1]
    deadline = time.monotonic() + 5
    while True:
        raw = subprocess.run(["import", "-window", "root", "-depth", "8", "rgb:-"], env=kiosk.env, check=True,
                             capture_output=True, timeout=20).stdout
        image = Image.frombytes("RGB", WINDOW, raw)

        def at(y, image=image):
            return [c / 255 for c in image.getpixel((x, round(y)))]

        outside, inside = at(top - outer - 4), at(top + inner + 4)
        ring_outer, ring_inner = at(top - outer / 2), at(top + inner / 2)
        found = contrast(ring_outer, outside), max(contrast(ring_outer, inside), contrast(ring_inner, inside))
        if min(found) >= 3 or time.monotonic() > deadline:
            image.save(kiosk.data_dir / f"ring-{focus['id'].replace(':', '-')}.png")  # to look at
            return found


# the guide's optional `help` (shared/DESIGN.md), given to lost-baggage in the library this kiosk runs
GUIDE_HELP = "The Baggage Service desk is next to belt 4. It is open day and night."


def import_library_with_guide_help(tmp_path) -> None:
    """The sample library with lost-baggage given a `help` field, imported into the data dir the
    kiosk will run with (so it is not filled from the bundled sample)."""
    library = tmp_path / "library"
    shutil.copytree(REPO / "assets" / "library", library)
    with (library / "lost-baggage.yaml").open("a", encoding="utf-8") as fh:
        fh.write(f"help:\n  en: {GUIDE_HELP}\n")
    subprocess.run([str(KIOSK), "import", "--data-dir", str(tmp_path), str(library)], check=True,
                   capture_output=True, timeout=120)


def test_a_guide_and_feedback_with_the_keys_alone_in_english_then_arabic(start_kiosk, tmp_path, library):
    speech = tmp_path / "speech.jsonl"
    import_library_with_guide_help(tmp_path)
    kiosk = start_kiosk(KIOSK_TEST_SPEECH=str(speech))
    ear = Listener(kiosk, speech)
    guide = library.guides["lost-baggage"]
    belt, damaged, staff_step = guide.steps["belt"], guide.steps["damaged"], guide.steps["damaged-staff"]

    # --- English: the first key turns audio mode on, starts a session and announces home ---
    snap, said = ear.activate_to_screen("home", key="Tab", prefix=1)
    assert snap["audio"] and snap["session"]
    texts = [s["text"] for s in said]
    assert texts[0] == "Audio mode on." and texts[1] == "How can we help?", texts
    first = snap["buttons"][0]
    assert ear.focused(snap)["id"] == first["id"]
    assert texts[-1] in (first.get("spoken") or first["text"], f"{first['text']}, selected")
    assert all(s["lang"] == "en" for s in said)
    outer, inner = ring_contrasts(kiosk, ear.focused(snap), snap)
    assert outer >= 3 and inner >= 3, f"the focus ring is {outer:.1f}:1 against its surroundings, {inner:.1f}:1 against the control"

    # Accessibility (low on every screen) opens its panel: announced, and the focus stays inside it
    ear.move_to("access")
    snap, said = ear.press("Return")
    texts = [s["text"] for s in said]
    assert texts[0] == "Accessibility" and ear.focused(snap)["id"] == "toggle:large", texts
    assert {b["id"] for b in snap["buttons"]} == {"toggle:large", "toggle:contrast", "toggle:reach", "access:close"}
    # high contrast by keys: the switch says its new state, and the ring still stands out
    ear.move_to("toggle:contrast")
    snap, said = ear.press("Return")
    assert [s["text"] for s in said] == ["High contrast, selected"]
    outer, inner = ring_contrasts(kiosk, ear.focused(snap), snap)
    assert outer >= 3 and inner >= 3, f"in high contrast the ring is {outer:.1f}:1 around, {inner:.1f}:1 on the control"
    ear.press("Return")  # and off again

    # Shift+Tab goes back one, Down forward one
    snap, said = ear.press("shift+Tab")
    assert ear.focused(snap)["id"] == "toggle:large"
    snap, said = ear.press("Down")
    assert ear.focused(snap)["id"] == "toggle:contrast"
    ear.move_to("access:close")
    snap, said = ear.activate_to_screen("home")
    assert said[0]["text"] == "How can we help?"

    ear.move_to("category:baggage")
    snap, said = ear.press("Return")  # the category's guides: the focus stays, and says where it is
    assert [s["text"] for s in said] == ["Baggage"]
    ear.move_to("guide:lost-baggage")
    snap, said = ear.activate_to_screen("step")
    texts = [s["text"] for s in said]
    assert texts[0] == guide.title["en"] and belt.text["en"] in texts
    assert ear.focused(snap)["id"] == "choice:0" and texts[-1] == belt.choices[0].label["en"]

    # F1 in a guide with its own help: the keys, then the guide's help; F2: again
    snap, said = ear.press_expecting("F1", GUIDE_HELP)
    assert [s["text"] for s in said] == [HELP_GENERAL, GUIDE_HELP]
    snap, said = ear.press_expecting("F2", GUIDE_HELP)
    assert [s["text"] for s in said] == [HELP_GENERAL, GUIDE_HELP]

    ear.move_to("choice:1")
    snap, said = ear.activate_to_screen("step")
    assert damaged.text["en"] in [s["text"] for s in said]
    # Backspace is Back: the first step again, announced
    snap, said = ear.activate_to_screen("step", key="BackSpace")
    assert belt.text["en"] in [s["text"] for s in said]
    ear.move_to("choice:1")
    ear.activate_to_screen("step")
    ear.move_to("choice:1")
    snap, said = ear.activate_to_screen("outcome")
    texts = [s["text"] for s in said]
    assert texts[0] == guide.title["en"] and "Please ask a member of staff." in texts
    assert staff_step.text["en"] in texts and "Did this help?" in texts
    assert ear.focused(snap)["id"] == "helped:yes" and texts[-1] == "Yes"

    # one key at the outcome: Yes is the whole answer; "Tell us more" only when asked for
    snap, said = ear.activate_to_screen("thanks")
    assert said[0]["text"] == "Glad it helped!"
    # out of the guide, F1 says what this screen is for
    snap, said = ear.press_expecting("F1", HELP["thanks"])
    assert [s["text"] for s in said] == [HELP_GENERAL, HELP["thanks"]]
    ear.move_to("thanks:more")
    snap, said = ear.activate_to_screen("feedback")
    assert ear.focused(snap)["id"] == "stars:1"
    ear.move_to("stars:4")
    snap, said = ear.press("Return")
    assert [s["text"] for s in said] == ["4 \u2605, selected"] and kiosk.lit_stars(snap) == [1, 2, 3, 4]
    # louder, then the words again at the new volume
    snap, said = ear.press_expecting("F10", "Volume 8 of 10")
    assert said[-1]["volume"] == 8
    snap, said = ear.press_expecting("F2", "Volume 8 of 10")
    ear.move_to("feedback:send")
    snap, said = ear.activate_to_screen("thanks")
    assert [s["text"] for s in said][:2] == ["Thank you for your feedback!", "It helps us improve these guides."]
    ear.move_to("thanks:done")
    before = len(ear.said())
    kiosk.key("Return")
    snap = kiosk.wait_screen("attract")
    assert snap["session"] is None and not snap["audio"] and snap["volume"] == 7

    events = kiosk.events()
    first = events[0]["session"]
    kinds = [e["type"] for e in events if e["session"] == first]
    assert kinds == ["session_start", "step_view", "choice", "step_view", "back", "step_view", "choice",
                     "step_view", "choice", "step_view", "outcome", "feedback", "session_end"]
    feedback = next(e for e in events if e["type"] == "feedback")["data"]
    assert feedback["helped"] is True and feedback["rating"] == 4

    # --- the next traveller: a touch starts a session with no audio mode and no speech ---
    snap = kiosk.touch_to_start()
    assert not snap["audio"] and len(ear.said()) == before, "nothing said for a touch"
    # a key: audio mode on at the default volume; Arabic chosen with the keys
    snap, said = ear.activate_to_screen("home", key="Tab", prefix=1)
    assert said[0]["text"] == "Audio mode on." and said[0]["volume"] == 7
    ear.move_to("lang:ar")
    ear.lang = "ar"
    snap, said = ear.activate_to_screen("home")
    assert snap["lang"] == "ar" and said[0]["text"] == tr("How can we help?", "ar")
    assert ear.focused(snap)["id"] == "lang:ar" and said[-1]["text"] == "العربية، محدد"
    assert [s["lang"] for s in said] == ["ar"] * len(said)

    # right to left: the left arrow moves forward, the right arrow back
    snap, said = ear.press("Left")
    assert ear.focused(snap)["id"] == snap["buttons"][[b["id"] for b in snap["buttons"]].index("lang:ar") + 1]["id"]
    snap, said = ear.press("Right")
    assert ear.focused(snap)["id"] == "lang:ar"
    ear.move_to("category:baggage", key="Left")
    ear.press("Return")
    ear.move_to("guide:lost-baggage", key="Left")
    snap, said = ear.activate_to_screen("step")
    texts = [s["text"] for s in said]
    assert texts[0] == guide.title["ar"] and belt.text["ar"] in texts
    assert all(s["lang"] == "ar" for s in said)
    ear.move_to("choice:1", key="Left")
    ear.activate_to_screen("step")
    ear.move_to("choice:1", key="Left")
    snap, said = ear.activate_to_screen("outcome")
    assert pick(staff_step.text, "ar", "en") in [s["text"] for s in said]
    assert said[-1]["text"] == tr("Yes", "ar")
    snap, said = ear.activate_to_screen("thanks")
    assert said[0]["text"] == tr("Glad it helped!", "ar")
    ear.move_to("thanks:more", key="Left")
    snap, said = ear.activate_to_screen("feedback")
    ear.move_to("stars:5", key="Left")
    snap, said = ear.press("Return")
    assert [s["text"] for s in said] == ["5 \u2605، محدد"]
    ear.move_to("feedback:send", key="Left")
    snap, said = ear.activate_to_screen("thanks")
    assert said[0]["text"] == tr("Thank you for your feedback!", "ar")
    ear.move_to("thanks:done", key="Left")
    kiosk.key("Return")
    snap = kiosk.wait_screen("attract")
    assert snap["session"] is None and not snap["audio"] and snap["lang"] == "en"
    arabic = [e for e in kiosk.events() if e["type"] == "feedback"][-1]["data"]
    assert arabic["rating"] == 5
