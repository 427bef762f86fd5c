"""Staff mode: five taps in the top-right corner, a wrong PIN refused, the right one opens the
status screen; an invalid library from a USB stick is refused with its problems, a valid one is
imported; Esc never closes the app, staff Exit does."""

from __future__ import annotations

import pytest

from tests.ui.conftest import WINDOW

pytestmark = pytest.mark.ui

VALID = """id: one-guide
title: {en: The only guide}
category: {en: Testing}
start: ask
steps:
  ask:
    text: {en: Is this the imported guide?}
    choices:
      - {label: {en: "Yes"}, next: done}
  done:
    text: {en: It is.}
    end: resolved
"""
BROKEN = """id: broken
title: {en: Broken guide}
start: nowhere
steps:
  ask:
    text: {en: Where does this go?}
    choices:
      - {label: {en: "On"}, next: missing-step}
"""


def test_staff_mode_wrong_then_right_pin_and_import(start_kiosk, tmp_path):
    usb = tmp_path / "usb"
    (usb / "broken-guides").mkdir(parents=True)
    (usb / "broken-guides" / "broken.yaml").write_text(BROKEN)
    (usb / "good-guides").mkdir()
    (usb / "good-guides" / "one.yaml").write_text(VALID)
    kiosk = start_kiosk(KIOSK_IMPORT_ROOTS=str(usb))

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
    kiosk.wait_screen("staff_status")
    snap = kiosk.wait_label("Content version: sample")
    labels = "\n".join(snap["labels"])
    assert "Guides: 11" in labels
    assert "Server: no server configured" in labels
    assert "Free disk:" in labels and "Events waiting to send:" in labels

    kiosk.tap("staff:sync")
    kiosk.wait_label("No server is configured, so there is nothing to sync.")

    kiosk.tap_and_wait("import:broken-guides", lambda s: any(b["id"] == "staff:import" for b in s["buttons"]),
                       "a folder chosen")
    kiosk.tap("staff:import")
    snap = kiosk.wait_label("Not imported:")
    message = next(label for label in snap["labels"] if label.startswith("Not imported:"))
    assert "The kiosk's content is unchanged." in message and "broken.yaml" in message
    assert "Guides: 11" in "\n".join(snap["labels"])

    kiosk.tap("import:good-guides")
    kiosk.tap("staff:import")
    kiosk.wait_label("Imported 1 guides")
    kiosk.wait(lambda s: "Guides: 1" in "\n".join(s["labels"]).split("\n"), what="the new guide count")

    kiosk.key("Escape")
    kiosk.wait_screen("staff_status")
    kiosk.tap("staff:leave")
    kiosk.wait_screen("attract")
    snap = kiosk.touch_to_start()
    assert [b["id"] for b in snap["buttons"] if b["id"].startswith("guide:")] == ["guide:one-guide"]
    assert not any(e["type"] == "session_start" for e in kiosk.events()[:-1]), \
        "the staff gesture started no customer session"

    for _ in range(5):
        kiosk.click(*corner)
    kiosk.wait_screen("staff_pin")
    for digit in "1234":
        kiosk.tap_and_wait(f"pin:{digit}", lambda s: True, f"digit {digit}")
    kiosk.tap("pin:ok")
    kiosk.wait_screen("staff_status")
    kiosk.tap("staff:exit")
    assert kiosk.proc.wait(15) == 0
