"""Staff mode's controller (screens/staff.py) without a window: the status lines and the problem
line staff act on, the server's reachability as the kiosk core reports it, and a status that
cannot be read. The test ticks Kivy's clock, as the App's frame loop would."""

from __future__ import annotations

import time

import pytest

from devtools.procs import wait_for
from kiosk.settings import Settings


def status_of(controller) -> tuple[list[str], list[str]]:
    from kivy.clock import Clock

    got: list = []
    controller.status(lambda lines, problems: got.append((lines, problems)))
    wait_for(lambda: got, 10, "the status to come back", interval=0, pause=lambda _: Clock.tick())
    return got[0]


class Service:
    def __init__(self, reachable: bool):
        self._reachable = reachable

    def reachable(self) -> bool:
        return self._reachable


@pytest.fixture
def controller(tmp_path, store):
    from screens.staff import StaffController

    def make(sync_service=None):
        return StaffController(Settings(device="kiosk-7", data_dir=str(tmp_path)), store, sync_service=sync_service,
                               translate=lambda message: message, content_changed=lambda: None)
    return make


def refuse(store, n: int) -> None:
    store.db.execute("DELETE FROM rejected_events")
    for i in range(n):
        store.db.execute("INSERT INTO rejected_events(uuid, type, body, reason, rejected_at) VALUES (?, ?, ?, ?, ?)",
                         [f"uuid-{i}", "feedback", "{}", "unknown device", time.time()])


def test_a_kiosk_with_nothing_refused_has_no_problem_line(controller):
    lines, problems = status_of(controller())
    assert lines[0] == "Device: kiosk-7"
    assert "Server: no server configured" in lines
    assert problems == []


@pytest.mark.parametrize(("refused", "line"), [
    (1, "1 event was refused by the server \u2014 check this kiosk's token"),
    (1724, "1724 events were refused by the server \u2014 check this kiosk's token"),
])
def test_refused_events_make_a_problem_line(controller, store, refused, line):
    refuse(store, refused)
    _, problems = status_of(controller())
    assert problems == [line]


@pytest.mark.parametrize(("reachable", "shown"), [(True, "Server: reachable"), (False, "Server: not reachable")])
def test_reachability_is_the_sync_services_answer(controller, reachable, shown):
    lines, _ = status_of(controller(Service(reachable)))
    assert shown in lines


def test_a_status_that_cannot_be_read_is_said_not_raised(controller, monkeypatch):
    import screens.staff

    def broken(*_args):
        raise OSError("the disk went away")

    monkeypatch.setattr(screens.staff, "status_report", broken)
    lines, problems = status_of(controller())
    assert lines == [] and problems == ["The status could not be read: the disk went away"]
