"""Event ingest throughput and a simulated fleet, on SQLite and PostgreSQL.

For each database:
  1. raw executemany: the same event rows inserted with a plain INSERT (the ceiling),
  2. ingest: kiosk-server's own path (check every event, scrub, INSERT ... ON CONFLICT DO NOTHING
     RETURNING) in-process, 1,000-event batches,
  3. HTTP: one kiosk posting 1,000-event batches to `kiosk-server serve` on loopback,
  4. fleet: N simulated kiosks (default 1,000) at once on loopback, each sending a heartbeat, a
     batch, and the same batch again (an acknowledgement lost on the way), honouring 429 +
     Retry-After; once all in the same second ("burst") and once spread over --window seconds
     ("spread", as a fleet syncing on a timer does); then the database is checked for lost and
     duplicated events.

Usage: .venv/bin/python bench/bench_ingest.py [--pg URL] [--kiosks 1000] [--events 20000]
The PostgreSQL URL defaults to env KIOSK_TEST_PG_URL (scripts/test-postgres); a fresh database
is made in it and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import ssl
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx
import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from contract.events import make_event
from devtools.procs import ServerProcess
from server import auth, db
from server.ingest import check_event, store_events

# The limits these figures are printed against.
LIMIT_INGEST_EPS = 2_000  # events/s one server process must store (a busy airport: 200 kiosks x 10 events/s)
LIMIT_FLEET_P99 = 2.0  # seconds, p99 of a kiosk's request, 1,000 kiosks syncing within 30 s (incl. 429 waits)
LIMIT_LOST = 0
LIMIT_DUPLICATED = 0


def mark(ok: bool) -> str:
    return "OK  " if ok else "FAIL"


def events_for(device: str, n: int, session: str | None = None) -> list[dict]:
    session = session or uuid.uuid4().hex[:12]
    kinds = ["step_view", "choice", "search", "feedback", "outcome"]
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        data = {"step_view": {"depth": 2}, "choice": {"index": 1, "label": "No", "next": "tag", "guide": None},
                "search": {"query": "lost bag", "hits": 3},
                "feedback": {"helped": True, "rating": 4, "comment": "quick and clear"},
                "outcome": {"outcome": "resolved"}}[kind]
        out.append(make_event(kind, device=device, session=session, guide="lost-bag", guide_version=3,
                              step="tag", lang="en", data=data))
    return out


@contextmanager
def databases(pg_admin: str | None):
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        found = [("SQLite", str(Path(tmp) / "bench.db"), Path(tmp))]
        if not pg_admin:
            yield found
            return
        import psycopg

        name = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(pg_admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            pg_dir = Path(tmp) / "pg"
            pg_dir.mkdir()
            yield [*found, ("PostgreSQL", pg_admin.rsplit("/", 1)[0] + "/" + name, pg_dir)]
        finally:
            with psycopg.connect(pg_admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_raw(engine, n: int) -> float:
    now = time.time()
    rows = [check_event(e, "bench-raw", now) for e in events_for("bench-raw", n)]
    start = time.perf_counter()
    for i in range(0, n, 1000):
        with db.write(engine) as conn:
            conn.execute(db.events.insert(), rows[i:i + 1000])
    return n / (time.perf_counter() - start)


def bench_ingest(engine, n: int) -> float:
    batches = [events_for("bench-ingest", 1000) for _ in range(n // 1000)]
    start = time.perf_counter()
    for batch in batches:
        result = store_events(engine, "bench-ingest", batch)
        assert len(result.accepted) == len(batch)
    return n / (time.perf_counter() - start)


@contextmanager
def serving(url: str, data_dir: Path, workers: int):
    with ServerProcess(data_dir, db_url=url, args=["--workers", str(workers), "--log-level", "warning"],
                       log=data_dir / "server.log") as server:
        yield server.url


def bench_http(base: str, token: str, device: str, n: int) -> float:
    batches = [events_for(device, 1000) for _ in range(n // 1000)]
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
        start = time.perf_counter()
        for batch in batches:
            r = c.post("/api/v1/events", json={"events": batch})
            assert r.status_code == 200 and len(r.json()["accepted"]) == len(batch), r.text[:300]
    return n / (time.perf_counter() - start)


async def fleet(base: str, tokens: dict[str, str], events_per_kiosk: int, window: float, tag: str) -> dict:
    latencies: list[float] = []
    counts = {"requests": 0, "429": 0, "errors": 0}
    sent: list[str] = []
    acked: set[str] = set()

    async def call(client, path, payload, token):
        while True:
            start = time.perf_counter()
            try:
                r = await client.post(path, json=payload, headers={"Authorization": f"Bearer {token}"})
            except httpx.TransportError:
                counts["errors"] += 1
                await asyncio.sleep(random.uniform(0.5, 1.5))
                continue
            latencies.append(time.perf_counter() - start)
            counts["requests"] += 1
            if r.status_code == 429:
                counts["429"] += 1
                await asyncio.sleep(float(r.headers.get("Retry-After", "1")) * random.uniform(0.5, 1.5))
                continue
            r.raise_for_status()
            return r.json()

    tls = ssl.create_default_context()  # made once: loading CA certificates takes ~80 ms a time

    async def kiosk(name, token):
        await asyncio.sleep(random.uniform(0, window))  # when in the window this kiosk's sync falls
        # One client (one keep-alive connection) per kiosk, as in the field. A single shared
        # httpx pool of 1,000 connections makes the *client* the bottleneck: it scans its pool on
        # every request.
        async with httpx.AsyncClient(base_url=base, timeout=120, verify=tls) as client:
            await call(client, "/api/v1/heartbeat", {"content_version": 7, "outbox_depth": events_per_kiosk,
                                                     "last_sync_result": {"result": "ok"}, "app_version": "0.1.0",
                                                     "free_disk": 10**10, "uptime": 3600}, token)
            batch = events_for(name, events_per_kiosk, session=f"{tag}-{uuid.uuid4().hex[:8]}")
            sent.extend(e["uuid"] for e in batch)
            for _ in range(2):  # the second send is the retry after a lost acknowledgement
                reply = await call(client, "/api/v1/events", {"events": batch}, token)
                acked.update(reply["accepted"])
                acked.update(reply["duplicates"])

    start = time.perf_counter()
    await asyncio.gather(*(kiosk(name, token) for name, token in tokens.items()))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {"elapsed": elapsed, "p50": statistics.median(latencies),
            "p99": latencies[int(len(latencies) * 0.99) - 1], "sent": sent, "acked": acked, **counts}


def report_fleet(engine, args, result: dict, tag: str, window: float) -> int:
    with engine.connect() as conn:
        stored = conn.execute(sa.select(db.events.c.uuid, sa.func.count()).where(
            db.events.c.session.like(f"{tag}-%")).group_by(db.events.c.uuid)).all()
        seen = conn.execute(sa.select(sa.func.count()).select_from(db.devices).where(
            db.devices.c.name.like("sim-%"), db.devices.c.last_heartbeat.is_not(None))).scalar()
    stored_ids = {u for u, _ in stored}
    lost = len(set(result["sent"]) - stored_ids)
    duplicated = sum(n - 1 for _, n in stored if n > 1)
    unacked = len(set(result["sent"]) - result["acked"])
    # The latency limit is for kiosks syncing over a window, as a fleet does; the burst (every
    # kiosk in the same second) shows the queueing and the 429s, and must still lose nothing.
    latency_ok = tag == "burst" or result["p99"] <= LIMIT_FLEET_P99
    print(f"  fleet ({tag}): {args.kiosks:,} kiosks starting within {window:.0f} s, each a heartbeat + "
          f"{args.events_per_kiosk} events sent twice; done in {result['elapsed']:.1f} s")
    print(f"    requests {result['requests']:,}  429s {result['429']:,}  connection errors {result['errors']}"
          f"  heartbeats recorded {seen:,}")
    limit = f"limit {LIMIT_FLEET_P99 * 1000:,.0f} ms" if tag != "burst" else "no latency limit for a burst"
    print(f"    latency p50 {result['p50'] * 1000:,.0f} ms  p99 {result['p99'] * 1000:,.0f} ms  "
          f"[{mark(latency_ok)} {limit}]")
    print(f"    events sent {len(result['sent']):,}  stored {len(stored_ids):,}  lost {lost}  "
          f"duplicated {duplicated}  unacknowledged {unacked}  [{mark(lost == 0 and duplicated == 0)} limit 0]")
    return int(not (latency_ok and lost == LIMIT_LOST and duplicated == LIMIT_DUPLICATED))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=os.environ.get("KIOSK_TEST_PG_URL"), help="PostgreSQL admin URL")
    parser.add_argument("--events", type=int, default=20_000, help="events for the throughput runs")
    parser.add_argument("--kiosks", type=int, default=1000)
    parser.add_argument("--events-per-kiosk", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="server processes for the HTTP runs")
    parser.add_argument("--window", type=float, default=30.0,
                        help="seconds over which the kiosks' syncs are spread in the 'spread' run")
    args = parser.parse_args()
    failures = 0
    print(f"limits: ingest >= {LIMIT_INGEST_EPS:,} events/s; fleet p99 <= {LIMIT_FLEET_P99} s; "
          f"lost = {LIMIT_LOST}; duplicated = {LIMIT_DUPLICATED}")
    with databases(args.pg) as dbs:
        for label, url, data_dir in dbs:
            engine = db.make_engine(url)
            db.migrate(engine)
            print(f"\n== {label} ==")
            raw = bench_raw(engine, args.events)
            print(f"  raw executemany (plain INSERT)     {raw:10,.0f} events/s")
            eps = bench_ingest(engine, args.events)
            failures += eps < LIMIT_INGEST_EPS
            print(f"  ingest (check+scrub+ON CONFLICT)   {eps:10,.0f} events/s  {eps / raw:4.0%} of raw  "
                  f"[{mark(eps >= LIMIT_INGEST_EPS)} limit {LIMIT_INGEST_EPS:,}]")
            tokens = {}
            for i in range(args.kiosks):
                name = f"sim-{i:04d}"
                tokens[name] = auth.add_device(engine, name, "bench")
            single = auth.add_device(engine, "bench-http", "bench")
            with serving(url, data_dir, args.workers) as base:
                http_eps = bench_http(base, single, "bench-http", args.events)
                failures += http_eps < LIMIT_INGEST_EPS
                print(f"  HTTP, 1,000-event batches          {http_eps:10,.0f} events/s  "
                      f"[{mark(http_eps >= LIMIT_INGEST_EPS)} limit {LIMIT_INGEST_EPS:,}]")
                for tag, window in (("burst", 1.0), ("spread", args.window)):
                    result = asyncio.run(fleet(base, tokens, args.events_per_kiosk, window, tag))
                    failures += report_fleet(engine, args, result, tag, window)
            engine.dispose()
    print("\nall within limits" if not failures else f"\n{failures} figure(s) outside their limits")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
