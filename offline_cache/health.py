"""Whether a file can be the kiosk's store at all, from what it is: checked before SQLite opens it,
since SQLite takes an empty file for a new database and cannot open a folder.
The pages themselves are checked by Store.__init__ (PRAGMA quick_check)."""

from __future__ import annotations

import fcntl
import sqlite3
import stat
from pathlib import Path
from typing import IO

from offline_cache.errors import StoreError


def check_file(path: Path) -> str | None:
    """Why the file at `path` cannot be the store; None when it may be, or does not exist yet (a new
    kiosk: SQLite makes it). An empty file is refused: the store writes its schema as it creates
    the file, so an empty kiosk.db is one that lost its contents. A file that is not SQLite's is
    left to SQLite to name ("file is not a database").

    Only stat(), never open(): closing any descriptor of the file would drop the POSIX locks that
    this process's SQLite connections hold on it, and let another process (the app beside
    `kiosk status`) checkpoint under them, which corrupts the database (sqlite.org/howtocorrupt.html)."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"the kiosk's database {path} cannot be read ({exc.strerror or exc})", path) from exc
    if not stat.S_ISREG(info.st_mode):
        return "it is not a file"
    if info.st_size == 0:
        return "it is empty"
    return None


def check_database(path: Path) -> str | None:
    """check_file, then the pages (PRAGMA quick_check), on a read-only connection: what
    `kiosk config check` reports, changing nothing. None for a usable (or absent) database."""
    if problem := check_file(path):
        return problem
    if not path.exists():
        return None
    try:
        found = quick_check(path)
    except sqlite3.DatabaseError as exc:
        return str(exc)
    except sqlite3.Error as exc:
        raise StoreError(f"the kiosk's database {path} cannot be read ({exc})", path) from exc
    return None if found == ["ok"] else "; ".join(found)[:300]


def quick_check(path: Path) -> list[str]:
    """PRAGMA quick_check's findings (["ok"] for sound pages) on a read-only connection; raises
    sqlite3 errors. Read-only because a connection that may write, when it closes as the last one
    on a damaged file, checkpoints it and deletes its -wal: the last commits, which recovery.py
    salvages events from."""
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
    finally:
        conn.close()


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def use_lock(path: Path) -> IO[bytes]:
    """A shared lock on <db>.lock for as long as the returned file stays open: the store holds it
    while it is open; a rebuild asks for it exclusively (take_over). A separate file, so that its
    open and close never touch SQLite's own locks on the database."""
    fh = lock_path(path).open("ab")
    fcntl.flock(fh, fcntl.LOCK_SH)
    return fh


def take_over(path: Path) -> IO[bytes] | None:
    """The exclusive lock on <db>.lock, or None when another store (another process: the app beside
    `kiosk status`) has the database open. Released by closing the file."""
    fh = lock_path(path).open("ab")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        return None
    return fh
