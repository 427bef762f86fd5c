"""The kiosk learns its device name from its token (kiosk/identity.py), with the real server on
loopback and the real `kiosk` command. Before, the README's quick path (`kiosk run --server URL
--token TOKEN` on a fresh data dir) kept the generated name from kiosk.toml and the server refused
every event the kiosk recorded."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from kiosk.engine import SessionEngine
from kiosk.identity import IdentityRefused, confirm_device_name, confirmed_name, names_recorded_before
from kiosk.transport import AuthError, DeviceInfo, NetworkError
from offline_cache.store import Store
from offline_cache.sync_tables import SyncTables
from tests.sync.conftest import BIN, free_port

REFUSAL = "does not know this token; issue one with `kiosk-server device add NAME` or " \
          "`kiosk-server device rotate NAME`"


def _kiosk(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    return subprocess.run([str(BIN / "kiosk"), *args, "--data-dir", str(data_dir)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def _use_the_kiosk(data_dir: Path) -> tuple[str, int]:
    """A fresh data dir, used before it was ever connected: the generated device name, and how
    many events a traveller's session left in the outbox."""
    status = _kiosk(data_dir, "status", "--json")
    assert status.returncode == 0, status.stderr
    generated = json.loads(status.stdout)["device"]
    store = Store(data_dir / "kiosk.db")
    engine = SessionEngine(store, generated)
    engine.start_session("en")
    engine.open_guide("lost-baggage")
    engine.choose(0)
    engine.feedback(True, 5, "found it")
    engine.end_session()
    recorded = store.outbox_depth()
    store.close()
    assert recorded >= 4
    return generated, recorded


def test_quick_path_delivers_every_event_under_the_tokens_device(tmp_path, server):
    data_dir = tmp_path / "kiosk"
    generated, recorded = _use_the_kiosk(data_dir)
    token = server.add_device("gate-12")
    assert generated != "gate-12"

    out = _kiosk(data_dir, "sync", "--server", server.url, "--token", token, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["events_sent"] == recorded
    with server.db() as conn:
        devices = [r[0] for r in conn.execute("SELECT device FROM events")]
    assert devices == ["gate-12"] * recorded, "every event arrives as the token's device"
    store = Store(data_dir / "kiosk.db")
    assert SyncTables(store).rejected_count() == 0 and store.outbox_depth() == 0
    store.close()

    # The name is remembered for this token: with the server gone the kiosk still starts (the round
    # is offline), instead of refusing as a kiosk that never confirmed its name must.
    server.stop()
    again = _kiosk(data_dir, "sync", "--server", server.url, "--token", token, "--json")
    assert again.returncode == 1 and json.loads(again.stdout)["result"] == "offline", again.stderr


@pytest.mark.parametrize("command", ["sync", "run"])
def test_an_unknown_token_refuses_to_start_with_one_sentence(tmp_path, server, command):
    out = _kiosk(tmp_path / "kiosk", command, "--server", server.url, "--token", "not-a-token")
    assert out.returncode == 2
    assert out.stderr.strip() == f"The server at {server.url} {REFUSAL}."
    assert server.event_uuids() == []


def test_an_unreachable_server_refuses_a_kiosk_that_never_confirmed_its_name(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    out = _kiosk(tmp_path / "kiosk", "sync", "--server", url, "--token", "some-token")
    assert out.returncode == 2
    assert f"The server at {url} could not be asked which device this token belongs to" in out.stderr
    assert "Start it again once the server is reachable." in out.stderr


class _Lookup:
    """The server's answer to GET /api/v1/device, and how often it was asked."""

    def __init__(self, answer):
        self.answer, self.asked = answer, 0

    def fetch_device(self):
        self.asked += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def _settings(token: str = "tok-1", device: str = "host-1a2b3c") -> SimpleNamespace:
    return SimpleNamespace(server_url="http://server", token=token, device=device, data_path=Path("/nonexistent"))


def test_a_confirmed_name_is_used_without_asking_again_until_the_token_changes(store):
    first = _Lookup(DeviceInfo("gate-12"))
    settings = _settings()
    assert confirm_device_name(settings, store, first) == "gate-12" and settings.device == "gate-12"
    offline = _Lookup(NetworkError("connection refused"))
    later = _settings()
    assert confirm_device_name(later, store, offline) == "gate-12" and offline.asked == 0
    assert "tok-1" not in json.dumps(store.get_state("device_identity")), "the token itself is not stored"
    assert confirmed_name(_settings(), store) == "gate-12", "kiosk status shows the confirmed name"
    assert confirmed_name(_settings(token="tok-2"), store) is None
    # Events recorded under the generated name are this kiosk's; no other name is relabelled.
    assert names_recorded_before(_settings(), store) == {"host-1a2b3c"}
    assert names_recorded_before(_settings(token="tok-2"), store) == set()

    rotated = _settings(token="tok-2")
    with pytest.raises(IdentityRefused, match="could not be asked"):
        confirm_device_name(rotated, store, offline)


def test_a_server_before_the_endpoint_keeps_the_configured_name_and_asks_next_time(store):
    old_server = _Lookup(None)  # HTTP 404
    settings = _settings()
    assert confirm_device_name(settings, store, old_server) == "host-1a2b3c"
    upgraded = _Lookup(DeviceInfo("gate-12"))
    assert confirm_device_name(_settings(), store, upgraded) == "gate-12" and upgraded.asked == 1


def test_a_kiosk_without_a_server_asks_nobody(store):
    lookup = _Lookup(AuthError("401", 401))
    settings = SimpleNamespace(server_url="", token="", device="host-1a2b3c")
    assert confirm_device_name(settings, store, lookup) == "host-1a2b3c" and lookup.asked == 0
