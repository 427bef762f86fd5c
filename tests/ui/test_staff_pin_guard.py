"""The staff PIN pad of the real app under Xvfb: after 5 wrong PINs it shows how long to wait and
refuses every PIN, the right one too, until then; the factory PIN 1234 opens a screen that asks
for a new PIN twice, and the new one is what kiosk.toml then holds."""

from __future__ import annotations

import json
import sqlite3
import tomllib

import pytest

from kiosk.settings import check_pin
from tests.ui.conftest import WINDOW

pytestmark = pytest.mark.ui
WAIT = "Too many wrong PINs."


def enter(kiosk, pin: str) -> None:
    for n, digit in enumerate(pin, start=1):
        kiosk.tap_and_wait(f"pin:{digit}", lambda s, n=n: kiosk.pin_dots(s) == n, f"{n} digits shown")
    kiosk.tap("pin:ok")


def wait_message(snap) -> str:
    return next((label for label in snap["labels"] if WAIT in label), "")


def test_wrong_pins_make_the_pad_wait_and_the_default_pin_must_be_changed(start_kiosk):
    kiosk = start_kiosk()
    for _ in range(5):
        kiosk.click(WINDOW[0] - 20, 20)
    kiosk.wait_screen("staff_pin")
    for attempt in range(1, 6):
        enter(kiosk, "9")  # any length is checked (and counted): one digit keeps the test short
        if attempt < 5:
            kiosk.wait_label("Wrong PIN. Try again.")
            kiosk.wait(lambda s: not any("Checking" in label for label in s["labels"]), what="the check to end")
    snap = kiosk.wait_label(WAIT)
    assert "30 seconds" in wait_message(snap), wait_message(snap)

    # During the wait the pad takes no digits, and the right PIN does not open staff mode.
    shown = wait_message(snap)
    kiosk.tap("pin:1")
    snap = kiosk.wait(lambda s: wait_message(s) not in ("", shown), what="the countdown to move on")
    assert snap["screen"] == "staff_pin" and kiosk.pin_dots(snap) == 0, "no digit is taken while waiting"

    # The wait is over (the test moves the stored deadline instead of sitting through it).
    with sqlite3.connect(kiosk.data_dir / "kiosk.db") as db:
        (value,) = db.execute("SELECT value FROM sync_state WHERE key = 'staff_pin_attempts'").fetchone()
        state = json.loads(value)
        state["until"] = 0
        db.execute("UPDATE sync_state SET value = ? WHERE key = 'staff_pin_attempts'", [json.dumps(state)])
    kiosk.wait(lambda s: not wait_message(s), what="the pad to take PINs again")
    enter(kiosk, "1234")
    snap = kiosk.wait_screen("staff_new_pin")
    assert "Choose a new staff PIN" in snap["labels"]

    enter(kiosk, "4826")
    kiosk.wait_label("Enter the new PIN again")
    enter(kiosk, "4862")
    kiosk.wait_label("The two PINs were not the same.")
    enter(kiosk, "4826")
    kiosk.wait_label("Enter the new PIN again")
    enter(kiosk, "4826")
    kiosk.wait_screen("staff_status")
    with (kiosk.data_dir / "kiosk.toml").open("rb") as fh:
        assert check_pin("4826", tomllib.load(fh)["staff_pin_hash"]), "the new PIN is saved as `kiosk config set-pin` saves it"
