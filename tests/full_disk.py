"""A full disk, as SQLite meets it: the database file may not grow, so writes fail with
"database or disk is full" (SQLITE_FULL), the same error a full filesystem gives. Making a real
full filesystem needs root (a small tmpfs); PRAGMA max_page_count gives the same failure to any
user, on any connection the code under test opens."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

import offline_cache.store


def fill(conn: sqlite3.Connection) -> None:
    """Cap the file at its current size and use up the room left in the pages of the tables that
    the kiosk writes (each table's pages have their own free space)."""
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    n = 0
    for sql in ("INSERT INTO sync_state(key, value) VALUES ('filler-' || ?, ?)",
                "INSERT INTO outbox(uuid, type, created_at, body) VALUES ('filler-' || ?, 'filler', 0, ?)"):
        for size in (2000, 200, 20, 1):  # big rows first, then smaller ones into what room is left
            with contextlib.suppress(sqlite3.OperationalError):
                while True:
                    n += 1
                    conn.execute(sql, [n, "x" * size])


def make_room(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM sync_state WHERE key LIKE 'filler-%'")
    conn.execute("DELETE FROM outbox WHERE type = 'filler'")
    conn.execute("PRAGMA max_page_count = 1073741823")


@contextlib.contextmanager
def disk_full(monkeypatch):
    """Every connection the store opens from here on finds the disk full."""
    real_connect = sqlite3.connect

    def connect(*args, **kwargs):
        conn = real_connect(*args, **kwargs)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {max(pages, 1)}")
        return conn

    with monkeypatch.context() as m:
        m.setattr(offline_cache.store.sqlite3, "connect", connect)
        yield


# --- the server, in a subprocess ------------------------------------------------------------------
# The real `kiosk-server serve` finds the disk full the same way: a sitecustomize module on its
# PYTHONPATH caps every SQLite connection at the database's current size while the flag file
# exists, before each statement, so the server's pooled connections (opened before the disk filled)
# meet it too. What still fits in the database's free pages is written, as on a real full disk;
# anything that needs a new page fails with SQLITE_FULL.

_SERVER_HOOK = '''
import os
import sqlite3
import sqlite3.dbapi2

_FLAG = os.environ["KIOSK_TEST_DISK_FULL_FLAG"]
_UNLIMITED = 1073741823
_connect = sqlite3.connect


class _DiskOf(sqlite3.Connection):
    def cursor(self, *args, **kwargs):
        full = os.path.exists(_FLAG)
        if full or getattr(self, "_capped", False):
            pages = sqlite3.Connection.execute(self, "PRAGMA page_count").fetchone()[0]
            sqlite3.Connection.execute(self, f"PRAGMA max_page_count = {pages if full else _UNLIMITED}")
            self._capped = full
        return super().cursor(*args, **kwargs)


def connect(*args, **kwargs):
    kwargs.setdefault("factory", _DiskOf)
    return _connect(*args, **kwargs)


sqlite3.connect = sqlite3.dbapi2.connect = connect  # SQLAlchemy calls the latter
'''


def server_disk_env(tmp: Path, flag: Path) -> dict[str, str]:
    """Environment for a server process whose disk is full while `flag` exists."""
    hook = tmp / "disk-full-hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(_SERVER_HOOK)
    path = os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "KIOSK_TEST_DISK_FULL_FLAG": str(flag)}
