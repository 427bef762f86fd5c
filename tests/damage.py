"""Ways a kiosk.db is found destroyed in the field (a power cut mid-write, a dying SD card, a file
copied over by hand), done to a real file. Each takes the database path and leaves it damaged the
way its name says; `flip_outbox_page` also returns how many outbox rows it destroyed, so a test
can hold the kiosk to keeping all the others."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

from contract.events import make_event
from offline_cache.store import Store


def add_events(db: Path, n: int, device: str = "gate-b12") -> list[str]:
    """n events in the outbox, written through the store as the engine writes them, and
    checkpointed into the main file (so damage to the file is damage to them). Their uuids."""
    events = [make_event("step_view", device=device, session=f"s{i // 10}", guide="lost-baggage",
                         guide_version=1, step="arrived", lang="en") for i in range(n)]
    store = Store(db)
    store.append_events(events)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return [e["uuid"] for e in events]


def page_size(db: Path) -> int:
    # closing(): a connection left for the garbage collector closes whenever it runs, and closing
    # the last connection of a WAL database checkpoints it and deletes the -wal that a test has
    # just filled with garbage (the recovery test then found the -wal gone or empty, by chance).
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute("PRAGMA page_size").fetchone()[0]


def outbox_leaf_pages(db: Path) -> list[tuple[int, int]]:
    """(page number, rows on it) of each leaf page of the outbox table, in page order."""
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT pageno, ncell FROM dbstat WHERE name = 'outbox' AND pagetype = 'leaf' "
                            "ORDER BY pageno").fetchall()


def flip_bytes(db: Path, start: int, length: int) -> None:
    """Every bit of `length` bytes from `start` inverted, as a failing flash block returns them."""
    with db.open("r+b") as fh:
        fh.seek(start)
        data = fh.read(length)
        fh.seek(start)
        fh.write(bytes(b ^ 0xFF for b in data))


def flip_outbox_page(db: Path) -> int:
    """Destroy one outbox leaf page in the middle of the table; the rows that were on it."""
    pages = outbox_leaf_pages(db)
    assert len(pages) >= 3, f"too few outbox pages to damage one in the middle: {pages}"
    pageno, rows = pages[len(pages) // 2]
    size = page_size(db)
    flip_bytes(db, (pageno - 1) * size, size)
    return rows


def truncate(db: Path) -> None:
    os.truncate(db, db.stat().st_size // 3)


def not_a_database(db: Path) -> None:
    db.write_bytes(b"this file was copied over kiosk.db by mistake\n" * 400)


def zero_length(db: Path) -> None:
    db.write_bytes(b"")


def a_directory(db: Path) -> None:
    db.unlink()
    db.mkdir()
    (db / "stray-file").write_text("someone made kiosk.db a folder\n")


def flip_schema(db: Path) -> None:
    """Page 1 after the 100-byte file header: the schema itself is unreadable."""
    flip_bytes(db, 100, page_size(db) - 100)


def garbage_wal_and_shm(db: Path, seed: int = 7) -> tuple[bytes, bytes]:
    """A -wal and a -shm of random bytes beside the database (what a cut write can leave)."""
    import random

    rng = random.Random(seed)
    wal, shm = rng.randbytes(50_000), rng.randbytes(32_768)
    Path(f"{db}-wal").write_bytes(wal)
    Path(f"{db}-shm").write_bytes(shm)
    return wal, shm
