"""schemathesis against the live server's /openapi.json, with no credentials, a device token and a
staff login: whatever it sends, the server never answers 5xx."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from server_testkit import STAFF_PASSWORD, STAFF_USER

ST = Path(sys.executable).parent / "st"
pytestmark = pytest.mark.fuzz  # CI's second step (.ci/run), not the README's test command


def rss_of(pid: int) -> int:
    """The process's resident memory, in bytes (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


@pytest.mark.parametrize("who", ["anonymous", "device", "staff"])
def test_no_server_errors_under_fuzzing(server, who, tmp_path):
    image = hashlib.sha256((server.library / "images" / "belt.png").read_bytes()).hexdigest()
    # Real identifiers for the content routes, so fuzzing gets past 404 to the code behind them.
    config = tmp_path / "schemathesis.toml"
    config.write_text(f"""
[[operations]]
include-path-regex = "^/api/v1/content/guides/"
parameters = {{ guide_id = "lost-bag", version = 1 }}

[[operations]]
include-path-regex = "/img/|/images/"
parameters = {{ sha256 = "{image}" }}
""")
    rss_before = rss_of(server.process.proc.pid)
    auth = {"anonymous": [], "device": ["-H", f"Authorization: Bearer {server.tokens['kiosk-1']}"],
            "staff": ["--auth", f"{STAFF_USER}:{STAFF_PASSWORD}"]}[who]
    run = subprocess.run(
        [str(ST), "--no-color", "--config-file", str(config), "run", f"{server.url}/openapi.json",
         "--checks", "not_a_server_error", "--max-examples", "10", "--workers", "1",
         "--generation-database", "none", "--request-timeout", "30", *auth],
        capture_output=True, text=True, timeout=180, cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "passed" in run.stdout and "failed" not in run.stdout.split("Test cases:")[-1]
    grown = rss_of(server.process.proc.pid) - rss_before
    assert grown <= 100 * 1024**2, f"the server's memory grew by {grown / 1024**2:.0f} MB under fuzzing"

