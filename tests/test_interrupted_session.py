"""A session cut by a crash or a power loss (kill -9 here) leaves no session_end and no idle
timeout behind. The next start of the kiosk closes it with a session_end whose reason says it was
interrupted, at the last moment the kiosk knew of it, and the dashboard counts it as an ended
session: not walked away, not left on the home screen."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from library_factory import write_library

from contract.validation import load_library
from kiosk.engine import SessionEngine
from offline_cache.store import Store
from server import db, stats
from server.ingest import store_events

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A kiosk in the middle of a customer's session, waiting to be killed.
MID_SESSION = """
import sys
from kiosk.engine import SessionEngine
from offline_cache.store import Store
engine = SessionEngine(Store(sys.argv[1]), "kiosk-7")
engine.start_session("es")
engine.open_guide("lost-baggage")
engine.choose(0)
print(engine.session_id, flush=True)
sys.stdin.read()  # until the test kills it
"""


def _killed_mid_session(db_path) -> str:
    proc = subprocess.Popen([sys.executable, "-c", MID_SESSION, str(db_path)], cwd=REPO, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": REPO})
    session = proc.stdout.readline().strip()
    assert session, "the kiosk process did not start its session"
    proc.kill()  # SIGKILL: no atexit, no finally, like a power cut
    assert proc.wait(10) == -9
    proc.stdout.close()
    proc.stdin.close()
    return session


def _outbox(store: Store) -> list[dict]:
    return [e.body for e in store.take_batch(limit=10_000)]


def test_the_next_start_closes_a_session_cut_by_kill_9(tmp_path):
    db_path = tmp_path / "kiosk.db"
    Store(db_path).import_library(load_library(write_library(tmp_path / "library")))
    session = _killed_mid_session(db_path)

    store = Store(db_path)
    before = _outbox(store)
    assert not any(e["type"] in ("session_end", "idle_timeout") for e in before), "the kill left it open"
    engine = SessionEngine(store, "kiosk-7")
    assert engine.close_interrupted_session() == session
    closing = _outbox(store)[-1]
    assert (closing["type"], closing["session"], closing["data"]) == ("session_end", session, {"reason": "interrupted"})
    last = before[-1]
    assert closing["kiosk_time"] == last["kiosk_time"], "closed at the last moment the kiosk knew of, not now"
    assert (closing["guide"], closing["step"], closing["lang"]) == (last["guide"], last["step"], "es")

    assert engine.close_interrupted_session() is None, "closed once only"
    engine.start_session("en")
    engine.end_session()
    assert SessionEngine(store, "kiosk-7").close_interrupted_session() is None, "a session that ended is not closed again"
    assert sum(e["data"].get("reason") == "interrupted" for e in _outbox(store)) == 1

    # The dashboard: an ended session, neither walked away nor abandoned on the home screen.
    server = db.make_engine(f"sqlite:///{tmp_path / 'server.db'}")
    db.migrate(server)
    result = store_events(server, "kiosk-7", [e for e in _outbox(store) if e["session"] == session])
    assert not result.rejected, result.rejected
    today = datetime.now(UTC).date()
    with server.connect() as conn:
        o = stats.overview(conn, stats.Filters(start=today - timedelta(days=1), end=today + timedelta(days=1)))
    server.dispose()
    assert (o.sessions, o.guides_started, o.walked_away, o.abandoned_home) == (1, 1, 0, 0)
