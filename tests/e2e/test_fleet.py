"""The reference fleet from docs/deployment.md, for real: two `kiosk-server` processes on one
PostgreSQL behind nginx, configured by deploy/nginx-fleet.conf. Kiosks sync through nginx, whose
least-connections balancing spreads their requests over both processes, so nothing may depend on
one process's memory: content, manifests (ETag), device tokens, event de-duplication, staff
logins and mobile links must all work whichever process answers.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from test_end_to_end import pg_database, server_cli

from devtools.nginx import nginx_config
from devtools.procs import ServerProcess, free_port, wait_for
from kiosk.engine import SessionEngine
from kiosk.settings import load_settings
from kiosk.sync import SyncService
from offline_cache.store import Store
from server import db

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture
def fleet(tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx is installed by scripts/setup --test"
    with pg_database("e2e_fleet") as db_url:  # a database of its own, dropped afterwards
        env = dict(os.environ, KIOSK_SERVER_DB=db_url, KIOSK_SERVER_DATA_DIR=str(tmp_path / "server"))
        server_cli(env, "publish", str(REPO / "assets" / "library"), "--by", "ops")
        tokens = {}
        for name in ("fleet-1", "fleet-2", "fleet-3"):
            out = server_cli(env, "device", "add", name)
            tokens[name] = re.search(r"([A-Za-z0-9_-]{32,})", out).group(1)
        server_cli(env, "staff", "add", "ops", "--password-stdin", stdin="ops password 123\n")
        key = server_cli(env, "key").strip().splitlines()[-1]
        # two processes, one data dir (the signing key) and one database
        servers = [ServerProcess(tmp_path / "server", env=env, log=tmp_path / f"server-{n}.log").start()
                   for n in (1, 2)]
        ports = [server.port for server in servers]
        listen = free_port()
        prefix = tmp_path / "nginx"
        conf = nginx_config(prefix, listen, ports)
        test = subprocess.run([nginx, "-t", "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf)],
                              capture_output=True, text=True, check=False)
        assert test.returncode == 0, test.stderr
        proxy = subprocess.Popen([nginx, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf),
                                  "-g", "daemon off;"], stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{listen}"
        wait_for(lambda: _ok(base + "/healthz"), 30, "nginx")
        yield {"base": base, "tokens": tokens, "key": key, "db_url": db_url, "prefix": prefix, "tmp": tmp_path,
               "ports": ports}
        proxy.terminate()
        proxy.wait(10)
        for server in servers:
            server.stop(timeout=20)


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_kiosks_sync_through_nginx_over_two_server_processes(fleet, tmp_path):
    # Three kiosks, each with sessions recorded by the real engine, sync at the same time through
    # nginx; each does several rounds so requests land on both processes.
    kiosks = []
    for name, token in fleet["tokens"].items():
        data = tmp_path / name
        data.mkdir()
        (data / "kiosk.toml").write_text(f'device = "{name}"\nserver_url = "{fleet["base"]}"\n'
                                         f'token = "{token}"\nserver_key = "{fleet["key"]}"\n')
        settings = load_settings(data)
        store = Store(settings.db_path)
        kiosks.append((settings, store))
    sent: set[str] = set()

    def run(settings, store):
        engine = SessionEngine(store, settings.device)
        service = SyncService.from_settings(settings, store)
        assert service.sync_once().ok  # first round: content version 1 through nginx
        for _ in range(4):
            engine.start_session()
            engine.open_guide("airport-wifi")
            engine.choose(0)
            engine.end_session()
            sent.update(e.uuid for e in store.take_batch(10_000))
            result = service.sync_once()
            assert result.ok, result.error

    threads = [threading.Thread(target=run, args=k) for k in kiosks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for settings, store in kiosks:
        assert store.content_version == "1" and store.guide_count() == 11
        assert store.outbox_depth() == 0, f"{settings.device} still holds events"

    engine = sa.create_engine(db.normalize_url(fleet["db_url"]))
    with engine.connect() as conn:
        stored = [r[0] for r in conn.execute(sa.select(db.events.c.uuid))]
    engine.dispose()
    assert len(stored) == len(set(stored)) and set(stored) == sent, "every event once, none lost"

    # nginx really spread the kiosks over both processes
    log = (fleet["prefix"] / "access.log").read_text()
    assert log.count("/api/v1/events") >= 12
    with httpx.Client(base_url=fleet["base"]) as staff:  # a staff login works whichever process answers
        assert staff.post("/dashboard/login", data={"username": "ops", "password": "ops password 123"}
                          ).status_code == 303
        pages = [staff.get("/dashboard/fleet") for _ in range(6)]
    assert all(p.status_code == 200 and "fleet-3" in p.text for p in pages)
    served = [(Path(fleet["tmp"]) / f"server-{n}.log").read_text(errors="replace") for n in (1, 2)]
    assert all("/api/v1/" in text for text in served), "both server processes answered kiosks"
