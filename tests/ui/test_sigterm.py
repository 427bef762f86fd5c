"""`systemctl stop` sends SIGTERM: the real app, mid-session, closes its window and exits with
status 0 (docs/ui.md), so systemd records a clean stop rather than a crash."""

from __future__ import annotations

import signal

import pytest

pytestmark = pytest.mark.ui

EXIT_ON_SIGTERM = 0  # documented in docs/ui.md, "Staff mode"


def test_sigterm_exits_cleanly_with_the_documented_code(start_kiosk):
    kiosk = start_kiosk()
    kiosk.touch_to_start()  # a customer mid-session must not keep the kiosk from stopping
    kiosk.proc.send_signal(signal.SIGTERM)
    assert kiosk.proc.wait(20) == EXIT_ON_SIGTERM, kiosk.output()
    assert "SIGTERM" in (kiosk.data_dir / "logs" / "kiosk.log").read_text(), "the log says why it stopped"
    last = kiosk.events()[-1]
    assert (last["type"], last["data"]) == ("session_end", {"reason": "shutdown"}), "the session was closed"
