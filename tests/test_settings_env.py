"""Every KIOSK_* and KIOSK_SERVER_* environment variable overrides its setting in the format it has
always had (lists comma-separated, booleans 1/true/yes/on, numbers as Python reads them). The
settings are enumerated from the models, so a new setting with no example below fails here."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from contract.config_files import file_keys
from kiosk.settings import Settings, load_settings
from server.config import Config, ConfigError

BIN = Path(sys.executable).parent

# setting: (text in the environment, the value the kiosk then uses)
KIOSK_ENV = {
    "device": ("gate-b12", "gate-b12"),
    "site": ("Terminal 2, gate B", "Terminal 2, gate B"),
    "server_url": ("https://kiosk.example.org", "https://kiosk.example.org"),
    "token": ("-starts-with-a-dash", "-starts-with-a-dash"),
    "server_key": ("A" * 43 + "=", "A" * 43 + "="),
    "public_url": ("https://go.example.org", "https://go.example.org"),
    "languages": (" en, es ,,ar ", ["en", "es", "ar"]),
    "default_language": ("es", "es"),
    "idle_timeout": ("90", 90.0),
    "idle_countdown": (" 7.5 ", 7.5),
    "thanks_timeout": ("5", 5.0),
    "untranslated": ("hide", "hide"),
    "staff_pin_hash": ("scrypt$c2FsdA==$ZGlnZXN0", "scrypt$c2FsdA==$ZGlnZXN0"),
    "sync_interval": ("1e1", 10.0),
    "outbox_limit": ("1_000_000", 1_000_000),
    "fullscreen": ("no", False),
    "panel_diagonal_in": ("21.5", 21.5),
    "panel_bottom_mm": (" 650 ", 650.0),
    "idle_timeout_assisted": ("180", 180.0),
    "keys_next": ("tab, down", ["tab", "down"]),
    "keys_previous": ("shift+tab,up", ["shift+tab", "up"]),
    "keys_activate": ("enter,spacebar", ["enter", "spacebar"]),
    "keys_back": ("backspace,escape", ["backspace", "escape"]),
    "keys_help": ("f1,h", ["f1", "h"]),
    "keys_volume_up": ("f10", ["f10"]),
    "keys_volume_down": ("f9", ["f9"]),
    "keys_repeat": ("f2,numpad5", ["f2", "numpad5"]),
    "keys_pause": ("f3", ["f3"]),
    "speech_volume": ("5", 5),
    "speech_rate": ("140", 140),
    "brand_primary": ("#00529B", "#00529B"),
    "brand_accent": ("#1A1A1A", "#1A1A1A"),
    "brand_logo": ("/etc/guide-kiosk/logo.png", "/etc/guide-kiosk/logo.png"),
}

SERVER_ENV = {
    "db": ("sqlite:////srv/kiosk/fleet.db", "sqlite:////srv/kiosk/fleet.db"),
    "host": ("0.0.0.0", "0.0.0.0"),
    "stale_after": ("30", 30.0),
    "ingest_concurrency": ("8", 8),
    "ingest_wait": ("0.25", 0.25),
    "retry_rate": ("12.5", 12.5),
    "retry_window": ("90", 90.0),
    "retry_max_wait": ("300", 300.0),
    "raw_event_days": ("365", 365),
    "traffic_flush": ("5", 5.0),
    "max_upload": ("1048576", 1048576),
    "header_timeout": ("5", 5.0),
    "body_timeout": ("7.5", 7.5),
    "max_connections": ("500", 500),
    "phone_link_hours": ("12.5", 12.5),
    "phone_legacy_links_until": ("2027-03-01", "2027-03-01"),
    "phone_link_limit": ("20", 20),
    "phone_session_limit": ("200", 200),
    "staff_pair_limit": ("5", 5),
    "staff_user_limit": ("100", 100),
    "staff_address_limit": ("40", 40),
    "trusted_proxies": ("127.0.0.1,10.0.0.2", "127.0.0.1,10.0.0.2"),
    "review_two_people": ("false", False),
    "compare_effect_points": ("3", 3.0),
    "compare_effect_stars": ("0.5", 0.5),
    "guard": ("true", True),
    "guard_confidence": ("0.99", 0.99),
    "guard_min_sessions": ("400", 400),
    "guard_min_days": ("7", 7.0),
    "guard_interval": ("5", 5.0),
    "staff_minutes_per_escalation": ("10", 10.0),
    "time_zone": ("Asia/Dubai", "Asia/Dubai"),
    "public_url": ("https://kiosks.example.org", "https://kiosks.example.org"),
    "alert_interval": ("30", 30.0),
    "alert_disk_low_mb": ("512", 512.0),
    "alert_outbox_events": ("1000", 1000),
    "alert_dead_panel_hours": ("2.5", 2.5),
    "alert_walkaway_points": ("10", 10.0),
    "alert_walkaway_views": ("50", 50),
    "alert_no_result_factor": ("2", 2.0),
    "alert_no_result_min": ("5", 5),
    "alert_rating_drop": ("0.75", 0.75),
    "alert_rating_min": ("30", 30),
    "smtp_host": ("smtp.example.org", "smtp.example.org"),
    "smtp_port": ("465", 465),
    "smtp_security": ("tls", "tls"),
    "smtp_user": ("alerts@example.org", "alerts@example.org"),
    "smtp_password": ("-a secret-", "-a secret-"),
    "smtp_ca_file": ("/etc/ssl/relay.pem", "/etc/ssl/relay.pem"),
    "alert_from": ("kiosks@example.org", "kiosks@example.org"),
    "alert_to": ("ops@example.org,duty@example.org", "ops@example.org,duty@example.org"),
    "webhook_url": ("https://hooks.slack.com/services/T/B/X", "https://hooks.slack.com/services/T/B/X"),
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("KIOSK_"):
            monkeypatch.delenv(name)


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    return subprocess.run([*args], check=False, capture_output=True, text=True, timeout=60,
                          env={**clean, **(env or {})})


def test_every_kiosk_setting_has_an_example_here():
    assert set(KIOSK_ENV) == set(file_keys(Settings)), "add the new setting to KIOSK_ENV"


@pytest.mark.parametrize("key", file_keys(Settings))
def test_each_kiosk_variable_overrides_the_file_and_is_not_written_into_it(key, tmp_path, monkeypatch):
    text, value = KIOSK_ENV[key]
    monkeypatch.setenv(f"KIOSK_{key.upper()}", text)
    settings = load_settings(tmp_path)  # a new data dir: kiosk.toml is made with the defaults
    assert getattr(settings, key) == value
    written = tomllib.loads((tmp_path / "kiosk.toml").read_text())
    assert written[key] != value, "the environment's value is not written into kiosk.toml"
    assert key == "device" or written[key] == getattr(Settings(), key)
    assert getattr(load_settings(tmp_path), key) == value


@pytest.mark.parametrize("text", ["1", "true", "TRUE", "Yes", " on "])
def test_kiosk_booleans_are_true_for_the_usual_words(text, tmp_path, monkeypatch):
    (tmp_path / "kiosk.toml").write_text("fullscreen = false\n")
    monkeypatch.setenv("KIOSK_FULLSCREEN", text)
    assert load_settings(tmp_path).fullscreen is True


@pytest.mark.parametrize("text", ["0", "false", "off", "no", "maybe", ""])
def test_kiosk_booleans_are_false_for_anything_else(text, tmp_path, monkeypatch):
    monkeypatch.setenv("KIOSK_FULLSCREEN", text)
    assert load_settings(tmp_path).fullscreen is False


def test_kiosk_data_dir_comes_from_the_environment_unless_given(tmp_path, monkeypatch):
    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path / "from-env"))
    settings = load_settings()
    assert settings.data_path == tmp_path / "from-env"
    assert settings.db_path == tmp_path / "from-env" / "kiosk.db"
    assert (tmp_path / "from-env" / "kiosk.toml").exists()
    assert load_settings(tmp_path / "given").data_path == tmp_path / "given"
    assert "data_dir" not in (tmp_path / "from-env" / "kiosk.toml").read_text()


def test_a_kiosk_variable_it_cannot_use_is_named_and_the_kiosk_still_starts(tmp_path):
    (tmp_path / "kiosk.toml").write_text('device = "gate-b12"\nidle_timeout = 30\n')
    env = {"KIOSK_IDLE_TIMEOUT": "soon", "KIOSK_OUTBOX_LIMIT": "lots"}
    out = run(str(BIN / "kiosk"), "config", "check", "--data-dir", str(tmp_path), env=env)
    assert out.returncode == 1
    assert "environment variable KIOSK_IDLE_TIMEOUT should be a number for 'idle_timeout', not 'soon'" in out.stdout
    assert "environment variable KIOSK_OUTBOX_LIMIT should be a whole number" in out.stdout
    status = run(str(BIN / "kiosk"), "status", "--json", "--data-dir", str(tmp_path), env=env)
    assert status.returncode == 0, status.stderr
    assert "Traceback" not in status.stderr and "KIOSK_IDLE_TIMEOUT" in status.stderr


def test_every_kiosk_setting_of_the_wrong_type_is_named_in_plain_words(tmp_path):
    wrong = {key: (5 if info.annotation is str else "not-valid") for key, info in Settings.model_fields.items()
             if key in file_keys(Settings)}
    lines = [f"{key} = {value!r}".replace("'", '"') for key, value in wrong.items()]
    (tmp_path / "kiosk.toml").write_text("\n".join(lines) + "\n")
    out = run(str(BIN / "kiosk"), "config", "check", "--data-dir", str(tmp_path))
    assert out.returncode == 1
    for key, value in wrong.items():
        assert f"'{key}' should be " in out.stdout and f"not {value!r} (in {tmp_path / 'kiosk.toml'})" in out.stdout
    assert "validation error" not in out.stdout.lower() and "pydantic" not in out.stdout.lower()


def test_kiosk_config_show_marks_what_the_environment_overrides(tmp_path):
    (tmp_path / "kiosk.toml").write_text('device = "gate-b12"\nidle_timeout = 45.0\n')
    out = run(str(BIN / "kiosk"), "config", "show", "--data-dir", str(tmp_path), env={"KIOSK_IDLE_TIMEOUT": "90"})
    assert out.returncode == 0, out.stderr
    shown = tomllib.loads(out.stdout)
    assert shown["idle_timeout"] == 90.0 and shown["device"] == "gate-b12"
    assert set(shown) == set(file_keys(Settings)), "every setting is shown, defaults included"
    assert "idle_timeout = 90.0  # from KIOSK_IDLE_TIMEOUT; kiosk.toml has 45.0" in out.stdout


def test_set_pin_keeps_the_environment_out_of_kiosk_toml(tmp_path):
    (tmp_path / "kiosk.toml").write_text('device = "gate-b12"\nidle_timeout = 45.0\n')
    env = {"KIOSK_IDLE_TIMEOUT": "90", "KIOSK_SERVER_URL": "https://elsewhere.example.org"}
    pin = subprocess.run([str(BIN / "kiosk"), "config", "set-pin", "--pin-stdin", "--data-dir", str(tmp_path)],
                         input="4826\n", capture_output=True, text=True, timeout=60, check=False,
                         env={**os.environ, **env})
    assert pin.returncode == 0, pin.stderr
    saved = tomllib.loads((tmp_path / "kiosk.toml").read_text())
    assert saved["idle_timeout"] == 45.0 and saved["server_url"] == ""
    assert saved["staff_pin_hash"].startswith("scrypt$")


def test_every_server_setting_has_an_example_here():
    assert set(SERVER_ENV) == set(file_keys(Config)), "add the new setting to SERVER_ENV"


@pytest.mark.parametrize("key", file_keys(Config))
def test_each_server_variable_overrides_server_toml(key, tmp_path, monkeypatch):
    text, value = SERVER_ENV[key]
    (tmp_path / "server.toml").write_text(
        'db = "sqlite:////elsewhere.db"\nstale_after = 1.0\ningest_concurrency = 1\ningest_wait = 9.0\n')
    monkeypatch.setenv("KIOSK_SERVER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(f"KIOSK_SERVER_{key.upper()}", text)
    config = Config.from_env()
    assert getattr(config, key) == value
    assert config.data_dir == tmp_path


def test_server_settings_come_from_server_toml_in_the_data_dir(tmp_path, monkeypatch):
    (tmp_path / "server.toml").write_text('stale_after = 5\ningest_concurrency = 2\n')
    monkeypatch.setenv("KIOSK_SERVER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KIOSK_SERVER_DB", "")  # empty is not set, as before
    config = Config.from_env()
    assert (config.stale_after_minutes, config.ingest_concurrency, config.ingest_wait) == (5.0, 2, 2.0)
    assert config.db_url == f"sqlite:///{(tmp_path / 'server.db').resolve()}"


def test_a_server_value_it_cannot_use_stops_it_with_a_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("KIOSK_SERVER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KIOSK_SERVER_INGEST_CONCURRENCY", "many")
    with pytest.raises(ConfigError, match="KIOSK_SERVER_INGEST_CONCURRENCY should be a whole number"):
        Config.from_env()
    out = run(str(BIN / "kiosk-server"), "device", "list", "--data-dir", str(tmp_path),
              env={"KIOSK_SERVER_STALE_AFTER": "soon"})
    assert out.returncode == 2
    assert "environment variable KIOSK_SERVER_STALE_AFTER should be a number for 'stale_after', not 'soon'" \
        in out.stderr
    assert "Traceback" not in out.stderr


def test_kiosk_server_db_names_the_database_the_commands_use(tmp_path):
    db_file = tmp_path / "fleet.db"
    out = run(str(BIN / "kiosk-server"), "device", "add", "gate-1",
              env={"KIOSK_SERVER_DATA_DIR": str(tmp_path / "data"), "KIOSK_SERVER_DB": f"sqlite:///{db_file}"})
    assert out.returncode == 0, out.stderr
    assert db_file.exists() and (tmp_path / "data").is_dir()
    assert not (tmp_path / "data" / "server.db").exists()


def test_serve_hands_its_options_to_the_workers_in_the_same_variables(tmp_path, monkeypatch):
    from server.config import worker_env

    env = worker_env(data_dir=tmp_path, db=f"sqlite:///{tmp_path / 'fleet.db'}", stale_after=2.5, ingest_wait=None)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = Config.from_env()
    assert (config.data_dir, config.db_url, config.stale_after_minutes) == (tmp_path, f"sqlite:///{tmp_path / 'fleet.db'}", 2.5)
    assert config.ingest_wait == 2.0


def test_the_settings_import_neither_the_other_side_nor_a_ui_or_web_framework():
    code = ("import sys, kiosk.settings, kiosk.config_check; bad = [m for m in sys.modules "
            "if m.split('.')[0] in ('server', 'kivy', 'fastapi', 'screens')]; print(bad)")
    kiosk_side = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert kiosk_side.stdout.strip() == "[]"
    code = ("import sys, server.config; bad = [m for m in sys.modules "
            "if m.split('.')[0] in ('kiosk', 'kivy', 'fastapi', 'screens')]; print(bad)")
    server_side = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert server_side.stdout.strip() == "[]"


def test_the_readme_documents_every_setting_and_its_variable():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    for key in file_keys(Settings):
        assert f"`{key}`" in section, f"README's Configuration has no row for the kiosk's {key}"
    for key in file_keys(Config):
        assert f"`{key}`" in section and f"`KIOSK_SERVER_{key.upper()}`" in section, \
            f"README's Configuration has no row for the server's {key} and its variable"
