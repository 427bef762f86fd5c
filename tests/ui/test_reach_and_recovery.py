"""The reach layout keeps every control in the lower two thirds of the screen; an error in a
screen callback sends the customer home instead of killing the kiosk."""

from __future__ import annotations

import sqlite3

import pytest

from tests.ui.conftest import WINDOW

pytestmark = pytest.mark.ui


def controls_above_reach(snap: dict) -> list[dict]:
    return [b for b in snap["buttons"] if b["y"] < WINDOW[1] / 3]


def test_reach_layout_keeps_every_control_low(start_kiosk):
    kiosk = start_kiosk()
    snap = kiosk.touch_to_start()
    assert controls_above_reach(snap), "the normal layout uses the top of the screen"
    # the switch is in the accessibility panel, opened from the bottom band
    kiosk.tap_and_wait("access", lambda s: any(b["id"] == "toggle:reach" for b in s["buttons"]), "the panel")
    kiosk.tap_and_wait("toggle:reach", lambda s: s["modes"]["reach"], "the reach layout on")
    snap = kiosk.tap_and_wait("access:close", lambda s: not any(b["id"] == "access:close" for b in s["buttons"])
                              and not controls_above_reach(s), "the reach layout")
    assert any(b["id"].startswith("guide:") for b in snap["buttons"])
    guide = next(b["id"] for b in snap["buttons"] if b["id"].startswith("guide:"))
    kiosk.tap(guide)
    snap = kiosk.wait_screen("step")
    snap = kiosk.wait(lambda s: s["screen"] == "step" and not controls_above_reach(s), what="a low step screen")
    assert any(b["id"] == "choice:0" for b in snap["buttons"]) and any(b["id"] == "back" for b in snap["buttons"])


def test_error_in_a_callback_returns_home(start_kiosk):
    kiosk = start_kiosk()
    kiosk.touch_to_start()
    kiosk.tap("guide:" + next(b["id"] for b in kiosk.probe()["buttons"] if b["id"].startswith("guide:"))
              .split(":", 1)[1])
    snap = kiosk.wait_screen("step")
    guide_id = next(e["guide"] for e in kiosk.events() if e["type"] == "step_view")
    # The guide disappears under the customer's finger (as if a broken update removed it):
    # the next tap fails inside the app.
    with sqlite3.connect(kiosk.data_dir / "kiosk.db") as db:
        db.execute("UPDATE guides SET id = 'gone-' || id WHERE id = ?", [guide_id])
    kiosk.tap("choice:0")
    snap = kiosk.wait_screen("home")
    assert snap["session"] is not None, "the customer keeps their session"
    assert "How can we help?" in snap["labels"]
    assert "error in the UI" in (kiosk.data_dir / "logs" / "kiosk.log").read_text()
    assert kiosk.proc.poll() is None
