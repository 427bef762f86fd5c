"""screens.background.run_in_background: the work runs off the UI thread, its result (or its
error) comes back on the thread that ticks Kivy's clock. No window is needed: the test ticks the
clock itself, as the App's frame loop would."""

from __future__ import annotations

import threading
import time

import pytest

from devtools.procs import wait_for
from screens.background import run_in_background


def tick_until(condition, timeout: float = 5.0) -> None:
    from kivy.clock import Clock

    wait_for(condition, timeout, "the callback to come back to the clock's thread", interval=0,
             pause=lambda _: Clock.tick())


def test_result_comes_back_on_the_clock_thread():
    seen: dict = {}

    def work():
        seen["work_thread"] = threading.current_thread()
        return 42

    run_in_background(work, lambda result: seen.update(result=result, done_thread=threading.current_thread()),
                      name="answer")
    tick_until(lambda: "result" in seen)
    assert seen["result"] == 42
    assert seen["work_thread"] is not threading.main_thread(), "the work ran on the UI thread"
    assert seen["done_thread"] is threading.main_thread()


def test_an_error_is_logged_and_handed_to_failed(caplog):
    got: list[Exception] = []
    done: list = []

    def work():
        raise OSError("the USB stick went away")

    run_in_background(work, done.append, failed=got.append, name="usb-scan")
    tick_until(lambda: got)
    assert done == [] and isinstance(got[0], OSError) and str(got[0]) == "the USB stick went away"
    assert any(r.levelname == "ERROR" and "usb-scan failed" in r.getMessage() and r.exc_info
               for r in caplog.records), "the error and its traceback are in the log"


def test_without_failed_the_error_is_raised_on_the_clock_thread():
    from kivy.clock import Clock

    def work():
        raise ValueError("broken")

    run_in_background(work, lambda _r: None, name="unhandled")
    deadline = time.monotonic() + 5
    with pytest.raises(ValueError, match="broken"):
        while time.monotonic() < deadline:
            Clock.tick()


def test_latest_only_runs_the_newest_request_and_hands_on_only_its_result():
    from screens.background import LatestOnly

    searches = LatestOnly("search")
    held = threading.Event()
    ran: list[str] = []
    shown: list[tuple[str, object]] = []

    def work(query):
        def run():
            ran.append(query)
            if query == "b":
                held.wait(5)  # the first search is slow
            return query.upper()
        return run

    searches.submit(work("b"), lambda r: shown.append(("b", r)))
    wait_for(lambda: ran, 5, "the first search to start", interval=0.005)
    for query in ("ba", "bag"):  # typed while it runs: "ba" is replaced before it starts
        searches.submit(work(query), lambda r, q=query: shown.append((q, r)))
    held.set()
    tick_until(lambda: shown)
    assert ran == ["b", "bag"] and shown == [("bag", "BAG")], "stale results are dropped"
