"""A real server (`kiosk-server serve` on loopback, in a subprocess) on a simulated history, once on
a SQLite file and once on the test PostgreSQL (KIOSK_TEST_PG_URL, in a database of our own). The
history is stored once per run and backend (the template); each test gets its own copy of it and
its own server, so no test sees what another changed and any one runs alone."""

from __future__ import annotations

import contextlib
import random
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pg_databases
import pytest

from devtools.procs import ServerProcess
from devtools.simulate import History, Improvement, generate
from devtools.simulate_load import load
from server import auth

SESSIONS = 5000
USER, PASSWORD = "staff", "correct horse battery"
# Comments a customer could type: markup that must show as text, and cells a spreadsheet would run.
XSS_COMMENT = '<script>alert("xss")</script><img src=x onerror=alert(1)> thanks'
FORMULA_COMMENT = '=HYPERLINK("http://evil.example","click")'
TEST_DEVICE, TEST_LOCATION = "lab-kiosk", "Test Lab"


@dataclass
class Server:
    base: str
    backend: str
    history: History
    events: list[dict]  # every event the server holds: the history plus the ones the tests sent
    locations: dict[str, str]
    db_url: str  # this test's own copy of the history

    @contextmanager
    def client(self, logged_in: bool = True) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=self.base, timeout=30, follow_redirects=False) as client:
            if logged_in:
                r = client.post("/dashboard/login", data={"username": USER, "password": PASSWORD})
                assert r.status_code == 303, r.text
            yield client


@pytest.fixture(scope="session")
def history() -> History:
    # version 2 of lost-baggage really is better at its first step (walk-aways 30% -> 5%)
    return generate(sessions=SESSIONS, seed=3, improvement=Improvement("lost-baggage", "belt", 2))


def _send_test_events(base: str, token: str) -> list[dict]:
    """Feedback carrying hostile comments, and a heartbeat reporting a failing sync, through the
    real device API (ingest and heartbeat), as a kiosk would."""
    now = time.time() - 3600
    events = [
        {"uuid": f"{n:032x}", "type": "feedback", "device": TEST_DEVICE, "session": f"test-session-{n}",
         "channel": "kiosk", "kiosk_time": now + n, "mono": 1.0, "guide": "lost-baggage", "guide_version": 3,
         "step": "report", "lang": "en", "data": {"helped": False, "rating": 1, "comment": comment}}
        for n, comment in enumerate([XSS_COMMENT, FORMULA_COMMENT], start=1)
    ]
    headers = {"Authorization": f"Bearer {token}"}
    r = httpx.post(base + "/api/v1/events", json={"events": events}, headers=headers)
    assert r.status_code == 200 and len(r.json()["accepted"]) == 2, r.text
    # Whole sessions through ingest the hard way: shuffled across batches, one batch sent twice,
    # so the per-session summaries must come out right from any arrival order.
    lab = generate(kiosks=1, days=3, sessions=60, seed=5).events
    for e in lab:
        e["device"] = TEST_DEVICE
    random.Random(1).shuffle(lab)
    batches = [lab[i:i + 97] for i in range(0, len(lab), 97)]
    for batch in batches + batches[1:2]:
        r = httpx.post(base + "/api/v1/events", json={"events": batch}, headers=headers)
        assert r.status_code == 200 and not r.json()["rejected"], r.text
    events += lab
    r = httpx.post(base + "/api/v1/heartbeat", headers=headers, json={
        "content_version": 1, "outbox_depth": 812, "last_sync_result": {"result": "error", "at": "2026-12-01T10:00:00Z", "error": "server unreachable",
                                                       "content_version": "1"},
        "app_version": "1.4.2", "free_disk": 200 * 1024 * 1024, "uptime": 3600})
    assert r.status_code == 200, r.text
    return events


@dataclass
class Template:
    """The history and the test's own events, stored once per run and backend; never served by a
    test, only copied."""
    backend: str
    db_url: str
    data_dir: Path
    events: list[dict]


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def template(request, history, tmp_path_factory) -> Iterator[Template]:
    data_dir: Path = tmp_path_factory.mktemp(f"template-{request.param}")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{data_dir / 'server.db'}"
        else:  # a name of its own: another run on the same PostgreSQL must not share it
            url = stack.enter_context(pg_databases.fresh("dashboard_template"))
        engine = load(url, history)
        auth.set_staff_password(engine, USER, PASSWORD)
        token = auth.add_device(engine, TEST_DEVICE, TEST_LOCATION)
        engine.dispose()
        with ServerProcess(data_dir, db_url=url, log=data_dir / "server.log") as process:
            sent = _send_test_events(process.url, token)
        yield Template(request.param, url, data_dir, history.events + sent)


@contextmanager
def _copy(template: Template, tmp: Path) -> Iterator[tuple[str, Path]]:
    """(database URL, data dir) of a copy of the template: the SQLite file with its data dir, or a
    PostgreSQL database made from the template database."""
    data_dir = tmp / "server"
    shutil.copytree(template.data_dir, data_dir, ignore=shutil.ignore_patterns("*.log", "*-shm"))
    if template.backend == "sqlite":
        yield f"sqlite:///{data_dir / 'server.db'}", data_dir
    else:
        with pg_databases.copy_of(template.db_url, "dashboard") as url:
            yield url, data_dir


@pytest.fixture(scope="session")
def shared_server(template, history, tmp_path_factory) -> Iterator[Server]:
    """One real server on a copy of the history for the tests that check what nothing else
    changes (the accessibility audit, the Guides page's languages): they add a device or phone
    events at most, which none of them counts. Starting a server costs seconds."""
    tmp = tmp_path_factory.mktemp(f"shared-{template.backend}")
    with _copy(template, tmp) as (url, data_dir), ServerProcess(data_dir, db_url=url) as process:
        locations = {k.id: k.location for k in history.kiosks} | {TEST_DEVICE: TEST_LOCATION}
        yield Server(process.url, template.backend, history, template.events, locations, url)


@pytest.fixture
def server(template, history, tmp_path) -> Iterator[Server]:
    """The real server on a copy of the history of its own: what one test changes (a rollback),
    no other test sees."""
    with _copy(template, tmp_path) as (url, data_dir), ServerProcess(data_dir, db_url=url) as process:
        locations = {k.id: k.location for k in history.kiosks} | {TEST_DEVICE: TEST_LOCATION}
        yield Server(process.url, template.backend, history, template.events, locations, url)
