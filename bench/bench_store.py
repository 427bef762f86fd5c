"""The store's fault-handling costs, on this machine's disk:

  * the check at every open (offline_cache.store.Store: header, then PRAGMA quick_check) on a
    realistic kiosk.db, beside PRAGMA integrity_check, which it was chosen over;
  * one tap's event write (Store.append_event, as the engine writes it) with synchronous=FULL, the
    store's setting, and with NORMAL, beside a bare SQLite INSERT + COMMIT in WAL mode at both;
  * a rebuild (offline_cache.recovery.open_or_rebuild) of a database with one damaged outbox page.

Run: `.venv/bin/python bench/bench_store.py [--events N] [--taps N] [--dir DIR]`. DIR should be on the
disk the kiosk uses (fsync costs are the disk's); the default is a temp dir.
Limits: the open check must stay under 250 ms for a full outbox (it runs before the first frame);
a tap's write under 16.7 ms (one frame at 60 Hz), the UI thread waits for it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from contract.events import make_event
from contract.validation import load_library
from offline_cache.recovery import open_or_rebuild
from offline_cache.store import Store

OPEN_LIMIT_MS = 250
FRAME_MS = 1000 / 60


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


def build(db: Path, guides: int, images_mb: int, events: int) -> None:
    from library_factory import write_generated_library

    lib = write_generated_library(db.parent / "library", guides, "bench")
    store = Store(db)
    store.import_library(load_library(lib))
    blobs = [os.urandom(300_000) for _ in range(images_mb * 1_000_000 // 300_000)]
    store.put_images({hashlib.sha256(b).hexdigest(): b for b in blobs})
    batch = []
    for n in range(events):
        batch.append({"uuid": uuid.uuid4().hex, "type": "step_view", "device": "bench", "session": f"s{n // 20}",
                      "kiosk_time": time.time(), "mono": n / 10, "guide": "g-00001", "guide_version": 1,
                      "step": "s0", "lang": "en"})
        if len(batch) == 5000:
            store.append_events(batch)
            batch = []
    if batch:
        store.append_events(batch)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()


def time_pragma(db: Path, pragma: str, rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        conn = sqlite3.connect(db)
        t = time.perf_counter()
        conn.execute(f"PRAGMA {pragma}").fetchall()
        times.append(time.perf_counter() - t)
        conn.close()
    return statistics.median(times)


def open_checks(folder: Path, events: int) -> None:
    print("Open check (median of 3, warm cache):")
    for label, guides, images_mb, n in (("typical", 500, 20, events // 10), ("full outbox", 500, 20, events)):
        db = folder / f"{label.replace(' ', '-')}.db"
        build(db, guides, images_mb, n)
        size = db.stat().st_size / 1e6
        t = time.perf_counter()
        Store(db).close()
        opened = time.perf_counter() - t
        quick, full = time_pragma(db, "quick_check"), time_pragma(db, "integrity_check")
        verdict = "ok" if opened * 1000 < OPEN_LIMIT_MS else "OVER"
        print(f"  {label:12s} {size:6.1f} MB, {n:6d} events: Store() {ms(opened)} [{verdict} < {OPEN_LIMIT_MS} ms]"
              f"  quick_check {ms(quick)}  integrity_check {ms(full)}")
        shutil.rmtree(folder / "library", ignore_errors=True)


def raw_commit(path: Path, synchronous: str, taps: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT)")
    body = "x" * 400  # about one event's JSON
    times = []
    for _ in range(taps):
        t = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t(body) VALUES (?)", [body])
        conn.execute("COMMIT")
        times.append(time.perf_counter() - t)
    conn.close()
    return statistics.median(times)


def store_tap(path: Path, synchronous: str, taps: int) -> tuple[float, float]:
    store = Store(path)
    store.db.execute(f"PRAGMA synchronous={synchronous}")
    times = []
    for n in range(taps):
        event = make_event("step_view", device="bench", session="s", guide="g", guide_version=1, step=f"s{n}",
                           lang="en")
        t = time.perf_counter()
        store.append_event(event)
        times.append(time.perf_counter() - t)
    store.close()
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def tap_costs(folder: Path, taps: int) -> None:
    print(f"One event write per tap (median of {taps}; p99 for the store), WAL mode:")
    for sync in ("NORMAL", "FULL"):
        raw = raw_commit(folder / f"raw-{sync}.db", sync, taps)
        median, p99 = store_tap(folder / f"store-{sync}.db", sync, taps)
        mark = "  <- the store's setting" if sync == "FULL" else ""
        print(f"  synchronous={sync:6s} raw SQLite INSERT+COMMIT {ms(raw)}   Store.append_event {ms(median)}"
              f" (p99 {ms(p99)}){mark}")
    print(f"  limit: a tap's write within one frame, {FRAME_MS:.1f} ms")


def rebuild_cost(folder: Path) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    import damage

    db = folder / "typical.db"
    if not db.exists():
        return
    damage.flip_outbox_page(db)
    t = time.perf_counter()
    store, recovery = open_or_rebuild(db, 200_000)
    took = time.perf_counter() - t
    store.close()
    print(f"Rebuild after one damaged outbox page: {ms(took)} ({recovery.outbox_kept} events kept, "
          f"{recovery.outbox_lost} lost; content refilled afterwards by the sample library or a sync)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000, help="outbox rows of the full database (200000)")
    parser.add_argument("--taps", type=int, default=300, help="event writes timed per setting (300)")
    parser.add_argument("--dir", help="where to make the databases (default: a temp dir)")
    args = parser.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="bench-store-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"SQLite {sqlite3.sqlite_version}, databases in {folder}")
    try:
        tap_costs(folder, args.taps)
        open_checks(folder, args.events)
        rebuild_cost(folder)
    finally:
        if not args.dir:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
