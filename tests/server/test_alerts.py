"""Alerts end to end, as an operator meets them: the real server on loopback (PostgreSQL, two
worker processes) with its alerts configured in server.toml, a real kiosk sync client sending its heartbeats (the kiosk's own
builder and transport: the exact shape a kiosk sends), an SMTP server (aiosmtpd, STARTTLS and a
login) and a webhook receiver started here. A kiosk whose disk runs low is told once by e-mail
and once to the webhook, and once more when it is resolved, never again each round; the Alerts
page shows it in the site's time zone and snoozes it; `kiosk-server alerts test` says what
happened on each channel and never prints the password."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import html
import io
import re
import types
from email.message import Message
from zoneinfo import ZoneInfo

import httpx
import pg_databases
import pytest
import sqlalchemy as sa
from alert_receivers import smtp_relay, webhook_receiver
from server_testkit import STAFF_PASSWORD, STAFF_USER, copy_of, make_library, start, stop

import kiosk.sync.heartbeat as kiosk_heartbeat
from contract.events import make_event
from devtools.procs import wait_for
from kiosk.sync import SyncService
from kiosk.transport import HttpTransport
from offline_cache.store import Store
from server import db
from server.alerts import evaluator

SMTP_USER, SMTP_PASSWORD = "alerts@example.org", "s3cret-relay-password"
DUBAI = ZoneInfo("Asia/Dubai")


@pytest.fixture(scope="module")
def db_url():
    """PostgreSQL, as a fleet runs it, behind two worker processes: the sources and the SQLite lease
    are tested on both databases in test_alert_sources.py, at a fraction of the time."""
    with pg_databases.fresh("alerts") as url:
        yield url


@pytest.fixture(scope="module")
def relay(tmp_path_factory):
    with smtp_relay(tmp_path_factory.mktemp("relay"), SMTP_USER, SMTP_PASSWORD) as box:
        yield box


@pytest.fixture(scope="module")
def webhook():
    with webhook_receiver() as hook:
        yield hook


@pytest.fixture(scope="module")
def alerting(prepared, relay, webhook, tmp_path_factory):
    """The server with alerts on every 0.3 s, e-mail and webhook, in Dubai time: two worker
    processes, each with its alert thread, of which the lease lets one evaluate."""
    with copy_of(prepared, tmp_path_factory.mktemp("alerting"), "alerting") as srv:
        srv.data_dir.mkdir(parents=True, exist_ok=True)
        (srv.data_dir / "server.toml").write_text(f'''
time_zone = "Asia/Dubai"
public_url = "https://kiosks.example.org"
alert_interval = 0.3
smtp_host = "127.0.0.1"
smtp_port = {relay.port}
smtp_security = "starttls"
smtp_user = "{SMTP_USER}"
smtp_password = "{SMTP_PASSWORD}"
smtp_ca_file = "{relay.ca_file}"
alert_from = "kiosks@example.org"
alert_to = "ops@example.org, duty@example.org"
webhook_url = "{webhook.url}"
''')
        start(srv, "--stale-after", "60", "--workers", "2")
        try:
            yield srv
        finally:
            stop(srv)
        log = srv.log.read_text(errors="replace")
        assert "Traceback" not in log, log[-4000:]
        assert SMTP_PASSWORD not in log


def _kiosk(server, name: str, tmp_path) -> SyncService:
    data_dir = tmp_path / name
    data_dir.mkdir()
    with server.anonymous() as c:
        key = c.get("/api/v1/server-key").json()["public_key"]
    return SyncService(Store(data_dir / "kiosk.db"), HttpTransport(server.url, server.tokens[name], data_dir),
                       device=name, server_key=key, data_dir=data_dir)


def _low_disk(monkeypatch, free: int) -> None:
    """The kiosk's own heartbeat builder, on a disk with `free` bytes left."""
    usage = types.SimpleNamespace(disk_usage=lambda _path: types.SimpleNamespace(total=8 * 1024**3, used=0,
                                                                                 free=free))
    monkeypatch.setattr(kiosk_heartbeat, "shutil", usage)


def _mails(relay, subject: str) -> list[Message]:
    return [m for m in relay.messages if m["Subject"] == subject]


def _hooks(webhook, event: str, subject: str) -> list[dict]:
    return [h for h in webhook.received if h["alert"]["event"] == event and h["alert"]["subject"] == subject]


def _staff(server) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=30)
    r = client.post("/dashboard/login", data={"username": STAFF_USER, "password": STAFF_PASSWORD})
    assert r.status_code == 303, r.text
    return client


def test_a_low_disk_is_told_once_when_it_opens_and_once_when_resolved(alerting, relay, webhook, tmp_path,
                                                                      monkeypatch):
    kiosk = _kiosk(alerting, "kiosk-1", tmp_path)
    assert kiosk.sync_once().ok  # a healthy kiosk: content, and its heartbeat
    with monkeypatch.context() as patch:
        _low_disk(patch, 50 * 1024**2)
        assert kiosk.heartbeat()
    opened = wait_for(lambda: _mails(relay, "[Alert] Disk low: kiosk-1"), what="the alert e-mail")
    hook = wait_for(lambda: _hooks(webhook, "opened", "kiosk-1"), what="the webhook")[0]
    body = opened[0].get_content()
    assert opened[0]["To"] == "ops@example.org, duty@example.org" and opened[0]["From"] == "kiosks@example.org"
    sentence = "Kiosk kiosk-1 (Hall kiosk-1) has only 50 MB of disk free (the alert starts below 1024 MB)."
    assert sentence in body and "https://kiosks.example.org/dashboard/fleet#device-kiosk-1" in body
    assert relay.logins and relay.logins[0] == SMTP_USER, "logged in, after STARTTLS (the relay requires both)"
    assert hook["text"].startswith("[Alert] Disk low: kiosk-1\n" + sentence)  # what Slack shows
    assert hook["alert"]["kind"] == "disk_low" and hook["alert"]["link"].endswith("/dashboard/fleet#device-kiosk-1")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d \+04", hook["alert"]["at"]), "in the site's time zone"

    assert kiosk.heartbeat()  # the disk has room again
    wait_for(lambda: _mails(relay, "[Resolved] Disk low: kiosk-1"), what="the resolved e-mail")
    wait_for(lambda: _hooks(webhook, "resolved", "kiosk-1"), what="the resolved webhook")

    # Another kiosk's alert arrives only after further rounds have run over kiosk-1's resolved one.
    other = _kiosk(alerting, "kiosk-2", tmp_path)
    with monkeypatch.context() as patch:
        _low_disk(patch, 10 * 1024**2)
        assert other.sync_once().ok
    wait_for(lambda: _mails(relay, "[Alert] Disk low: kiosk-2"), what="kiosk-2's alert")
    wait_for(lambda: _hooks(webhook, "opened", "kiosk-2"), what="kiosk-2's webhook")
    assert len(_mails(relay, "[Alert] Disk low: kiosk-1")) == 1 and len(_mails(relay, "[Resolved] Disk low: kiosk-1")) == 1
    assert len(_hooks(webhook, "opened", "kiosk-1")) == 1 and len(_hooks(webhook, "resolved", "kiosk-1")) == 1

    # The Alerts page: kiosk-2 open, kiosk-1 resolved, each linking to the Fleet page; times in Dubai.
    engine = alerting.engine()
    with engine.connect() as conn:
        rows = {r.subject: r for r in conn.execute(sa.select(db.alerts))}
        holders = conn.execute(sa.text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND ((classid::bigint << 32) | objid::bigint) = :key"), {"key": evaluator._lease_key()}).scalar()
        assert holders == 1, "of the two worker processes, one holds the evaluator's lease"
        published = conn.execute(sa.select(sa.func.min(db.content_versions.c.published_at))).scalar()
    engine.dispose()
    with contextlib.closing(_staff(alerting)) as staff:
        page = staff.get("/dashboard/alerts").text
        open_table = page.split('id="open-alerts"')[1].split("</table>")[0]
        resolved_table = page.split('id="resolved-alerts"')[1].split("</table>")[0]
        assert 'data-alert="disk_low:kiosk-2"' in open_table and 'data-alert="disk_low:kiosk-1"' in resolved_table
        assert '<a href="/dashboard/fleet#device-kiosk-1">' + html.escape(sentence) + "</a>" in resolved_table
        local = dt.datetime.fromtimestamp(rows["kiosk-1"].opened_at, DUBAI).strftime("%Y-%m-%d %H:%M")
        utc = dt.datetime.fromtimestamp(rows["kiosk-1"].opened_at, dt.UTC).strftime("%Y-%m-%d %H:%M")
        assert local in resolved_table and utc not in resolved_table and "Asia/Dubai, UTC+04:00" in page
        library = staff.get("/dashboard/library").text  # an event time of another page, in Dubai too
        assert dt.datetime.fromtimestamp(published, DUBAI).strftime("%Y-%m-%d %H:%M") in library
        assert "Published (Asia/Dubai, UTC+04:00)" in library

        # Snooze kiosk-2's alert from the page's own form (its CSRF token).
        token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)
        r = staff.post(f"/dashboard/alerts/{rows['kiosk-2'].id}/snooze", data={"csrf": token, "hours": "4"})
        assert r.status_code == 303
        page = staff.get("/dashboard/alerts").text
        assert 'data-alert="disk_low:kiosk-2"' in page.split('id="snoozed-alerts"')[1].split("</table>")[0]
        forged = staff.post(f"/dashboard/alerts/{rows['kiosk-2'].id}/snooze", data={"csrf": "x", "hours": "0"})
        assert forged.status_code == 403


def test_alerts_test_says_what_happened_on_each_channel(alerting, relay, webhook, monkeypatch):
    code, out, err = alerting.cli("alerts", "test")
    assert code == 0, out + err
    assert out.splitlines() == ["e-mail: sent to ops@example.org, duty@example.org", "webhook: sent (HTTP 200)"]
    wait_for(lambda: _mails(relay, "[Test] Test alert: kiosk-server"), what="the test e-mail")
    assert any(h["alert"]["event"] == "test" for h in webhook.received)
    monkeypatch.setenv("KIOSK_SERVER_SMTP_PASSWORD", "wrong")
    code, out, err = alerting.cli("alerts", "test")
    assert code == 1
    assert out.splitlines()[0] == "e-mail: failed: the SMTP server refused the login (535)"
    assert "wrong" not in out + err and SMTP_PASSWORD not in out + err
    code, out, _ = alerting.cli("config", "check")
    assert SMTP_PASSWORD not in out and "wrong" not in out


def _session(device: str, guide_version: int, resolved: bool, comment: str | None = None) -> list[dict]:
    session = f"s-{guide_version}-{make_event('session_start', device=device, session='x')['uuid'][:10]}"

    def ev(kind, **more):
        return make_event(kind, device=device, session=session, guide="wifi", guide_version=guide_version,
                          step="start", lang="en", **more)
    out = [ev("session_start"), ev("step_view"), ev("outcome", data={"outcome": "resolved" if resolved else "escalate"})]
    if comment:
        out.append(ev("feedback", data={"helped": resolved, "rating": 2, "comment": comment}))
    return out


def test_a_comment_acted_on_shows_what_was_done_and_its_effect(alerting, tmp_path):
    """Triage on the Feedback page (its forms, their CSRF token), then "You said, we did" and its CSV:
    the change, the content version that carries it and the guide's resolution before and after."""
    comment = "The Wi-Fi password on the screen is wrong"
    before = [e for i in range(4) for e in _session("kiosk-1", 1, resolved=i == 0, comment=comment if i == 1 else None)]
    with alerting.device("kiosk-1") as c:
        assert len(c.post("/api/v1/events", json={"events": before}).json()["accepted"]) == len(before)
    library = make_library(tmp_path / "fixed", wifi_text="Can you see the network AIRPORT-GUEST?")
    code, _out, err = alerting.cli("publish", str(library), "--by", "tests")
    assert code == 0, err
    engine = alerting.engine()
    with engine.connect() as conn:
        fix = conn.execute(sa.select(sa.func.max(db.content_versions.c.version))).scalar()
        wifi_version = conn.execute(sa.select(db.content_guides.c.guide_version).where(
            db.content_guides.c.content_version == fix, db.content_guides.c.guide_id == "wifi")).scalar()
        comment_id = conn.execute(sa.select(db.events.c.id).where(db.events.c.comment == comment)).scalar()
    engine.dispose()
    after = [e for i in range(3) for e in _session("kiosk-1", wifi_version, resolved=i < 2)]
    with alerting.device("kiosk-1") as c:
        assert len(c.post("/api/v1/events", json={"events": after}).json()["accepted"]) == len(after)

    with contextlib.closing(_staff(alerting)) as staff:
        page = staff.get("/dashboard/feedback", params={"state": "new"}).text
        row = page.split(f'id="comment-{comment_id}"')[1].split("</tr>")[0]
        assert ">new</span>" in row
        token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)
        r = staff.post(f"/dashboard/feedback/{comment_id}/triage",
                       data={"csrf": token, "state": "acted", "note": "Step 1 now shows the guest network",
                             "fix_version": str(fix), "back": "state=new"})
        assert r.status_code == 303 and r.headers["location"].startswith("/dashboard/feedback?state=new&done=1")
        row = staff.get("/dashboard/feedback").text.split(f'id="comment-{comment_id}"')[1].split("</tr>")[0]
        assert ">acted on</span>" in row and f"by {STAFF_USER}" in row and f"(content version {fix})" in row
        assert f'id="comment-{comment_id}"' not in staff.get("/dashboard/feedback", params={"state": "new"}).text
        refused = staff.post(f"/dashboard/feedback/{comment_id}/triage", data={"csrf": token, "state": "acted"})
        assert refused.status_code == 400 and "say what was done" in refused.text

        said = staff.get("/dashboard/you-said").text.split(f'data-comment="{comment_id}"')[1].split("</tr>")[0]
        assert html.escape(comment) in said and "Step 1 now shows the guest network" in said
        assert "25%" in said and "4 sessions" in said and "67%" in said and "3 sessions" in said
        sheet = staff.get("/dashboard/you-said.csv")
        assert sheet.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(sheet.text)))
    assert len(rows) == 1
    assert {k: rows[0][k] for k in ("comment", "what_we_did", "fix_content_version", "fix_guide_version",
                                    "sessions_before", "resolved_before", "sessions_after", "resolved_after")} == {
        "comment": comment, "what_we_did": "Step 1 now shows the guest network", "fix_content_version": str(fix),
        "fix_guide_version": str(wifi_version), "sessions_before": "4", "resolved_before": "1",
        "sessions_after": "3", "resolved_after": "2"}
