"""Event ingest throughput and a simulated fleet, on SQLite and PostgreSQL.

For each database:
  1. raw executemany: the same event rows inserted with a plain INSERT (the ceiling),
  2. ingest: kiosk-server's own path (check every event, scrub, INSERT ... ON CONFLICT DO NOTHING
     RETURNING) in-process, 1,000-event batches,
  3. HTTP: one kiosk posting 500-event batches (its default; 1,000 pass the 256 KB body limit) to
     `kiosk-server serve` on loopback,
  4. fleet: N simulated kiosks (default 1,000) at once on loopback, each sending a heartbeat, a
     batch, and the same batch again (an acknowledgement lost on the way), honouring 429 +
     Retry-After; once all in the same second ("burst") and once spread over --window seconds
     ("spread", as a fleet syncing on a timer does); then the database is checked for lost and
     duplicated events.

  5. reconnect (PostgreSQL, issue 16): --fleet kiosks (default 5,000) reconnecting within --within
     seconds (default 10) after an outage, each a heartbeat, a manifest check (its ETag: 304) and a
     backlog of --backlog events (default 200) in one gzip batch, as kiosk/transport.py sends it,
     honouring 429 + Retry-After with the kiosk's jitter; against the fleet deployment:
     `kiosk-server serve --workers N` on PostgreSQL behind nginx (deploy/nginx-fleet.conf) when
     nginx is installed. The load generator is this one asyncio process pinned to one core; its
     CPU time is printed. Figures: lost and duplicated (limit 0), the backlog stored within 2x
     "raw insert" (executemany of the same rows into the same partitioned table over one
     connection, measured in the same run), the Retry-After spread (no second more than 2% of
     the returns), then the same fleet spread over --spread-window seconds (p99 <= 200 ms).

Usage: .venv/bin/python bench/bench_ingest.py [--pg URL] [--kiosks 1000] [--events 20000]
       [--fleet 5000 --backlog 200 --within 10 --workers 2 --spread-window 300] [--skip-sqlite]
The PostgreSQL URL defaults to env KIOSK_TEST_PG_URL (scripts/test-postgres); a fresh database
is made in it and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gzip
import json
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
from contract.heartbeat import Heartbeat, LastSync
from contract.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION
from devtools.nginx import NginxProcess, nginx_binary
from devtools.procs import ServerProcess
from kiosk.sync.push import retry_wait
from server import auth, db
from server.ingest import check_event, store_events

# The limits these figures are printed against.
LIMIT_INGEST_EPS = 2_000  # events/s one server process must store (a busy airport: 200 kiosks x 10 events/s)
LIMIT_FLEET_P99 = 2.0  # seconds, p99 of a kiosk's request, 1,000 kiosks syncing within 30 s (incl. 429 waits)
LIMIT_LOST = 0
LIMIT_DUPLICATED = 0
LIMIT_BACKLOG_VS_RAW = 2.0  # the whole reconnect backlog stored within this many times raw insert
LIMIT_RETRY_SHARE = 0.02  # no second gets more than this share of the 429 returns
LIMIT_SPREAD_P99 = 0.200  # seconds, p99 of a request when the same fleet syncs spread over 5 minutes


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
    batches = [events_for(device, 500) for _ in range(n // 500)]
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


# --- 5. a fleet reconnecting after an outage (PostgreSQL, the fleet deployment) ------------------


def kiosk_batches(tokens: dict[str, str], backlog: int, tag: str, raw_conn=None) -> tuple[dict, float]:
    """Each kiosk's backlog as the body the kiosk sends (compact JSON, gzip) and its uuids. With
    `raw_conn`, the same rows are inserted with executemany over that one connection first (the
    "raw insert" limit), timed around the executemany calls alone; the seconds it took."""
    out, raw_seconds, now = {}, 0.0, time.time()
    for name in tokens:
        batch = events_for(name, backlog, session=f"{tag}-{uuid.uuid4().hex[:8]}")
        out[name] = (gzip.compress(json.dumps({"events": batch}, ensure_ascii=False, separators=(",", ":")).encode(),
                                   6, mtime=0), [e["uuid"] for e in batch])
        if raw_conn is not None:
            rows = [check_event(e, name, now) for e in batch]
            started = time.perf_counter()
            raw_conn.execute(db.events.insert(), rows)
            raw_seconds += time.perf_counter() - started
    return out, raw_seconds


def heartbeat_body(backlog: int) -> bytes:
    """What kiosk/sync/heartbeat.py sends after an outage (the contract's model, its wire bytes)."""
    return Heartbeat(content_version=1, outbox_depth=backlog, app_version="0.1.0", free_disk=10**10, uptime=86400.0,
                     last_sync_result=LastSync(result="offline", at="2026-12-01T10:00:00Z",
                                               error="the server did not answer")).wire_bytes()


async def reconnect(base: str, tokens: dict[str, str], bodies: dict, within: float, etags: dict[str, str]) -> dict:
    latencies: list[float] = []
    counts = collections.Counter()
    acked: set[str] = set()
    returns: collections.Counter = collections.Counter()  # second -> 429 returns arriving in it
    told_seconds: collections.Counter = collections.Counter()  # second -> returns the server told to come in it
    longest = [0.0]  # the longest Retry-After heard
    meant_seconds: collections.Counter = collections.Counter()  # second -> returns meant to arrive in it
    late: list[float] = []
    rng = random.Random()
    done_at: list[float] = []
    beat = heartbeat_body(len(next(iter(bodies.values()))[1]))

    async def call(client, method, path, **kw):
        while True:
            started = time.perf_counter()
            try:
                r = await client.request(method, path, **kw)
            except httpx.TransportError:
                counts["connection errors"] += 1
                await asyncio.sleep(random.uniform(0.5, 1.5))
                continue
            latencies.append(time.perf_counter() - started)
            counts[f"HTTP {r.status_code}"] += 1
            if r.status_code == 429:  # as kiosk/sync/push.py: Retry-After, then jitter within the second told
                after = float(r.headers.get("Retry-After", "1"))
                server_time = r.headers.get("X-Server-Time")
                told = float(server_time) if server_time else None
                wait = retry_wait(after, told, rng)
                meant = time.time() + wait
                await asyncio.sleep(wait)
                returns[int(time.time())] += 1
                meant_seconds[int(meant)] += 1  # when a kiosk with a CPU of its own would be back
                late.append(time.time() - meant)  # this one process, simulating the fleet, wakes late
                told_seconds[int(told or time.time()) + int(after)] += 1
                longest[0] = max(longest[0], after)
                continue
            if r.status_code >= 500:  # as kiosk/transport.py: a network error, retried after a backoff
                await asyncio.sleep(random.uniform(0.5, 1.5))
                continue
            return r

    async def kiosk(name, token):
        await asyncio.sleep(random.uniform(0, within))
        headers = {"Authorization": f"Bearer {token}", PROTOCOL_HEADER: str(PROTOCOL_VERSION)}
        async with httpx.AsyncClient(base_url=base, timeout=600, headers=headers,
                                     limits=httpx.Limits(max_connections=1)) as client:
            body, _uuids = bodies[name]
            r = await call(client, "POST", "/api/v1/events", content=body,
                           headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
            r.raise_for_status()
            acked.update(r.json()["accepted"])
            acked.update(r.json()["duplicates"])
            done_at.append(time.perf_counter())
            m = await call(client, "GET", "/api/v1/content/manifest", headers={"If-None-Match": etags.get(name, "")})
            counts[f"manifest {m.status_code}"] += 1
            h = await call(client, "POST", "/api/v1/heartbeat", content=beat, headers={"Content-Type": "application/json"})
            h.raise_for_status()

    started = time.perf_counter()
    cpu = time.process_time()
    await asyncio.gather(*(kiosk(name, token) for name, token in tokens.items()))
    latencies.sort()
    return {"elapsed": time.perf_counter() - started, "stored_in": max(done_at) - started,
            "cpu": time.process_time() - cpu, "p50": statistics.median(latencies),
            "p99": latencies[max(0, int(len(latencies) * 0.99) - 1)], "acked": acked, "returns": returns,
            "told": told_seconds, "longest": longest[0], "meant": meant_seconds, "late": sorted(late),
            "counts": counts}


def check_stored(engine, bodies: dict) -> tuple[int, int]:
    """(lost, duplicated) of these kiosks' backlogs, as the database holds them."""
    sent = {u for _, uuids in bodies.values() for u in uuids}
    with engine.connect() as conn:
        stored = collections.Counter(conn.execute(sa.select(db.events.c.uuid).where(
            db.events.c.device.in_(list(bodies)))).scalars())
    return len(sent - set(stored)), sum(n - 1 for n in stored.values() if n > 1)


def manifest_etags(base: str, tokens: dict[str, str]) -> dict[str, str]:
    """Each kiosk's manifest ETag, as it holds it from before the outage."""
    etags = {}
    with httpx.Client(base_url=base, timeout=60) as c:
        for name, token in tokens.items():
            r = c.get("/api/v1/content/manifest", headers={"Authorization": f"Bearer {token}"})
            r.raise_for_status()
            etags[name] = r.headers.get("ETag", "")
    return etags


def bench_reconnect(url: str, data_dir: Path, args) -> int:
    from server.cli import main as server_cli

    failures = 0
    engine = db.make_engine(url, pool_size=2)
    assert server_cli(["publish", str(REPO / "assets" / "library"), "--db", url, "--data-dir", str(data_dir),
                       "--by", "bench"]) == 0
    tokens = {f"gate-{i:05d}": auth.add_device(engine, f"gate-{i:05d}", "bench") for i in range(args.fleet)}
    with engine.connect() as conn:  # the raw limit, the same rows into the same partitioned table
        bodies, raw_seconds = kiosk_batches(tokens, args.backlog, "reconnect", raw_conn=conn)
        conn.commit()
        conn.execute(sa.text("TRUNCATE events"))
        conn.commit()
    total = args.fleet * args.backlog
    env = {**os.environ, "KIOSK_SERVER_RETRY_RATE": str(args.retry_rate),
           "KIOSK_SERVER_RETRY_WINDOW": str(args.retry_window), "KIOSK_SERVER_RETRY_MAX_WAIT": str(args.retry_max_wait)}
    with ServerProcess(data_dir, db_url=url, args=["--workers", str(args.workers), "--log-level", "warning"],
                       env=env, log=data_dir / "reconnect.log") as server:
        proxy = None
        if nginx_binary() and not args.no_nginx:
            # each kiosk holds one connection to nginx and nginx one to the server for it
            proxy = NginxProcess(data_dir / "nginx", [server.port], connections=2 * args.fleet + 256).start()
        base = proxy.url if proxy else server.url
        try:
            etags = manifest_etags(base, tokens)
            os.sched_setaffinity(0, {args.generator_core})  # one core; the server's processes are not pinned
            result = asyncio.run(reconnect(base, tokens, bodies, args.within, etags))
            spread_bodies, _ = kiosk_batches(tokens, args.backlog, "spread")
            spread = asyncio.run(reconnect(base, tokens, spread_bodies, args.spread_window, etags))
            os.sched_setaffinity(0, range(os.cpu_count() or 1))
        except Exception:
            print(f"the server's log ends:\n{server.log_tail(8000)}")
            if proxy:
                print(f"nginx's error log ends:\n{(proxy.prefix / 'error.log').read_text()[-4000:]}")
            raise
        finally:
            if proxy:
                proxy.stop()
    lost, duplicated = check_stored(engine, bodies)
    s_lost, s_duplicated = check_stored(engine, spread_bodies)
    engine.dispose()
    behind = f"behind nginx ({proxy.binary})" if proxy else "without nginx (" + (
        "--no-nginx" if args.no_nginx else "nginx is not installed") + ")"
    print(f"\n  reconnect: {args.fleet:,} kiosks within {args.within:g} s, each a heartbeat, a manifest check and "
          f"{args.backlog} events (gzip); kiosk-server serve --workers {args.workers} on PostgreSQL {behind}; "
          f"retry_rate {args.retry_rate:g}/s per process")
    print(f"    load generator: one asyncio process on core {args.generator_core}, CPU {result['cpu']:.1f} s "
          f"of {result['elapsed']:.1f} s wall")
    print(f"    replies: {dict(sorted(result['counts'].items()))}")
    ok = lost == LIMIT_LOST and duplicated == LIMIT_DUPLICATED
    failures += not ok
    print(f"    events {total:,}: lost {lost}, duplicated {duplicated}  [{mark(ok)} limit 0]")
    ratio = result["stored_in"] / raw_seconds
    failures += ratio > LIMIT_BACKLOG_VS_RAW
    print(f"    whole backlog stored in {result['stored_in']:.1f} s; raw insert of the same rows (executemany, one "
          f"connection, same partitioned table) {raw_seconds:.1f} s: {ratio:.2f}x  "
          f"[{mark(ratio <= LIMIT_BACKLOG_VS_RAW)} limit {LIMIT_BACKLOG_VS_RAW:g}x]")
    returns = result["returns"]
    if returns:
        busiest = max(returns.values())
        share = busiest / sum(returns.values())
        failures += share > LIMIT_RETRY_SHARE
        print(f"    429 returns {sum(returns.values()):,} over {len(returns)} s; busiest second {busiest} "
              f"({share:.2%})  [{mark(share <= LIMIT_RETRY_SHARE)} limit {LIMIT_RETRY_SHARE:.0%}]")
        told = result["told"]
        print(f"      as the server told them (X-Server-Time + Retry-After): busiest second "
              f"{max(told.values()) / sum(told.values()):.2%}; longest Retry-After {result['longest']:.0f} s "
              f"(retry_window {args.retry_window:g} s, retry_max_wait {args.retry_max_wait:g} s)")
        meant, late = result["meant"], result["late"]
        print(f"      as the kiosks meant to return (their waits, had each its own CPU): busiest second "
              f"{max(meant.values()) / sum(meant.values()):.2%}; the generator woke them late by p50 "
              f"{statistics.median(late) * 1000:,.0f} ms, p99 {late[int(len(late) * 0.99) - 1] * 1000:,.0f} ms, "
              f"max {late[-1] * 1000:,.0f} ms")
    else:
        print("    no 429 at all: the server took every batch as it came (no spread to measure)")
    print(f"    request latency during the reconnect: p50 {result['p50'] * 1000:,.0f} ms, p99 {result['p99'] * 1000:,.0f} ms")
    ok = spread["p99"] <= LIMIT_SPREAD_P99 and s_lost == 0 and s_duplicated == 0
    failures += not ok
    print(f"  spread: the same fleet over {args.spread_window:g} s: p50 {spread['p50'] * 1000:,.0f} ms, p99 "
          f"{spread['p99'] * 1000:,.0f} ms, lost {s_lost}, duplicated {s_duplicated}, "
          f"replies {dict(sorted(spread['counts'].items()))}, generator CPU {spread['cpu']:.1f} s  "
          f"[{mark(ok)} limit p99 {LIMIT_SPREAD_P99 * 1000:.0f} ms]")
    return failures


def main() -> int:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would drown the figures
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=os.environ.get("KIOSK_TEST_PG_URL"), help="PostgreSQL admin URL")
    parser.add_argument("--events", type=int, default=20_000, help="events for the throughput runs")
    parser.add_argument("--kiosks", type=int, default=1000)
    parser.add_argument("--events-per-kiosk", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="server processes for the HTTP runs")
    parser.add_argument("--window", type=float, default=30.0,
                        help="seconds over which the kiosks' syncs are spread in the 'spread' run")
    parser.add_argument("--fleet", type=int, default=5000, help="kiosks in the reconnect run (PostgreSQL)")
    parser.add_argument("--backlog", type=int, default=200, help="events each reconnecting kiosk holds")
    parser.add_argument("--within", type=float, default=10.0, help="seconds the fleet reconnects within")
    parser.add_argument("--spread-window", type=float, default=300.0, help="seconds the spread run takes")
    parser.add_argument("--retry-rate", type=float, default=20.0, help="the server's retry_rate setting")
    parser.add_argument("--retry-window", type=float, default=75.0, help="the server's retry_window setting")
    parser.add_argument("--retry-max-wait", type=float, default=600.0, help="the server's retry_max_wait setting")
    parser.add_argument("--generator-core", type=int, default=0, help="the core the load generator runs on")
    parser.add_argument("--no-nginx", action="store_true", help="measure without nginx even if it is installed")
    parser.add_argument("--skip-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--reconnect-only", action="store_true", help="only the PostgreSQL reconnect and spread runs")
    args = parser.parse_args()
    failures = 0
    print(f"limits: ingest >= {LIMIT_INGEST_EPS:,} events/s; fleet p99 <= {LIMIT_FLEET_P99} s; "
          f"lost = {LIMIT_LOST}; duplicated = {LIMIT_DUPLICATED}")
    with databases(args.pg) as dbs:
        for label, url, data_dir in dbs:
            if label == "SQLite" and (args.skip_sqlite or args.reconnect_only):
                continue
            if label == "PostgreSQL" and args.reconnect_only:
                print("\n== PostgreSQL ==")
                db.migrate(db.make_engine(url))
                failures += bench_reconnect(url, data_dir, args)
                continue
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
                print(f"  HTTP, 500-event batches            {http_eps:10,.0f} events/s  "
                      f"[{mark(http_eps >= LIMIT_INGEST_EPS)} limit {LIMIT_INGEST_EPS:,}]")
                if label == "SQLite":  # one process on SQLite: the single-site figure, reported
                    for tag, window in (("burst", 1.0), ("spread", args.window)):
                        result = asyncio.run(fleet(base, tokens, args.events_per_kiosk, window, tag))
                        failures += report_fleet(engine, args, result, tag, window)
            engine.dispose()
            if label == "PostgreSQL":
                failures += bench_reconnect(url, data_dir, args)
    print("\nall within limits" if not failures else f"\n{failures} figure(s) outside their limits")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
