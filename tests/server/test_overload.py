"""Overload and failure: ingest answers 429 + Retry-After when its slots are taken, nothing is lost
when kiosks retry, and an internal error reaches the client as a plain 500 without a stack trace."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa
from server_testkit import copy_of, start, stop

from contract.events import make_event
from devtools.procs import wait_for
from server import db


@pytest.fixture
def busy_server(prepared, tmp_path):
    # one batch stored at a time per process, and no waiting for a slot
    with copy_of(prepared, tmp_path, "busy") as srv:
        start(srv, env={"KIOSK_SERVER_INGEST_CONCURRENCY": "1", "KIOSK_SERVER_INGEST_WAIT": "0"})
        yield srv
        stop(srv)


@pytest.fixture
def broken_server(prepared, tmp_path):
    """A server of its own whose events table the test takes away (its log will hold the traceback)."""
    with copy_of(prepared, tmp_path, "broken") as srv:
        start(srv)
        yield srv
        stop(srv)


def test_overload_gets_429_with_retry_after_and_retries_lose_nothing(busy_server):
    statuses, sent = [], []
    lock = threading.Lock()

    def kiosk(n: int, barrier: threading.Barrier):
        batch = [make_event("step_view", device="kiosk-1", session=f"load{n}") for _ in range(1000)]
        with lock:
            sent.extend(e["uuid"] for e in batch)
        with busy_server.device() as c:
            barrier.wait()
            while True:
                r = c.post("/api/v1/events", json={"events": batch})
                with lock:
                    statuses.append((r.status_code, r.headers.get("Retry-After")))
                if r.status_code != 429:
                    assert r.status_code == 200
                    return
                time.sleep(float(r.headers["Retry-After"]) / 20)  # a real kiosk waits the full time, jittered

    for attempt in range(5):
        barrier = threading.Barrier(10)
        threads = [threading.Thread(target=kiosk, args=(attempt * 10 + i, barrier)) for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        if any(code == 429 for code, _ in statuses):
            break
    overloaded = [retry for code, retry in statuses if code == 429]
    assert overloaded and all(retry and float(retry) > 0 for retry in overloaded)
    engine = busy_server.engine()
    with engine.connect() as conn:
        stored = conn.execute(sa.select(db.events.c.uuid).where(db.events.c.session.like("load%"))).scalars().all()
    engine.dispose()
    assert len(stored) == len(sent) == len(set(stored)) and set(stored) == set(sent)


def test_an_internal_error_is_a_plain_500_and_is_logged(broken_server):
    engine = broken_server.engine()
    with engine.begin() as conn:  # this server's own copy of the database: nothing to put back
        conn.execute(sa.text("ALTER TABLE events RENAME TO events_away"))
    engine.dispose()
    with broken_server.device() as c:
        r = c.post("/api/v1/events", json={"events": [make_event("restart", device="kiosk-1", session="x")]})
    assert r.status_code == 500
    assert r.json() == {"detail": "internal server error"}
    assert "X-Server-Time" in r.headers
    assert "Traceback" not in r.text and "events" not in r.text
    logged = wait_for(lambda: "Traceback" in (text := broken_server.log.read_text(errors="replace")) and text,
                      10, "the traceback in the server's log")
    assert "unhandled error on POST /api/v1/events" in logged
