"""Whether a file can be the kiosk's store at all, from what it is and its first bytes: checked
before SQLite opens it, since SQLite takes an empty file for a new database and cannot open a folder.
The pages themselves are checked by Store.__init__ (PRAGMA quick_check)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from offline_cache.errors import StoreError

SQLITE_HEADER = b"SQLite format 3\x00"


def check_file(path: Path) -> str | None:
    """Why the file at `path` cannot be the store; None when it may be, or does not exist yet (a new
    kiosk: SQLite makes it). An empty file is refused: the store writes its schema as it creates
    the file, so an empty kiosk.db is one that lost its contents."""
    try:
        if not os.path.lexists(path):
            return None
        if not path.is_file():
            return "it is not a file"
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"the kiosk's database {path} cannot be read ({exc.strerror or exc})", path) from exc
    if not head:
        return "it is empty"
    if head != SQLITE_HEADER:
        return "it is not an SQLite database"
    return None


def check_database(path: Path) -> str | None:
    """check_file, then the pages (PRAGMA quick_check), on a read-only connection: what
    `kiosk config check` reports, changing nothing. None for a usable (or absent) database."""
    if problem := check_file(path):
        return problem
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            found = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    except sqlite3.Error as exc:
        raise StoreError(f"the kiosk's database {path} cannot be read ({exc})", path) from exc
    return None if found == ["ok"] else "; ".join(found)[:300]
