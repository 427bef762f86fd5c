"""What happens to a kiosk.db that cannot be used (a power cut mid-write, a dying SD card, a file
copied over by hand): the store refuses it at open (Store raises StoreCorrupt: offline_cache/health.py and
Store.__init__), and `open_or_rebuild` moves it aside, starts a new one, and copies into it every
outbox event that can still be read from the bad file, row by row.

The bad file is renamed, never deleted or changed: `kiosk-damaged-<UTC time>.db` beside the new one,
with its -wal and -shm renamed the same way (a stale -shm left beside the new file would be taken for
the new file's). Salvage reads a copy of the file and its -wal, so what was found stays as it was (but for
the -shm, the -wal's index, which SQLite rebuilds when it finds it inconsistent).

The new store records what happened in sync_state "recovered": {at, moved_to, outbox_kept,
outbox_lost}; `kiosk status` and the heartbeat report it. outbox_lost counts the events the bad file
still shows existed (in an index or the table) but whose rows cannot be read; it is None when the file
is too damaged to tell how many there were. Content is not salvaged: the caller refills it from the
bundled library and the next sync, which is what a new kiosk does anyway.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from offline_cache.errors import StoreCorrupt
from offline_cache.health import take_over
from offline_cache.store import Store

log = logging.getLogger("offline_cache")

RECOVERED_KEY = "recovered"
_COLUMNS = "seq, uuid, type, created_at, body"


@dataclass(frozen=True)
class Recovery:
    """One rebuild of the store, as `kiosk status --json` and the heartbeat show it."""

    at: str  # ISO 8601, UTC
    moved_to: str  # where the bad file now is
    outbox_kept: int
    outbox_lost: int | None  # None: the file was too damaged to count what it held

    def as_dict(self) -> dict:
        return asdict(self)


def open_or_rebuild(path: str | Path, outbox_limit: int) -> tuple[Store, Recovery | None]:
    """The store at `path`; a damaged one is moved aside and replaced by a new, empty one holding
    the events that could be read from it. Other store errors (a full disk, no permission) are not
    the file's fault and are raised as they are: moving the file would not help and would lose data."""
    path = Path(path)
    try:
        return Store(path, outbox_limit=outbox_limit), None
    except StoreCorrupt as exc:
        problem = str(exc)
    owner = take_over(path)
    if owner is None:
        raise StoreCorrupt(f"{problem}; another kiosk process (the app?) has it open, so it was left where it "
                           "is: stop that process, and the next start moves it aside and rebuilds it", path)
    try:
        moved = _move_aside(path)
        rows, lost = salvage_outbox(moved)
    finally:
        owner.close()
    store = Store(path, outbox_limit=outbox_limit)
    recovery = Recovery(at=datetime.now(UTC).isoformat(timespec="seconds"), moved_to=str(moved),
                        outbox_kept=len(rows), outbox_lost=lost)
    with store.transaction():
        store.db.conn.executemany("INSERT OR IGNORE INTO outbox(uuid, type, created_at, body) VALUES (?, ?, ?, ?)",
                                  rows)
        store.set_state(RECOVERED_KEY, recovery.as_dict())
    log.error("%s; moved it to %s and started a new one: %d waiting events kept, %s lost", problem, moved,
              recovery.outbox_kept, "an unknown number" if lost is None else lost)
    return store, recovery


def last_recovery(store: Store) -> Recovery | None:
    doc = store.get_state(RECOVERED_KEY)
    return Recovery(**doc) if doc else None


def _move_aside(path: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    moved = path.with_name(f"{path.stem}-damaged-{stamp}{path.suffix}")
    n = 1
    while any(os.path.lexists(f"{moved}{end}") for end in ("", "-wal", "-shm")):
        n += 1
        moved = path.with_name(f"{path.stem}-damaged-{stamp}-{n}{path.suffix}")
    os.rename(path, moved)  # same folder: a rename, whatever the file (or folder) holds
    for end in ("-wal", "-shm"):
        if os.path.lexists(f"{path}{end}"):
            os.rename(f"{path}{end}", f"{moved}{end}")
    return moved


def salvage_outbox(bad: Path) -> tuple[list[tuple], int | None]:
    """The outbox rows (uuid, type, created_at, body) that can be read from the bad file, in their
    order, and how many more it shows existed but cannot give back (None: cannot tell).

    Read from a copy of the file and its -wal (the events of the last commits may be only there),
    opened normally so SQLite reads the WAL; if no copy can be made (a full disk), from the file
    itself with immutable=1, which writes nothing and skips the WAL."""
    if not bad.is_file():
        return [], None
    with tempfile.TemporaryDirectory(prefix="salvage-", dir=bad.parent) as tmp:
        try:
            copy = Path(tmp) / "kiosk.db"
            shutil.copyfile(bad, copy)
            if os.path.exists(f"{bad}-wal"):
                shutil.copyfile(f"{bad}-wal", f"{copy}-wal")
            uri = copy.as_uri()
        except OSError as exc:
            log.warning("no room to copy %s for salvage (%s); reading it in place without its WAL", bad, exc)
            uri = bad.as_uri() + "?immutable=1"
        try:
            conn = sqlite3.connect(uri, uri=True)
        except sqlite3.Error:
            return [], None
        try:
            return _salvage(conn)
        finally:
            conn.close()


def _salvage(conn: sqlite3.Connection) -> tuple[list[tuple], int | None]:
    try:
        indexes = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox'")]
    except sqlite3.DatabaseError:
        return [], None  # no schema to read: nothing can be found in it
    # Every seq the file still knows of: each index of the outbox, and the table itself.
    known: set[int] = set()
    counted = False
    for index in indexes:
        counted |= _collect(conn, f'SELECT seq FROM outbox INDEXED BY "{index}"', known)
    rows: dict[int, tuple] = {}
    counted |= _walk_table(conn, rows)
    known |= set(rows)
    # Rows an index names but the walk could not reach (past a damaged page): looked up one by one.
    for seq in sorted(known - set(rows)):
        try:
            row = conn.execute(f"SELECT {_COLUMNS} FROM outbox NOT INDEXED WHERE seq = ?", [seq]).fetchone()
        except sqlite3.DatabaseError:
            continue  # on a damaged page: counted as lost below
        if row is not None:
            rows[seq] = row
    kept = [_usable(rows[seq]) for seq in sorted(rows)]
    good = [row for row in kept if row is not None]
    lost = len(known) - len(good) if counted else None
    return good, lost


def _collect(conn: sqlite3.Connection, sql: str, into: set[int]) -> bool:
    """Add the seqs `sql` yields until it fails; True when it yielded anything or finished."""
    before = len(into)
    try:
        for (seq,) in conn.execute(sql):
            into.add(seq)
    except sqlite3.DatabaseError:
        return len(into) > before
    return True


def _walk_table(conn: sqlite3.Connection, rows: dict[int, tuple]) -> bool:
    """Read the table in seq order; past a damaged page, probe further and further ahead (1, 2, 4,
    ... seqs) for the next readable one. True when any part of the table could be read."""
    last, step, readable = 0, 0, False
    top = _max_seq(conn)
    while True:
        start = last + step
        try:
            for row in conn.execute(f"SELECT {_COLUMNS} FROM outbox NOT INDEXED WHERE seq > ? ORDER BY seq",
                                    [start]):
                rows[row[0]] = row
                last, step, readable = row[0], 0, True
            return True
        except sqlite3.DatabaseError:
            step = max(1, step * 2)
            if start > top:
                return readable


def _max_seq(conn: sqlite3.Connection) -> int:
    """The highest seq ever given out (AUTOINCREMENT keeps it), else a bound far past any outbox."""
    try:
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        if row and row[0]:
            return int(row[0])
    except sqlite3.DatabaseError:
        pass
    return 2**40


def _usable(row: tuple) -> tuple | None:
    """(uuid, type, created_at, body) of a row whose body is the event it says it is; None otherwise."""
    _seq, uuid, kind, created_at, body = row
    try:
        event = json.loads(body)
    except (TypeError, ValueError):
        return None
    if not (isinstance(event, dict) and isinstance(uuid, str) and event.get("uuid") == uuid
            and event.get("type") == kind and isinstance(created_at, int | float)):
        return None
    return uuid, kind, float(created_at), body
