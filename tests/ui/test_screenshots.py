"""`kiosk screenshots` walks the real app through every screen and writes a picture of each: the
suite's portrait tour (tests/ui/tours.py, shared with the layout audit), as an unregistered kiosk."""

from __future__ import annotations

import subprocess

import pytest

# the first test builds the session's pictures (tests/ui/tours.py): minutes on a loaded machine
pytestmark = [pytest.mark.ui, pytest.mark.timeout(600)]

SCREENS = ["01-attract", "02-home", "03-search-results", "04-no-results", "05-step", "06-outcome-resolved",
           "07-outcome-escalate", "08-feedback", "09-thanks", "10-handoff", "11-idle-overlay", "12-staff-pin",
           "13-staff-status", "27-person", "28-accessibility"]


def test_screenshots_of_every_screen(portrait_tour):
    out, _ = portrait_tour
    # an unregistered kiosk, as on a new machine: the tour still shows every screen, handoff included
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
        assert colours[1:] == ["1080", "1920"], name
        assert int(colours[0]) > 20, f"{name} looks blank"
