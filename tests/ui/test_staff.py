"""Staff mode: five taps in the top-right corner, a wrong PIN refused, the right one opens the
status screen; Esc never closes the app, staff Exit does."""

from __future__ import annotations

import pytest

from tests.ui.conftest import WINDOW

pytestmark = pytest.mark.ui


def test_staff_mode_wrong_then_right_pin(start_kiosk):
    kiosk = start_kiosk()
    kiosk.key("Escape")
    corner = (WINDOW[0] - 20, 20)
    for _ in range(5):
        kiosk.click(*corner)
    snap = kiosk.wait_screen("staff_pin")
    assert "Staff mode: enter the PIN" in snap["labels"]

    for digit in "9999":
        kiosk.tap_and_wait(f"pin:{digit}", lambda s: True, f"digit {digit}")
    kiosk.tap("pin:ok")
    snap = kiosk.wait_label("Wrong PIN. Try again.")
    assert snap["screen"] == "staff_pin"

    for digit in "1234":
        kiosk.tap_and_wait(f"pin:{digit}", lambda s: True, f"digit {digit}")
    kiosk.tap("pin:ok")
    snap = kiosk.wait_screen("staff_status")
    snap = kiosk.wait_label("Content version: sample")
    labels = "\n".join(snap["labels"])
    assert "Guides: 11" in labels
    assert "Server: no server configured" in labels
    assert "Free disk:" in labels and "Events waiting to send:" in labels

    kiosk.tap("staff:sync")
    kiosk.wait_label("No server is configured, so there is nothing to sync.")

    kiosk.key("Escape")
    kiosk.wait_screen("staff_status")
    kiosk.tap("staff:exit")
    assert kiosk.proc.wait(15) == 0
    assert not kiosk.events(), "no customer session was started by the staff gesture"
