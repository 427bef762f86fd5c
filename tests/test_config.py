"""`kiosk config check` and `kiosk-server config check` tell an operator, in plain words, what is
wrong with a configuration; environment variables override the files; a kiosk with a broken
environment variable still starts on that setting's default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kiosk.settings import load_settings

BIN = Path(sys.executable).parent


def run(*args: str, env: dict | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*args], check=False, capture_output=True, text=True, input=stdin, timeout=60,
                          env=dict(os.environ, **(env or {})))


def test_a_new_kiosk_config_is_fine_apart_from_the_default_pin(tmp_path):
    assert run(str(BIN / "kiosk"), "status", "--data-dir", str(tmp_path)).returncode == 0
    out = run(str(BIN / "kiosk"), "config", "check", "--data-dir", str(tmp_path))
    assert out.returncode == 0, out.stdout
    assert "default staff PIN 1234" in out.stdout and "runs offline only" in out.stdout
    pin = run(str(BIN / "kiosk"), "config", "set-pin", "--pin-stdin", "--data-dir", str(tmp_path), stdin="4826\n")
    assert pin.returncode == 0
    assert "4826" not in (tmp_path / "kiosk.toml").read_text(), "only the PIN's hash is stored"
    assert load_settings(tmp_path).check_staff_pin("4826") and not load_settings(tmp_path).check_staff_pin("1234")
    out = run(str(BIN / "kiosk"), "config", "check", "--data-dir", str(tmp_path))
    assert "PIN" not in out.stdout


def test_kiosk_config_mistakes_are_named_in_plain_words(tmp_path):
    (tmp_path / "kiosk.toml").write_text(
        'device = "gate-b12"\nidel_timeout = 30\nidle_timeout = "soon"\nserver_url = "kiosk.example.org"\n'
        'server_key = "not-a-key"\nlanguages = ["en", "english"]\ndefault_language = "fr"\n'
        'staff_pin_hash = "1234"\nsync_interval = 0\n')
    out = run(str(BIN / "kiosk"), "config", "check", "--data-dir", str(tmp_path))
    assert out.returncode == 1
    for phrase in ("unknown setting 'idel_timeout' (did you mean 'idle_timeout'?)",
                   "'idle_timeout' should be a number, not 'soon'",
                   "server_url 'kiosk.example.org' is not an http:// or https:// address",
                   "server_url is set but token is empty",
                   "server_key is not an Ed25519 public key",
                   "languages has codes that are not language codes: english",
                   "default_language 'fr' is not among languages",
                   "staff_pin_hash is not a PIN hash",
                   "sync_interval must be more than 0 minutes"):
        assert phrase in out.stdout, phrase
    # load_settings() itself stays forgiving, using the defaults for what it cannot use; the commands
    # refuse such a file before they use it (tests/test_kiosk_toml.py)
    settings = load_settings(tmp_path)
    assert settings.idle_timeout == 45.0 and settings.device == "gate-b12"


def test_environment_overrides_the_kiosk_file(tmp_path, monkeypatch):
    (tmp_path / "kiosk.toml").write_text('device = "gate-b12"\nidle_timeout = 45.0\n')
    monkeypatch.setenv("KIOSK_IDLE_TIMEOUT", "90")
    assert load_settings(tmp_path).idle_timeout == 90.0
    out = run(str(BIN / "kiosk"), "config", "check", "--data-dir", str(tmp_path))
    assert "KIOSK_IDLE_TIMEOUT overrides 'idle_timeout'" in out.stdout


def test_server_config_file_is_checked_and_used(tmp_path):
    server = [str(BIN / "kiosk-server")]
    env = {"KIOSK_SERVER_DB": "", "KIOSK_SERVER_DATA_DIR": ""}
    env = {k: v for k, v in os.environ.items() if k not in env}
    (tmp_path / "server.toml").write_text('db = "sqlite:///' + str(tmp_path / "fleet.db") + '"\nstale_afte = 5\n'
                                          'ingest_wait = "long"\n')
    out = subprocess.run(server + ["config", "check", "--data-dir", str(tmp_path)], check=False, capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 1
    assert "unknown setting 'stale_afte'" in out.stdout and "(did you mean 'stale_after'?)" in out.stdout
    assert "'ingest_wait'" in out.stdout and "should be a number" in out.stdout
    (tmp_path / "server.toml").write_text('db = "sqlite:///' + str(tmp_path / "fleet.db") + '"\nstale_after = 5\n')
    added = subprocess.run(server + ["device", "add", "gate-1", "--data-dir", str(tmp_path)], check=False,
                           capture_output=True,
                           text=True, env=env, timeout=60)
    assert added.returncode == 0, added.stderr
    assert (tmp_path / "fleet.db").exists(), "the database named in server.toml is the one used"
    out = subprocess.run(server + ["config", "check", "--data-dir", str(tmp_path)], check=False, capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 0, out.stdout
    assert "no staff login exists" in out.stdout and "no signing key yet" in out.stdout
