"""Both `config check`s warn when the server is reached over plain http on a network address: the
device token (and, on the server, staff passwords) would cross the airport network in clear.
Loopback and https are fine."""

from __future__ import annotations

import pytest

from kiosk.config_check import check_config
from server import config as server_config

CLEAR = ["http://10.20.0.5:8000", "http://kiosk.example.org", "http://[fd00::5]:8000", "HTTP://Fleet.Example.org/"]
SAFE = ["https://kiosk.example.org", "http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000",
        "http://127.5.6.7"]


def kiosk_warnings(tmp_path, url: str) -> list[str]:
    (tmp_path / "kiosk.toml").write_text(f'device = "gate-b12"\nserver_url = "{url}"\ntoken = "gkd_x"\n')
    return [f.message for f in check_config(tmp_path) if f.level == "warning"]


@pytest.mark.parametrize("url", CLEAR)
def test_kiosk_config_check_warns_of_a_plain_http_server(url, tmp_path):
    warned = [m for m in kiosk_warnings(tmp_path, url) if "plain http" in m]
    assert warned, f"no warning for {url}"
    assert "token" in warned[0] and "https://" in warned[0], warned[0]


@pytest.mark.parametrize("url", SAFE)
def test_kiosk_config_check_is_quiet_about_https_and_loopback(url, tmp_path):
    assert not [m for m in kiosk_warnings(tmp_path, url) if "plain http" in m]


@pytest.mark.parametrize(("host", "warns"), [("0.0.0.0", True), ("10.20.0.5", True), ("::", True),
                                             ("127.0.0.1", False), ("localhost", False), ("::1", False)])
def test_server_config_check_warns_when_it_serves_plain_http_beyond_loopback(host, warns, tmp_path, monkeypatch):
    for name in ("KIOSK_SERVER_DB", "KIOSK_SERVER_HOST", "KIOSK_SERVER_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "server.toml").write_text(f'host = "{host}"\n')
    findings = server_config.check(tmp_path)
    assert not [m for level, m in findings if level == "error"], findings
    warned = [m for level, m in findings if level == "warning" and "plain http" in m]
    assert bool(warned) == warns, findings
    if warns:
        assert "token" in warned[0] and "TLS" in warned[0]
