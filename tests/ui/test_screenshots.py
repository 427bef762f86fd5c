"""`kiosk screenshots` walks the real app through every screen and writes a picture of each."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.ui.conftest import KIOSK

pytestmark = pytest.mark.ui

SCREENS = ["01-attract", "02-home", "03-search-results", "04-no-results", "05-step", "06-outcome-resolved",
           "07-outcome-escalate", "08-feedback", "09-thanks", "10-handoff", "11-idle-overlay", "12-staff-pin",
           "13-staff-status", "27-person", "28-accessibility"]


def test_screenshots_of_every_screen(tmp_path, display):
    out = tmp_path / "shots"
    # an unregistered kiosk, as on a new machine: the tour still shows every screen, handoff included
    env = dict(os.environ, DISPLAY=display, KIOSK_TOUR_LANGUAGES="en,ar", KIVY_HOME=str(tmp_path / "kivy"),
               KIOSK_TOUR_SETTLE="0.4", KIOSK_TOUR_KEYBOARDS="en,ar")
    for name in ("KIOSK_TOKEN", "KIOSK_PUBLIC_URL", "KIOSK_SERVER_URL"):
        env.pop(name, None)
    run = subprocess.run([str(KIOSK), "screenshots", "--data-dir", str(tmp_path / "data"), str(out)], env=env, check=False,
                         capture_output=True, text=True, timeout=150)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    expected = {f"{lang}-{name}.png" for lang in ("en", "ar") for name in SCREENS}
    expected |= {"en-20-keyboard.png", "en-21-keyboard-shift.png", "en-22-keyboard-symbols.png",
                 "en-23-keyboard-accents.png", "ar-20-keyboard.png", "ar-22-keyboard-symbols.png"}
    assert expected <= {p.name for p in out.glob("*.png")}
    # audio mode's focus ring (screens/focus.py), under audio/ as shared/DESIGN.md names other modes
    assert {f"{lang}-{name}.png" for lang in ("en", "ar") for name in ("02-home", "05-step", "08-feedback",
                                                                        "11-idle-overlay")} \
        <= {p.name for p in (out / "audio").glob("*.png")}
    for name in sorted(expected):
        # a drawn screen has text and controls: many colours, not a blank or black window
        colours = subprocess.run(["identify", "-format", "%k %w %h", str(out / name)], capture_output=True,
                                 text=True, check=True).stdout.split()
        assert colours[1:] == ["1280", "720"], name
        assert int(colours[0]) > 20, f"{name} looks blank"
