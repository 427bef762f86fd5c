"""Foundation benchmark: validate + import a 10,000-guide library, then time search and step
lookups against the raw SQLite operations underneath them, each beside its limit.

    .venv/bin/python bench/bench_foundation.py [--guides 10000] [--queries 200]

Limits (what a customer would notice):
  * search-as-you-type: p95 of one query within one 60 Hz frame (16 ms), so typing never stutters;
  * a tap on an answer: p95 step lookup within one frame (16 ms);
  * a USB-stick update (`kiosk import`) of 10,000 guides within 120 s: the kiosk is out of
    service meanwhile. (DESIGN.md names no figure; this one is the benchmark's own.)
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from library_factory import WORDS_EN, WORDS_ES, write_generated_library

from contract.validation import load_library
from offline_cache.store import Store

FRAME_MS = 16.0
IMPORT_LIMIT_S = 120.0


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - started) * 1000


def realistic_queries(n: int, rng: random.Random) -> list[str]:
    """What customers type: a word growing letter by letter, whole words, two words, Spanish,
    and words no guide has."""
    queries: list[str] = []
    while len(queries) < n:
        word = rng.choice(WORDS_EN)
        kind = rng.random()
        if kind < 0.35:
            queries += [word[:k] for k in range(2, len(word) + 1)]  # typing it
        elif kind < 0.6:
            queries.append(f"{word} {rng.choice(WORDS_EN)}")
        elif kind < 0.8:
            queries.append(rng.choice(WORDS_ES))
        elif kind < 0.9:
            queries.append(word.upper())
        else:
            queries.append(rng.choice(["zebra", "qwerty", "helicopter", "xyz", "passport lost now"]))
    return queries[:n]


def line(label: str, value: str, limit: str = "", ok: bool | None = None) -> None:
    verdict = "" if ok is None else ("  OK" if ok else "  OVER LIMIT")
    print(f"  {label:<38} {value:>16}   {limit}{verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guides", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--lookups", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(7)

    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as tmp:
        tmp = Path(tmp)
        started = time.perf_counter()
        root = write_generated_library(tmp / "library", args.guides, "benchmark", seed=7, steps=3)
        files = sum(1 for _ in root.glob("*.yaml"))
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        print(
            f"Generated {files} guides (5 steps each, en + es, flow-style YAML), {size / 1e6:.1f} MB, "
            f"in {time.perf_counter() - started:.1f} s\n"
        )

        store = Store(tmp / "kiosk.db")
        started = time.perf_counter()
        library = load_library(root)
        validated = time.perf_counter() - started
        store.import_library(library, content_version="bench")
        total = time.perf_counter() - started
        print("Validation + import (kiosk import)")
        line("validate (load_library)", f"{validated:.1f} s", f"{args.guides / validated:,.0f} guides/s")
        line(
            "import into SQLite (one switch)",
            f"{total - validated:.1f} s",
            f"{args.guides / (total - validated):,.0f} guides/s",
        )
        line(
            "total",
            f"{total:.1f} s",
            f"limit {IMPORT_LIMIT_S:.0f} s; {args.guides / total:,.0f} guides/s",
            total <= IMPORT_LIMIT_S,
        )

        queries = realistic_queries(args.queries, rng)
        for q in queries[:20]:  # warm the page cache the way a running kiosk has it warm
            store.search(q)
        search_ms = [timed(store.search, q) for q in queries]
        raw_ms = [timed(store.raw_fts, q) for q in queries]
        hits = [len(store.search(q)) for q in queries]
        print(
            f"\nSearch: {len(queries)} queries, {sum(h > 0 for h in hits)} with hits "
            f"(e.g. {', '.join(repr(q) for q in queries[:6])})"
        )
        line("Store.search median", f"{statistics.median(search_ms):.2f} ms")
        line(
            "Store.search p95",
            f"{percentile(search_ms, 95):.2f} ms",
            f"limit {FRAME_MS:.0f} ms (one frame)",
            percentile(search_ms, 95) <= FRAME_MS,
        )
        line("Store.search max", f"{max(search_ms):.2f} ms")
        line("raw FTS5 MATCH median", f"{statistics.median(raw_ms):.2f} ms")
        line("raw FTS5 MATCH p95", f"{percentile(raw_ms, 95):.2f} ms")

        pairs = [
            (f"guide-{rng.randrange(args.guides):05d}", rng.choice(["s0", "s1", "s2", "done", "staff"]))
            for _ in range(args.lookups)
        ]
        raw = sqlite3.connect(tmp / "kiosk.db")
        step_ms = [timed(store.step, g, s) for g, s in pairs]
        raw_step_ms = [
            timed(
                lambda g, s: raw.execute(
                    "SELECT doc FROM steps WHERE guide_id = ? AND step_id = ?", (g, s)
                ).fetchone(),
                g,
                s,
            )
            for g, s in pairs
        ]
        guide_ms = [timed(store.guide, g) for g, _ in pairs[:500]]
        print(f"\nStep lookup: {len(pairs)} random steps")
        line("Store.step median", f"{statistics.median(step_ms) * 1000:.0f} µs")
        line(
            "Store.step p95",
            f"{percentile(step_ms, 95) * 1000:.0f} µs",
            f"limit {FRAME_MS:.0f} ms (one frame)",
            percentile(step_ms, 95) <= FRAME_MS,
        )
        line("raw sqlite3 PK SELECT median", f"{statistics.median(raw_step_ms) * 1000:.0f} µs")
        line("raw sqlite3 PK SELECT p95", f"{percentile(raw_step_ms, 95) * 1000:.0f} µs")
        line(
            "Store.guide (whole guide) p95",
            f"{percentile(guide_ms, 95) * 1000:.0f} µs",
            f"limit {FRAME_MS:.0f} ms (one frame)",
            percentile(guide_ms, 95) <= FRAME_MS,
        )
        raw.close()
        db_bytes = sum(p.stat().st_size for p in tmp.glob("kiosk.db*"))
        print(f"\nDatabase: {db_bytes / 1e6:.1f} MB (with WAL), integrity {store.integrity_check()}")
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
