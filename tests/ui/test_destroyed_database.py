"""A kiosk whose database was destroyed comes back on its own with content, and says so: the real
app (`kiosk run` under X) starts on a kiosk.db cut to a third of its size, shows the guides of the
bundled library to the next traveller, and `kiosk status --json` reports the rebuild."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests import damage
from tests.ui.conftest import KIOSK

pytestmark = pytest.mark.ui


def test_a_kiosk_whose_database_was_destroyed_comes_back_on_its_own_with_content_and_says_so(start_kiosk, tmp_path):
    made = subprocess.run([str(KIOSK), "status", "--data-dir", str(tmp_path)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert made.returncode == 0, made.stderr
    damage.add_events(tmp_path / "kiosk.db", 200)
    damage.truncate(tmp_path / "kiosk.db")

    kiosk = start_kiosk()  # the app itself, as systemd starts it; it must not exit
    snap = kiosk.touch_to_start()
    guides = [b for b in snap["buttons"] if b["id"].startswith("guide:")]
    assert guides, f"the traveller sees guides: {snap['buttons']}"
    kiosk.tap(guides[0]["id"])
    kiosk.wait_screen("step")

    status = subprocess.run([str(KIOSK), "status", "--json", "--data-dir", str(tmp_path)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert status.returncode == 0, status.stderr
    recovered = json.loads(status.stdout)["recovered"]
    assert recovered and Path(recovered["moved_to"]).exists(), recovered
    assert "damaged" in (tmp_path / "logs" / "kiosk.log").read_text(), "the log says why the database was rebuilt"
    assert kiosk.proc.poll() is None
