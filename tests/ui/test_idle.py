"""The idle timeout: "Are you still there?", then the session is wiped and the attract loop
returns; the next person cannot go Back into the last person's guide."""

from __future__ import annotations

import pytest

from contract.guides import pick

pytestmark = pytest.mark.ui


def test_idle_overlay_then_attract_and_no_way_back(start_kiosk, library):
    kiosk = start_kiosk(KIOSK_IDLE_TIMEOUT="4", KIOSK_IDLE_COUNTDOWN="3")
    kiosk.touch_to_start()
    snap = kiosk.tap_and_wait("lang:es", lambda s: "¿Cómo podemos ayudarle?" in s["labels"], "Spanish home")
    first_guide = next(b["id"] for b in snap["buttons"] if b["id"].startswith("guide:"))
    guide = library.guides[first_guide.split(":", 1)[1]]
    start = guide.steps[guide.start]
    first_text = pick(start.text, "es", guide.language)
    kiosk.tap(first_guide)
    snap = kiosk.wait_screen("step")
    assert first_text in snap["labels"]
    kiosk.tap("choice:0")
    second = guide.steps[start.choices[0].next]
    second_text = pick(second.text, "es", guide.language)
    old = kiosk.wait_label(second_text)

    # a touch on the overlay means "still here": the customer stays where they were
    snap = kiosk.wait(lambda s: s["overlay"], timeout=10, what="the idle overlay")
    assert "¿Sigue ahí?" in snap["labels"]
    kiosk.click(640, 600)
    snap = kiosk.wait(lambda s: not s["overlay"] and s["screen"] in ("step", "outcome"), what="back on the step")
    assert second_text in snap["labels"]

    # nobody answers this time
    kiosk.wait(lambda s: s["overlay"], timeout=10, what="the idle overlay again")
    snap = kiosk.wait_screen("attract", timeout=10)
    assert snap["session"] is None

    snap = kiosk.touch_to_start()
    assert snap["lang"] == "en" and "How can we help?" in snap["labels"], "the next person starts in English"
    assert snap["session"] not in (None, old["session"])
    kiosk.key("Escape")  # the keyboard's Back key does nothing, and the app stays up
    snap = kiosk.wait_screen("home")
    assert not any(b["id"] in ("back", "restart") for b in snap["buttons"])
    texts = " ".join(snap["labels"] + [b["text"] for b in snap["buttons"]])
    assert first_text not in texts and second_text not in texts

    events = kiosk.events()
    first = [e for e in events if e["session"] == old["session"]]
    kinds = [e["type"] for e in first]
    assert kinds[:5] == ["session_start", "language", "step_view", "choice", "step_view"]
    assert kinds[-2:] == ["idle_timeout", "session_end"] and first[-1]["data"] == {"reason": "idle_timeout"}
    assert first[2]["guide"] == guide.id
    second_session = [e for e in events if e["session"] == snap["session"]]
    assert [e["type"] for e in second_session] == ["session_start"]
    assert events.index(second_session[0]) > events.index(first[-1])


def test_idle_dialog_more_time_end_now_and_a_longer_wait_in_audio_mode(start_kiosk, tmp_path):
    """The dialog (WCAG 2.2.1): big text, a countdown bar, "More time" and "End now". In audio mode
    (and with large text) the wait before it is idle_timeout_assisted, and the dialog is spoken and
    answered with the keys."""
    import json
    import time

    speech = tmp_path / "speech.jsonl"
    kiosk = start_kiosk(KIOSK_IDLE_TIMEOUT="2", KIOSK_IDLE_TIMEOUT_ASSISTED="6", KIOSK_IDLE_COUNTDOWN="10",
                        KIOSK_TEST_SPEECH=str(speech))
    kiosk.touch_to_start()
    snap = kiosk.wait(lambda s: s["overlay"], timeout=10, what="the idle dialog")
    assert "Are you still there?" in snap["labels"]
    assert [b["id"] for b in snap["buttons"]] == ["still-here", "idle:end"]
    assert [b["text"] for b in snap["buttons"]] == ["More time", "End now"]
    kiosk.tap("still-here")
    kiosk.wait_screen("home")

    def said():
        return [json.loads(line)["text"] for line in speech.read_text(encoding="utf-8").splitlines()] \
            if speech.exists() else []

    kiosk.key("Tab")  # audio mode on: the longer wait
    kiosk.wait(lambda s: s["audio"] and "Audio mode on." in said(), what="audio mode on")
    started = time.monotonic()
    snap = kiosk.wait(lambda s: s["overlay"], timeout=20, what="the idle dialog in audio mode")
    assert time.monotonic() - started >= 6 - 2.5, "audio mode waits idle_timeout_assisted, not idle_timeout"
    snap = kiosk.wait(lambda s: any(b.get("focused") for b in s["buttons"]) and said()[-1] == "More time",
                      what="the dialog announced")
    spoken = said()
    assert spoken[-3:-1] == ["Are you still there?", spoken[-2]] and spoken[-2].startswith("This session ends in")
    kiosk.key("Tab")
    kiosk.wait(lambda s: said()[-1] == "End now", what="End now focused")
    kiosk.key("Return")
    snap = kiosk.wait_screen("attract")
    assert snap["session"] is None and not snap["audio"]
    assert kiosk.events()[-1]["data"] == {"reason": "done"}
