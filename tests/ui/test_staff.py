"""Staff mode: five taps in the top-right corner, a wrong PIN refused, the right one opens the
status screen; an invalid library from a USB stick is refused with its problems, a valid one is
imported; Esc never closes the app, staff Exit does. A kiosk whose events the server refused
says so in staff mode, and a server that answers 404 to everything is not "reachable"."""

from __future__ import annotations

import sqlite3
import threading
import time
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kiosk.settings import hash_pin
from tests.ui.conftest import WINDOW

pytestmark = pytest.mark.ui
# A kiosk whose staff set their own PIN: the factory 1234 would ask for a new one first
# (tests/ui/test_staff_pin_guard.py).
STAFF_PIN = "2580"
STAFF_PIN_HASH = hash_pin(STAFF_PIN)

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
    kiosk = start_kiosk(KIOSK_IMPORT_ROOTS=str(usb), KIOSK_STAFF_PIN_HASH=STAFF_PIN_HASH)

    kiosk.key("Escape")
    corner = (WINDOW[0] - 20, 20)
    for _ in range(5):
        kiosk.click(*corner)
    snap = kiosk.wait_screen("staff_pin")
    assert "Staff mode: enter the PIN" in snap["labels"]

    # 9999, not 999: each digit must show as one more dot before the next is tapped
    for n, digit in enumerate("9999", start=1):
        snap = kiosk.tap_and_wait(f"pin:{digit}", lambda s, n=n: kiosk.pin_dots(s) == n, f"{n} digits shown")
    assert kiosk.pin_dots(snap) == 4
    kiosk.tap("pin:ok")
    snap = kiosk.wait_label("Wrong PIN. Try again.")
    assert snap["screen"] == "staff_pin" and kiosk.pin_dots(snap) == 0, "refused, and the field is cleared"
    log = (kiosk.data_dir / "logs" / "kiosk.log").read_text()
    assert log.count("wrong staff PIN entered") == 1, "one 4-digit PIN was checked and refused"

    for n, digit in enumerate(STAFF_PIN, start=1):
        kiosk.tap_and_wait(f"pin:{digit}", lambda s, n=n: kiosk.pin_dots(s) == n, f"{n} digits shown")
    kiosk.tap("pin:ok")
    kiosk.wait_screen("staff_status")
    snap = kiosk.wait_label("Content version: sample")
    labels = "\n".join(snap["labels"])
    assert f"Device: {device_name(kiosk)}" in labels
    assert "Guides: 11" in labels
    assert "Server: no server configured" in labels
    assert "Free disk:" in labels and "Events waiting to send:" in labels
    assert "refused by the server" not in labels, "no problem line while nothing was refused"

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
    for n, digit in enumerate(STAFF_PIN, start=1):
        kiosk.tap_and_wait(f"pin:{digit}", lambda s, n=n: kiosk.pin_dots(s) == n, f"{n} digits shown")
    kiosk.tap("pin:ok")
    kiosk.wait_screen("staff_status")
    kiosk.tap("staff:exit")
    assert kiosk.proc.wait(15) == 0


def device_name(kiosk) -> str:
    with (kiosk.data_dir / "kiosk.toml").open("rb") as fh:
        return tomllib.load(fh)["device"]


class NotTheKioskServer(BaseHTTPRequestHandler):
    """Something listening at the server's address that is not the kiosk server: 404 for all."""

    def do_GET(self):
        self.send_error(404)

    do_POST = do_GET

    def log_message(self, *_args):
        pass


def enter_staff_mode(kiosk) -> dict:
    for _ in range(5):
        kiosk.click(WINDOW[0] - 20, 20)
    kiosk.wait_screen("staff_pin")
    for n, digit in enumerate(STAFF_PIN, start=1):
        kiosk.tap_and_wait(f"pin:{digit}", lambda s, n=n: kiosk.pin_dots(s) == n, f"{n} digits shown")
    kiosk.tap("pin:ok")
    return kiosk.wait_screen("staff_status")


def test_staff_status_names_the_device_and_the_refused_events(start_kiosk):
    http = ThreadingHTTPServer(("127.0.0.1", 0), NotTheKioskServer)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        kiosk = start_kiosk(KIOSK_SERVER_URL=f"http://127.0.0.1:{http.server_port}", KIOSK_TOKEN="kt_not_this_device",
                            KIOSK_STAFF_PIN_HASH=STAFF_PIN_HASH)
        # three events the server refused, as the sync client files them (offline_cache/sync_tables.py)
        with sqlite3.connect(kiosk.data_dir / "kiosk.db") as db:
            db.executemany("INSERT INTO rejected_events(uuid, type, body, reason, rejected_at) VALUES (?, ?, ?, ?, ?)",
                           [(f"uuid-{i}", "feedback", "{}", "unknown device", time.time()) for i in range(3)])
        enter_staff_mode(kiosk)
        snap = kiosk.wait_label("Server: ")
        labels = snap["labels"]
        assert f"Device: {device_name(kiosk)}" in "\n".join(labels)
        assert "Server: not reachable" in "\n".join(labels), "a 404 from every path is not the kiosk server"
        assert "3 events were refused by the server \u2014 check this kiosk's token" in labels
    finally:
        http.shutdown()
