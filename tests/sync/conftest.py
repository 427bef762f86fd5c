"""The real central server on loopback (`kiosk-server serve` in a subprocess, its own SQLite file
and key), and kiosks configured to sync with it."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.procs import (
    ServerProcess,
    free_port,
    wait_for,  # noqa: F401 - the sync tests import it from here too
)
from kiosk.settings import Settings
from offline_cache.store import Store

BIN = Path(sys.executable).parent


class ServerProc:
    """One central server: its data dir, its CLI, its process, and read access to its database.
    `release` runs the server of another source tree (tests/compat: the previous release)."""

    def __init__(self, data_dir: Path, port: int | None = None, release: Path | None = None):
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "KIOSK_SERVER_DATA_DIR": str(data_dir)}
        self.env.pop("KIOSK_SERVER_DB", None)
        self.command = [str(BIN / "kiosk-server")]
        self.cwd = None
        if release is not None:
            self.command, self.cwd = [sys.executable, "-m", "server.cli"], release
            self.env["PYTHONPATH"] = str(release)
        self.process = ServerProcess(data_dir, port=self.port, env=self.env, log=data_dir / "serve.log",
                                     program=None if release is None else self.command, cwd=self.cwd)
        data_dir.mkdir(parents=True, exist_ok=True)
        self._key: str | None = None

    def cli(self, *args: str) -> str:
        out = subprocess.run([*self.command, *args], env=self.env, cwd=self.cwd, capture_output=True,
                             text=True, timeout=120, check=False)
        assert out.returncode == 0, f"kiosk-server {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
        return out.stdout

    def start(self) -> ServerProc:
        self.process.start()
        return self

    def stop(self) -> None:
        self.process.stop()

    # --- set-up through the real CLI -------------------------------------------------------------

    def add_device(self, name: str, group: str | None = None) -> str:
        out = self.cli("device", "add", name, *(["--group", group] if group else []))
        tokens = re.findall(r"[A-Za-z0-9_\-]{32,}", out)
        assert tokens, f"no token in: {out}"
        return tokens[-1]

    def key(self) -> str:
        if self._key is None:  # the key never changes: one `kiosk-server key` per server
            self._key = re.findall(r"[A-Za-z0-9+/]{43}=", self.cli("key"))[-1]
        return self._key

    def publish(self, path: Path) -> str:
        return self.cli("publish", str(path))

    # --- what the server holds -------------------------------------------------------------------

    def db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.data_dir / "server.db", timeout=30)
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def event_uuids(self) -> list[str]:
        with self.db() as conn:
            return [r[0] for r in conn.execute("SELECT uuid FROM events")]

    def content_version(self) -> int:
        with self.db() as conn:
            return conn.execute("SELECT MAX(version) FROM content_versions").fetchone()[0]

    def guides_of(self, version: int) -> dict[str, int]:
        with self.db() as conn:
            return dict(conn.execute("SELECT guide_id, guide_version FROM content_guides "
                                     "WHERE content_version = ?", [version]))


class Kiosk:
    """A kiosk data dir configured for one server; `run` calls the real `kiosk` command."""

    def __init__(self, data_dir: Path, server: ServerProc, name: str, url: str | None = None,
                 group: str | None = None):
        self.data_dir = data_dir
        self.name = name
        self.token = server.add_device(name, group)
        self.settings = Settings(device=name, server_url=url or server.url, token=self.token,
                                 server_key=server.key(), data_dir=str(data_dir), sync_interval=5.0)
        self.settings.save()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}

    def set_url(self, url: str) -> None:
        self.settings.server_url = url
        self.settings.save()

    def store(self) -> Store:
        return Store(self.settings.db_path)

    def run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        out = subprocess.run([str(BIN / "kiosk"), *args, "--data-dir", str(self.data_dir)],
                             env=self.env, capture_output=True, text=True, timeout=timeout, check=False)
        if check:
            assert out.returncode == 0, f"kiosk {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
        return out

    def popen_sync(self) -> subprocess.Popen:
        return subprocess.Popen([str(BIN / "kiosk"), "sync", "--json", "--data-dir", str(self.data_dir)],
                                env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture
def server(tmp_path: Path):
    srv = ServerProc(tmp_path / "server").start()
    yield srv
    srv.stop()


@pytest.fixture
def kiosk(tmp_path: Path, server: ServerProc) -> Kiosk:
    return Kiosk(tmp_path / "kiosk", server, "kiosk-1")
