"""The Fleet page as staff see it, after heartbeats from the real kiosk sync client
(kiosk.sync.SyncService over kiosk.transport.HttpTransport) against the real server on loopback:
a kiosk that just synced fine is healthy, and one whose events the server refused says so."""

from __future__ import annotations

import html
import re

import httpx
import pytest
import sqlalchemy as sa
from server_testkit import STAFF_PASSWORD, STAFF_USER, copy_of, start, stop

from contract.events import make_event
from devtools.procs import wait_for
from kiosk.sync import SyncService
from kiosk.transport import HttpTransport
from offline_cache.store import Store
from offline_cache.sync_tables import SyncTables
from server import db
from server.dashboard.format import nbytes


def _kiosk(server, name: str, tmp_path) -> SyncService:
    data_dir = tmp_path / name
    data_dir.mkdir()
    with server.anonymous() as c:
        key = c.get("/api/v1/server-key").json()["public_key"]
    transport = HttpTransport(server.url, server.tokens[name], data_dir)
    return SyncService(Store(data_dir / "kiosk.db"), transport, device=name, server_key=key, data_dir=data_dir)


def _events(device: str, n: int) -> list[dict]:
    return [make_event("step_view", device=device, session="fleet-test", guide="lost-bag", guide_version=1,
                       step="arrived", lang="en") for _ in range(n)]


def _fleet_row(server, name: str) -> tuple[str, list[str]]:
    """The Fleet page's row for one kiosk, fetched over HTTP after a dashboard login: (its class, its cells)."""
    with httpx.Client(base_url=server.url, timeout=30) as staff:
        r = staff.post("/dashboard/login", data={"username": STAFF_USER, "password": STAFF_PASSWORD})
        assert r.status_code == 303, r.text
        page = staff.get("/dashboard/fleet").text
    m = re.search(rf'<tr data-device="{name}" class="([^"]*)">(.*?)</tr>', page, re.DOTALL)
    assert m, f"{name} is not on the Fleet page"
    cells = [html.unescape(re.sub(r"<[^>]+>", "", td)).strip() for td in re.findall(r"<td[^>]*>(.*?)</td>",
                                                                                      m.group(2), re.DOTALL)]
    return m.group(1), cells


def test_a_kiosk_that_synced_fine_is_healthy_with_no_raw_json(server, tmp_path):
    kiosk = _kiosk(server, "kiosk-1", tmp_path)
    kiosk.store.append_events(_events("kiosk-1", 3))
    result = kiosk.sync_once()  # pushes the events, pulls content, sends its heartbeat
    assert result.result == "ok", result.error
    row_class, cells = _fleet_row(server, "kiosk-1")
    last_sync = cells[5]
    assert row_class == "", f"a healthy kiosk is listed as needing attention: {cells}"
    assert re.fullmatch(r"ok, \d+ s ago", last_sync), last_sync
    assert not any(c.startswith("{") or '"result"' in c for c in cells), cells
    assert cells[-1] == "", "no problems listed"


def test_a_kiosk_whose_events_were_rejected_shows_the_problem(server, tmp_path):
    kiosk = _kiosk(server, "kiosk-2", tmp_path)
    # The README's old quick path: the kiosk keeps a generated device name, the token is kiosk-2's,
    # and the server refuses every event as someone else's.
    kiosk.store.append_events(_events("kiosk-generated-name", 4))
    kiosk.sync_once()  # its heartbeat after the round carries the count of events set aside
    assert SyncTables(kiosk.store).rejected_count() == 4, "the kiosk set the refused events aside"
    row_class, cells = _fleet_row(server, "kiosk-2")
    assert row_class == "trouble"
    assert "4 events rejected by the server" in cells[-1]
    assert not any(c.startswith("{") for c in cells), cells


def test_a_kiosk_still_on_the_default_staff_pin_is_flagged(server, tmp_path):
    kiosk = _kiosk(server, "kiosk-1", tmp_path)
    kiosk.uses_default_pin = lambda: True  # what SyncService.from_settings asks the kiosk's settings
    assert kiosk.sync_once().ok
    row_class, cells = _fleet_row(server, "kiosk-1")
    assert row_class == "trouble"
    assert "still uses the default staff PIN 1234" in cells[-1]
    kiosk.uses_default_pin = lambda: False  # staff chose a PIN: the next heartbeat clears the warning
    assert kiosk.sync_once().ok
    row_class, cells = _fleet_row(server, "kiosk-1")
    assert row_class == "" and cells[-1] == ""


def test_a_kiosk_whose_database_was_rebuilt_resyncs_and_says_so_on_the_fleet_page(server, tmp_path):
    """The kiosk's database was destroyed: it rebuilds on its own, syncs the server's content again,
    and its heartbeat's `recovered` puts the rebuild on the Fleet page, with the events it lost."""
    import damage

    from kiosk.settings import Settings
    from kiosk.status import open_store

    code, out, err = server.cli("device", "add", "kiosk-rebuilt")  # a device of its own on the shared server
    assert code == 0, err
    token = out.strip().splitlines()[-1]
    data_dir = tmp_path / "kiosk-rebuilt"
    data_dir.mkdir()
    Store(data_dir / "kiosk.db").close()
    damage.add_events(data_dir / "kiosk.db", 120, device="kiosk-rebuilt")
    lost = damage.flip_outbox_page(data_dir / "kiosk.db")
    store = open_store(Settings(device="kiosk-rebuilt", data_dir=str(data_dir)))
    recovered = store.get_state("recovered")
    assert recovered and recovered["outbox_lost"] == lost
    with server.anonymous() as c:
        key = c.get("/api/v1/server-key").json()["public_key"]
    kiosk = SyncService(store, HttpTransport(server.url, token, data_dir), device="kiosk-rebuilt",
                        server_key=key, data_dir=data_dir)
    result = kiosk.sync_once()
    assert result.content_version not in (None, "sample"), "the server's content is synced again"
    assert result.events_sent == 120 - lost and result.events_rejected == 0
    row_class, cells = _fleet_row(server, "kiosk-rebuilt")
    assert row_class == "trouble", "a kiosk that lost events needs a look"
    assert re.search(rf"database rebuilt .*ago; {120 - lost} waiting events kept, {lost} lost", cells[-1]), cells[-1]
    assert not any(c.startswith("{") for c in cells), cells


@pytest.fixture
def counting_server(prepared, tmp_path):
    """A server of its own that writes its byte counts every half second."""
    with copy_of(prepared, tmp_path, "traffic") as srv:
        start(srv, env={"KIOSK_SERVER_TRAFFIC_FLUSH": "0.5"})
        yield srv
        stop(srv)


def test_the_fleet_page_shows_the_bytes_each_kiosk_used_today(counting_server, tmp_path):
    kiosk = _kiosk(counting_server, "kiosk-1", tmp_path)
    kiosk.store.append_events(_events("kiosk-1", 200))
    assert kiosk.sync_once().result == "ok"
    counted = kiosk.transport.counters  # what the kiosk itself sent and received: the bodies
    bodies = counted.bytes_in + counted.bytes_out
    engine = counting_server.engine()

    def stored():
        with engine.connect() as conn:
            return conn.execute(sa.select(db.device_traffic).join(
                db.devices, db.devices.c.id == db.device_traffic.c.device_id).where(db.devices.c.name == "kiosk-1")).first()

    row = wait_for(lambda: (r := stored()) and r.bytes_in + r.bytes_out > bodies and r, 20, "the byte counts")
    engine.dispose()
    total = row.bytes_in + row.bytes_out
    # the bodies, plus each request's and reply's head (a few hundred bytes), and nothing else
    assert bodies < total < bodies + 1500 * row.requests, (bodies, total, row.requests)
    _row_class, cells = _fleet_row(counting_server, "kiosk-1")
    assert nbytes(total) in cells[8], cells  # the "Data today" cell (the next sync's bytes are not in yet)
