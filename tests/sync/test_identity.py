"""The kiosk learns its device name from its token (kiosk/identity.py), with the real server on
loopback and the real `kiosk` command. Before, the README's quick path (`kiosk run --server URL
--token TOKEN` on a fresh data dir) kept the generated name from kiosk.toml and the server refused
every event the kiosk recorded."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from kiosk.engine import SessionEngine
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
