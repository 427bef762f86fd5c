"""A kiosk's wall clock that jumps (NTP stepping it, an operator setting it, a dead RTC battery)
must not corrupt the times the server stores. The engine records each event on the monotonic
clock against a wall-clock anchor taken when the session starts, keeps the raw wall reading when
the two disagree, and the sync client corrects by the server's clock learnt on the monotonic
clock, so neither a step between recording and pushing nor offset samples from before a step
change when an event happened. The clocks here are ones the test controls."""

from __future__ import annotations

import pytest
from library_factory import write_library

from contract.validation import load_library
from kiosk.clock import ServerClock
from kiosk.engine import SessionEngine
from kiosk.sync.push import as_sent
from server.ingest import check_event

TRUE_START = 1_780_000_000.0  # what the server's clock reads when the first session starts
HOUR = 3600.0


class Clocks:
    """A kiosk's wall and monotonic clocks, and the server's (true) time, moved by the test."""

    def __init__(self) -> None:
        self.true, self.mono, self.skew = TRUE_START, 5_000.0, 0.0

    def wall(self) -> float:
        return self.true + self.skew

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.true += seconds
        self.mono += seconds

    def step(self, seconds: float) -> None:
        """The wall clock jumps; neither real time nor the monotonic clock does."""
        self.skew += seconds

    def learn(self, server: ServerClock) -> None:
        """One reply from the server, answered with its (true) time after a 20 ms round trip."""
        sent = self.mono
        server.add(self.true + 0.01, sent, sent + 0.02)


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
def engine(store, tmp_path, clocks):
    store.import_library(load_library(write_library(tmp_path / "library")))
    return SessionEngine(store, "kiosk-7", clock=clocks.wall, monotonic=clocks.monotonic, boot="boot-1")


@pytest.fixture
def server_clock(clocks) -> ServerClock:
    return ServerClock(wall=clocks.wall, monotonic=clocks.monotonic, boot="boot-1")


def outbox(engine) -> list[dict]:
    return [e.body for e in engine.store.take_batch(limit=10_000)]


def stored(events: list[dict], server_clock: ServerClock, received_at: float) -> list[dict]:
    """The rows the server stores for these events as the sync client sends them now."""
    return [check_event(as_sent(e, "kiosk-7", frozenset(), server_clock), "kiosk-7", received_at) for e in events]


def a_session_with_a_step(engine, clocks, step: float) -> None:
    """A 20-second session; the wall clock jumps by `step` half way through."""
    engine.start_session("en")
    engine.open_guide("lost-baggage")
    clocks.advance(10)
    clocks.step(step)
    engine.choose(0)
    clocks.advance(10)
    engine.end_session()


@pytest.mark.parametrize("step", [2 * HOUR, -HOUR])
def test_kiosk_time_follows_the_monotonic_clock_and_keeps_the_raw_reading(engine, clocks, step):
    a_session_with_a_step(engine, clocks, step)
    events = outbox(engine)
    times = [e["kiosk_time"] for e in events]
    assert times == sorted(times), f"kiosk_time went backwards inside one session: {times}"
    assert times[-1] - times[0] == pytest.approx(20, abs=0.01), "the session lasted 20 s"
    before = [e for e in events if e["kiosk_time"] < TRUE_START + 10]
    after = [e for e in events if e["kiosk_time"] >= TRUE_START + 10]
    assert before and after
    assert all("wall_time" not in e for e in before), "no raw time while the clocks agree (wire unchanged)"
    for e in after:
        assert e["wall_time"] == pytest.approx(e["kiosk_time"] + step, abs=0.01), \
            "the raw wall-clock reading is kept beside the corrected time"


@pytest.mark.parametrize("step", [2 * HOUR, -HOUR])
def test_the_server_stores_true_times_after_a_step(engine, clocks, server_clock, step):
    clocks.learn(server_clock)  # the kiosk knew the server's time before the jump...
    a_session_with_a_step(engine, clocks, step)
    clocks.advance(30)
    clocks.learn(server_clock)  # ...and learnt it again after, with the wall clock still off
    rows = stored(outbox(engine), server_clock, received_at=clocks.true)
    server_times = [r["server_time"] for r in rows]
    assert server_times[0] == pytest.approx(TRUE_START, abs=0.1), "the session started when it did"
    assert server_times[-1] - server_times[0] == pytest.approx(20, abs=0.1), "a 20 s session lasts 20 s"
    raw = [r["kiosk_time_raw"] for r in rows]
    assert raw[-1] - raw[0] == pytest.approx(20 + step, abs=0.1), "the server keeps the raw times too"


def test_a_session_recorded_on_a_wrong_clock_is_corrected_by_samples_learnt_later(engine, clocks, server_clock):
    """The realistic case: a kiosk boots offline with its clock 2 h fast, customers use it, the
    network comes back, NTP steps the clock right, and only then the events are pushed."""
    clocks.step(2 * HOUR)
    a_session_with_a_step(engine, clocks, 0)
    clocks.advance(60)
    clocks.step(-2 * HOUR)  # NTP
    clocks.learn(server_clock)
    rows = stored(outbox(engine), server_clock, received_at=clocks.true)
    assert rows[0]["server_time"] == pytest.approx(TRUE_START, abs=0.1)
    assert rows[-1]["server_time"] == pytest.approx(TRUE_START + 20, abs=0.1)
    assert rows[0]["server_time"] < clocks.true, "not in the future (nor at the +300 s cap)"


def test_offset_samples_from_before_a_step_do_not_outlive_it(clocks, server_clock):
    clocks.learn(server_clock)
    assert server_clock.offset == pytest.approx(0.0, abs=0.05)
    clocks.advance(5)
    clocks.step(2 * HOUR)
    assert server_clock.offset == pytest.approx(-2 * HOUR, abs=0.05), \
        "right after the jump, with no new reply, the offset already says the wall clock is 2 h fast"


def test_events_of_another_boot_fall_back_to_the_current_offset(engine, clocks, server_clock):
    """The monotonic clock restarts with the machine: an event recorded before a reboot cannot be
    placed on this boot's monotonic clock, so it gets the wall-clock offset known now."""
    engine.start_session("en")
    engine.end_session()
    rebooted = ServerClock(wall=clocks.wall, monotonic=lambda: 12.0, boot="boot-2")
    rebooted.add(clocks.true + 0.01, 12.0, 12.02)
    row = stored(outbox(engine), rebooted, received_at=clocks.true)[0]
    assert row["server_time"] == pytest.approx(TRUE_START, abs=0.1)


def test_the_sent_event_carries_only_wire_fields(engine, clocks, server_clock):
    clocks.learn(server_clock)
    engine.start_session("en")
    sent = as_sent(outbox(engine)[0], "kiosk-7", frozenset(), server_clock)
    assert not [k for k in sent if k.startswith("_")], "what the kiosk keeps for itself stays on the kiosk"
    assert list(sent)[-1] == "server_time_offset"
