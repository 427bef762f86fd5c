"""Hostile requests an outsider, a phone or a misbehaving kiosk can make, against the real server:
malformed numbers and dates in any route or dashboard page are refused with a 4xx (never a 500);
the CSV export never hands a spreadsheet a formula; a kiosk clock far in the past cannot put events
anywhere in history; the phone page's event ids cannot be claimed in advance; and a full disk
keeps the phone page readable and tells kiosks to come back later (503 + Retry-After)."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import re
import time
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from full_disk import server_disk_env
from server_testkit import STAFF_PASSWORD, STAFF_USER, copy_of, prepare, start, stop

from contract.events import make_event
from contract.handoff import Handoff, handoff_key, make_url
from contract.protocol import PROTOCOL_HEADER
from server import db

SUPERSCRIPT, HUGE = "²", "99999999999999999999"


@pytest.fixture(scope="module")
def sqlite_prepared(tmp_path_factory):
    return prepare(tmp_path_factory.mktemp("hostile"), str(tmp_path_factory.mktemp("hostile-db") / "server.db"))


@pytest.fixture(scope="module")
def hostile_server(sqlite_prepared, tmp_path_factory):
    """One server for the module; its disk is full while `srv.disk_full_flag` exists (tests/full_disk.py)."""
    tmp = tmp_path_factory.mktemp("hostile-server")
    with copy_of(sqlite_prepared, tmp, "hostile") as srv:
        srv.disk_full_flag = tmp / "disk-is-full"
        start(srv, "--stale-after", "60", env=server_disk_env(tmp, srv.disk_full_flag))
        yield srv
        stop(srv)
        log = srv.log.read_text(errors="replace")
        assert "Traceback" not in log, log[-4000:]


@contextlib.contextmanager
def staff_client(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        r = c.post("/api/v1/staff/login", json={"username": STAFF_USER, "password": STAFF_PASSWORD})
        assert r.status_code == 200, r.text
        yield c


def qr_link(server, session: str, step: str = "arrived", path=(), version="1") -> str:
    h = Handoff(device="kiosk-1", guide="lost-bag", version=1, step=step, path=tuple(path), session=session, lang="en")
    url = make_url(server.url, h, handoff_key(server.tokens["kiosk-1"]))
    return url.replace("/lost-bag/1/", f"/lost-bag/{version}/")


def feedback_action(server, session: str) -> str:
    page = httpx.get(qr_link(server, session, step="report", path=(0, 0, 0)), timeout=30)
    assert page.status_code == 200, page.text
    return re.search(r'<form[^>]*action="([^"]+/feedback[^"]*)"', page.text).group(1).replace("&amp;", "&")


def test_malformed_numbers_and_dates_are_refused_with_4xx_never_5xx(hostile_server):
    srv = hostile_server
    choose = feedback_action(srv, "params").replace("/report/feedback", "/arrived/choose/{}")
    public = [qr_link(srv, "params", version=SUPERSCRIPT), qr_link(srv, "params", version=HUGE),
              qr_link(srv, "params", version="٣"),
              qr_link(srv, "params").replace("p=-", f"p=0.{SUPERSCRIPT}"),
              qr_link(srv, "params").replace("p=-", "p=٣"),
              choose.format(SUPERSCRIPT), choose.format(HUGE), choose.format("-1"), choose.format("1_0")]
    device = [f"/api/v1/content/guides/lost-bag/{v}" for v in (SUPERSCRIPT, HUGE, "1_0", "+1", "٣")]
    staff = [f"/dashboard/feedback?rating={SUPERSCRIPT}", f"/dashboard/feedback?page={HUGE}",
             f"/dashboard/feedback?page={SUPERSCRIPT}", "/dashboard/feedback?page=-1",
             "/dashboard?start=0001-01-01", "/dashboard?end=9999-12-31", "/dashboard?start=0001-01-01&end=0001-01-02",
             "/dashboard/guides?end=9999-12-30", "/dashboard/search?start=0001-01-01",
             "/dashboard/feedback.csv?end=9999-12-31", "/dashboard/feedback?start=２０２６-01-01",
             "/dashboard?start=2026-W01-1", "/dashboard?rating=6", f"/dashboard/guides/lost-bag?version={HUGE}",
             f"/dashboard/guides/lost-bag?version={SUPERSCRIPT}",
             f"/dashboard/library?rolled_back={HUGE}&published={HUGE}"]
    answers = {}
    with srv.anonymous() as c:
        answers.update({url: c.get(url).status_code for url in public})
        answers["protocol ²"] = c.get("/api/v1/server-key", headers={PROTOCOL_HEADER: SUPERSCRIPT.encode()}).status_code
    with srv.device() as c:
        answers.update({url: c.get(url).status_code for url in device})
    with staff_client(srv) as c:
        answers.update({url: c.get(url).status_code for url in staff})
        answers[f"rollback {HUGE}"] = c.post("/api/v1/content/rollback", json={"version": int(HUGE)}).status_code
        # and the same pages with good values still work
        good = [c.get(u).status_code for u in ("/dashboard/feedback?rating=5&page=1&start=2026-01-01&end=2026-12-01",
                                               "/dashboard/guides/lost-bag?version=1", "/dashboard?end=2026-11-30")]
    assert good == [200, 200, 200]
    wrong = {url: status for url, status in answers.items() if not 400 <= status < 500}
    assert not wrong, wrong


FORMULAS = ["fine;=1+2", "ok,@SUM(A1:A2)", "tab\t=cmd|' /C calc'!A0", "-2+3", "a|=b", "well ;  +44",
            "line one\n=HYPERLINK(\"x\")", "x;＝1", "+SUM(1)", "@x", "a;\r=1"]


def test_the_csv_export_never_starts_a_formula_wherever_a_spreadsheet_splits(hostile_server):
    events = [make_event("feedback", device="kiosk-1", session=f"csv-{n}", guide="lost-bag", guide_version=1,
                         step="report", lang="en", data={"helped": False, "rating": 1, "comment": text})
              for n, text in enumerate(FORMULAS)]
    with hostile_server.device() as c:
        r = c.post("/api/v1/events", json={"events": events})
    assert r.status_code == 200 and len(r.json()["accepted"]) == len(FORMULAS), r.text
    with staff_client(hostile_server) as c:
        export = c.get("/dashboard/feedback.csv")
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(export.text)))
    comments = [cell for row in rows for cell in row if "csv-" not in cell]
    assert sum("=1+2" in cell for cell in comments) == 1  # the text is still there, made inert
    # A spreadsheet may split on any of these, with or without honouring the CSV quoting.
    pieces = re.split(r"[,;\t|\r\n]", export.text)
    dangerous = [p for p in pieces if p.strip(" \"'")[:1] in ("=", "+", "-", "@", "＝", "＋", "－", "＠")
                 and not p.strip(" \"").startswith("'")]
    assert not dangerous, dangerous


def test_a_kiosk_clock_far_in_the_past_cannot_date_events_anywhere_in_history(hostile_server):
    now = time.time()
    events = [make_event("session_start", device="kiosk-1", session=f"past-{n}", now=t)
              for n, t in enumerate((0.0, -1e11, now - 400 * 86400))]
    with hostile_server.device() as c:
        r = c.post("/api/v1/events", json={"events": events})
    assert r.status_code == 200 and len(r.json()["accepted"]) == 3, r.text
    engine = hostile_server.engine()
    with engine.connect() as conn:
        rows = conn.execute(sa.select(db.events.c.kiosk_time, db.events.c.server_time)
                            .where(db.events.c.session.like("past-%")).order_by(db.events.c.session)).all()
    engine.dispose()
    assert [r.kiosk_time for r in rows] == [0.0, -1e11, events[2]["kiosk_time"]], "the raw clock reading is kept"
    for row in rows:  # no more than the longest time a kiosk may be offline (90 days) back
        assert row.server_time >= now - 90 * 86400 - 60, row


def test_phone_page_event_ids_cannot_be_claimed_in_advance(hostile_server):
    action = feedback_action(hostile_server, "preclaim")
    k = re.search(r"[?&]k=([^&]+)", action).group(1)
    # The ids the phone page used to make were sha256 over what is in the link itself; anyone with
    # the link (or a photo of the QR) could send them first, under that kiosk's name.
    claimed = [hashlib.sha256(f"{kind}|{k}".encode()).hexdigest()[:32] for kind in ("feedback", "step_view")]
    squat = [{**make_event("feedback", device="kiosk-1", session="preclaim", data={"helped": True}), "uuid": u}
             for u in claimed]
    with hostile_server.device() as c:
        assert c.post("/api/v1/events", json={"events": squat}).status_code == 200
    page = httpx.post(hostile_server.url + action, data={"helped": "no", "rating": "2", "comment": "real one"},
                      timeout=30)
    assert page.status_code == 200
    engine = hostile_server.engine()
    with engine.connect() as conn:
        mobile = conn.execute(sa.select(db.events.c.comment).where(
            db.events.c.session == "preclaim", db.events.c.channel == "mobile",
            db.events.c.type == "feedback")).scalars().all()
    engine.dispose()
    assert mobile == ["real one"], "the phone's own feedback is stored"


def test_a_full_disk_keeps_the_phone_page_readable_and_kiosks_retry_later(hostile_server):
    srv, flag = hostile_server, hostile_server.disk_full_flag
    action = feedback_action(srv, "full")
    batch = [make_event("step_view", device="kiosk-1", session="full-disk", data={"pad": "x" * 200})
             for _ in range(300)]
    flag.touch()  # from here on the database cannot grow
    try:
        with srv.device() as c:
            ingest = c.post("/api/v1/events", json={"events": batch})
            beat = c.post("/api/v1/heartbeat", json={"outbox_depth": 300})
        page = httpx.get(qr_link(srv, "full-2", step="report", path=(0, 0, 0)), timeout=30)
        sent = httpx.post(srv.url + action, data={"helped": "yes", "rating": "5", "comment": "x" * 900}, timeout=30)
    finally:
        flag.unlink()  # room again: the kiosk's retry goes through
    with srv.device() as c:
        retry = c.post("/api/v1/events", json={"events": batch})

    assert ingest.status_code == 503 and float(ingest.headers["Retry-After"]) > 0, ingest.text
    assert "disk" in ingest.json()["detail"]
    assert beat.status_code in (200, 503) and (beat.status_code == 200 or "Retry-After" in beat.headers)
    for reply in (page, sent):
        assert reply.headers["content-type"].startswith("text/html"), reply.text[:300]
        assert "<html" in reply.text and "{\"detail\"" not in reply.text
    assert "Baggage Service desk" in page.text, "the step itself is shown"
    assert retry.status_code == 200 and len(retry.json()["accepted"]) == 300
