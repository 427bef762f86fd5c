"""End to end on loopback: the real sync client (kiosk.sync.SyncService over HttpTransport) pushes
sessions during which the kiosk's wall clock jumped +2 h and then -1 h to the real server, and the
server stores each session with its true length and at the true time. The wall clock is real time
plus a skew the test moves; the monotonic clock is the real one."""

from __future__ import annotations

import time

import pytest

from contract.bundle import open_library
from kiosk.engine import SessionEngine
from kiosk.paths import SAMPLE_LIBRARY
from kiosk.sync import SyncService
from kiosk.transport import HttpTransport
from offline_cache.store import Store

HOUR = 3600.0


class SkewedWall:
    def __init__(self) -> None:
        self.skew = 0.0

    def __call__(self) -> float:
        return time.time() + self.skew


def _session(engine: SessionEngine, wall: SkewedWall, step: float, pause: float) -> float:
    """A session of about 2 x `pause` seconds with a wall-clock jump in the middle; its real length."""
    began = time.monotonic()
    engine.start_session("en")
    engine.open_guide("lost-baggage")
    time.sleep(pause)  # the customer reading the step: real time has to pass for this test
    wall.skew += step
    engine.choose(0)
    time.sleep(pause)
    engine.end_session()
    return time.monotonic() - began


def test_stored_sessions_keep_their_length_and_time_across_clock_steps(server, tmp_path):
    token = server.add_device("kiosk-1")  # nothing is published: the rounds push events only
    store = Store(tmp_path / "kiosk.db")
    store.import_library(open_library(SAMPLE_LIBRARY), content_version="sample")
    wall = SkewedWall()
    engine = SessionEngine(store, "kiosk-1", clock=wall)
    transport = HttpTransport(server.url, token, tmp_path, clock=wall)
    service = SyncService(store, transport, device="kiosk-1", data_dir=tmp_path)
    assert service.sync_once().ok  # the kiosk learns the server's clock with its own still right

    sessions = [(_session(engine, wall, +2 * HOUR, 0.25), "+2 h")]
    assert service.sync_once().ok
    sessions.append((_session(engine, wall, -HOUR, 0.25), "-1 h"))
    assert service.sync_once().ok
    transport.close()
    assert store.outbox_depth() == 0

    with server.db() as conn:
        rows = conn.execute("SELECT session, MIN(server_time), MAX(server_time), MAX(received_at), "
                            "MIN(kiosk_time_raw), MAX(kiosk_time_raw) FROM events "
                            "GROUP BY session ORDER BY MIN(received_at)").fetchall()
    assert len(rows) == 2
    now = time.time()
    for (session, first, last, received, raw_first, raw_last), (length, step) in zip(rows, sessions, strict=True):
        assert last - first == pytest.approx(length, abs=0.25), \
            f"the session with a {step} jump is stored as lasting {last - first:.1f} s, not {length:.1f} s"
        assert now - 30 < first <= last <= received + 1, \
            f"the session with a {step} jump is stored {first - now:+.0f} s from when it happened"
        assert raw_last - raw_first > HOUR / 2, "the raw wall-clock times are kept, jump and all"
