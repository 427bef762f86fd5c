"""A fleet reconnecting after an outage (issue 16): 200 kiosks come back in the same second, each
with a heartbeat, a manifest check and a backlog of 50 events, against the fleet deployment's
shape (PostgreSQL, `kiosk-server serve --workers 2`). Every kiosk is the real one: its store, its
outbox, its SyncService on its own scheduler thread and its HTTP transport, so the events, the
heartbeat, the gzip and the handling of 429 are what a kiosk in the field sends and does.

The server is set to store two batches at a time per process, waiting at most 0.25 s for its turn (as a server
far busier than this one would), so most kiosks are refused. (At 1 s, once the batch insert got quicker,
a quiet machine stored half the storm before refusing anyone, and the test's premise failed.) What must hold: nothing lost, nothing
stored twice, every refusal told when to come back, the returns spread evenly over the server's
retry window (20 s here, to keep the suite fast; the default 75 s is what keeps any second under
2%: tests/server/test_retry_spread.py), each kiosk back within the second it was told and never
before its Retry-After. bench/bench_ingest.py runs the same at 5,000 kiosks x 200 events with the
default window (and checks the 2% share).
"""

from __future__ import annotations

import collections
import itertools
import shutil
import threading
import time

import pytest
import sqlalchemy as sa
from server_testkit import fresh_pg_database, prepare, start, stop

from contract.events import make_event
from devtools.procs import wait_for
from kiosk.sync import SyncService
from kiosk.transport import HttpTransport, RateLimited
from offline_cache.store import Store
from server import auth, db

KIOSKS, EVENTS = 200, 50
WORKERS, RETRY_RATE, RETRY_WINDOW = 2, 10.0, 20  # the server's schedule: over 20 s, or 20 returns a second


class ObservedTransport(HttpTransport):
    """The kiosk's transport, noting when each batch went out and what a refusal said."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.posts: list[tuple[float, float | None]] = []  # (sent at, Retry-After if refused)
        self.told: list[float] = []  # each refusal's X-Server-Time

    def post_events(self, events):
        sent = time.time()
        try:
            reply = super().post_events(events)
        except RateLimited as exc:
            self.posts.append((sent, exc.retry_after))
            self.told.append(exc.server_time)
            raise
        self.posts.append((sent, None))
        return reply


@pytest.fixture
def fleet_server(tmp_path):
    with fresh_pg_database("reconnect") as url:
        srv = prepare(tmp_path / "template", url)
        engine = srv.engine()
        for i in range(KIOSKS):
            srv.tokens[f"gate-{i:03d}"] = auth.add_device(engine, f"gate-{i:03d}", "Terminal 1")
        engine.dispose()
        code, out, err = srv.cli("key")
        assert code == 0, err
        server_key = out.strip().splitlines()[-1]
        start(srv, "--workers", str(WORKERS), env={"KIOSK_SERVER_INGEST_CONCURRENCY": "2",
                                                   "KIOSK_SERVER_INGEST_WAIT": "0.25",
                                                   "KIOSK_SERVER_RETRY_RATE": str(RETRY_RATE),
                                                   "KIOSK_SERVER_RETRY_WINDOW": str(RETRY_WINDOW)})
        try:
            yield srv, server_key
        finally:
            stop(srv)


def test_200_kiosks_reconnecting_at_once_lose_nothing_and_come_back_spread(fleet_server, tmp_path):
    fleet_server, server_key = fleet_server
    kiosks = []
    sent: set[str] = set()
    template = Store(tmp_path / "template" / "kiosk.db")  # a kiosk's store, made once and copied
    template.close()
    for i in range(KIOSKS):
        name = f"gate-{i:03d}"
        (tmp_path / "kiosks" / name).mkdir(parents=True)
        shutil.copyfile(template.path, tmp_path / "kiosks" / name / "kiosk.db")
        store = Store(tmp_path / "kiosks" / name / "kiosk.db")
        backlog = [make_event(kind, device=name, session=f"{name}-s{n // 10}", guide="lost-bag", guide_version=1,
                              step="tag", lang="en", data={"outcome": "resolved"} if kind == "outcome" else {})
                   for n, kind in enumerate(["step_view", "choice", "step_view", "outcome", "step_view"] * (EVENTS // 5))]
        store.append_events(backlog)
        sent.update(e["uuid"] for e in backlog)
        transport = ObservedTransport(fleet_server.url, fleet_server.tokens[name], store.path.parent, pool_size=2)
        kiosks.append(SyncService(store, transport, device=name, server_key=server_key,
                                  interval_minutes=0.05, heartbeat_seconds=600, data_dir=store.path.parent))
    go = threading.Barrier(KIOSKS + 1)
    starters = [threading.Thread(target=lambda k=k: (go.wait(), k.start())) for k in kiosks]
    for t in starters:
        t.start()
    go.wait()  # the outage ends: every kiosk's first round begins now
    began = time.time()
    try:
        # a bound, not the expected time: on a quiet 2-core machine it drains in well under it
        wait_for(lambda: all(k.store.outbox_depth() == 0 for k in kiosks), 120, "every outbox to empty",
                 interval=0.5)
        drained = time.time() - began
        engine = fleet_server.engine()
        wait_for(lambda: _heartbeats(engine) == KIOSKS, 15, "every kiosk's heartbeat", interval=0.25)
    finally:
        for k in kiosks:
            k.stop()
    with engine.connect() as conn:
        stored = collections.Counter(conn.execute(sa.select(db.events.c.uuid).where(
            db.events.c.device.like("gate-%"))).scalars())
        manifests = conn.execute(sa.select(sa.func.count()).select_from(db.devices).where(
            db.devices.c.name.like("gate-%"), db.devices.c.content_version.is_not(None))).scalar()
    engine.dispose()
    assert set(stored) == sent, f"{len(sent - set(stored))} events lost"
    assert max(stored.values()) == 1, f"{sum(n - 1 for n in stored.values())} events stored twice"
    assert manifests == KIOSKS  # every kiosk checked the manifest and reports a content version

    refusals = [(t, after) for k in kiosks for t, after in k.transport.posts if after is not None]
    returns, in_second = collections.Counter(), 0
    for k in kiosks:
        told = iter(k.transport.told)
        for (refused_at, after), (back_at, _) in itertools.pairwise(k.transport.posts):
            if after is not None:
                server_time = next(told)
                # the real kiosk waits the whole Retry-After, and at most its jitter more (scheduling aside)
                assert back_at >= refused_at + after - 0.05, (k.device, refused_at, after, back_at)
                returns[int(back_at)] += 1
                in_second += int(back_at) == int(server_time) + after
    total = sum(returns.values())
    assert len(refusals) >= KIOSKS // 2, f"only {len(refusals)} refusals: the test did not overload the server"
    busiest = max(returns.values())
    # Each process levels its own promises over the window (or at retry_rate a second when more
    # wait than that): a second holds about total / window, one more per process for the
    # unevenness of integers, and a few for returns the machine's load pushed into the next second.
    even = total / RETRY_WINDOW
    assert busiest <= 1.5 * even + WORKERS + 2, (busiest, even, sorted(returns.items()))
    # How many came back within the second they were told is printed, not asserted: the kiosk aims
    # inside it (test_retry_spread.py checks that), but 200 kiosk threads sharing a loaded machine
    # reach their post late.
    print(f"\n{KIOSKS} kiosks x {EVENTS} events drained in {drained:.1f} s; {len(refusals)} refusals, "
          f"returns over {len(returns)} s (window {RETRY_WINDOW} s), busiest second {busiest} ({busiest / total:.1%}), "
          f"{in_second / total:.0%} back in the second they were told")


def _heartbeats(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(db.devices).where(
            db.devices.c.name.like("gate-%"), db.devices.c.last_heartbeat.is_not(None))).scalar()
