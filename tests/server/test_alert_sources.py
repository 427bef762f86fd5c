"""Each alert as staff would meet it, found by the evaluator on a real (SQLite) database at a time
the test names: it opens once, keeps one row however many rounds see it, and is resolved when its
cause goes away; the opening hours of a kiosk's group decide whether quiet means stale. A source
is one function in a registry. No server process: test_alerts.py runs the real one."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pg_databases
import pytest
import sqlalchemy as sa
from server_testkit import migrated_engine

from contract.heartbeat import LastSync
from server import auth, compare, db, groups, opening_hours, summary, triage
from server.alerts import evaluator
from server.alerts.sources import Finding, Source
from server.config import Config

DUBAI = ZoneInfo("Asia/Dubai")
# Wednesday 2 December 2026, 23:30 in Dubai (19:30 UTC): the mall (10:00-22:00) closed 90 minutes ago.
NIGHT = datetime(2026, 12, 2, 23, 30, tzinfo=DUBAI).timestamp()
MIDDAY = datetime(2026, 12, 2, 13, 0, tzinfo=DUBAI).timestamp()
H = 3600.0


@pytest.fixture
def engine(request, tmp_path):
    """SQLite; PostgreSQL too for the tests marked with BOTH (the sources' SQL on either database)."""
    with migrated_engine(getattr(request, "param", "sqlite"), tmp_path, "alert_sources") as engine:
        yield engine


BOTH = pytest.mark.parametrize("engine", ["sqlite", "postgres"], indirect=True)


def config(**values) -> Config:
    return Config(**{"time_zone": "Asia/Dubai", "stale_after": 30, **values})


def add_kiosk(engine, name: str, created: float, **state) -> None:
    auth.add_device(engine, name, f"Hall {name}", db.DEFAULT_GROUP)
    with db.write(engine) as conn:
        conn.execute(db.devices.update().where(db.devices.c.name == name).values(created_at=created, **state))


def healthy(at: float, **more) -> dict:
    return {"last_seen": at, "last_heartbeat": at, "free_disk": 20 * 1024**3, "outbox_depth": 0, "uptime": 3 * 86400,
            "last_sync_result": LastSync(result="ok", at="2026-12-02T09:00:00+00:00").stored(), **more}


def event(engine, kind: str, at: float, **cols) -> None:
    with db.write(engine) as conn:
        conn.execute(db.events.insert().values(uuid=uuid.uuid4().hex, device=cols.pop("device", "k1"),
                                               session=cols.pop("session", uuid.uuid4().hex), channel="kiosk",
                                               type=kind, kiosk_time=at, server_time=at, received_at=at, data="{}",
                                               **cols))


def session_at(engine, device: str, at: float) -> None:
    with db.write(engine) as conn:
        conn.execute(db.session_summary.insert().values(
            device=device, session=uuid.uuid4().hex, started_at=at, has_start=1, guides=1, resolved=1, escalated=0,
            walked_away=0, abandoned_home=0, rating_sum=0, ratings=0, handoffs=0, handoff_opened=0))


def open_alerts(engine) -> dict[tuple[str, str], str]:
    with db.read(engine) as conn:
        return {(r.kind, r.subject): r.sentence for r in conn.execute(
            sa.select(db.alerts).where(db.alerts.c.resolved_at.is_(None)))}


def test_opening_hours_count_only_open_time_in_the_site_zone():
    hours = opening_hours.parse("mon-fri 10:00-22:00; sat,sun 12:00-02:00")
    start = datetime(2026, 12, 2, 21, 0, tzinfo=DUBAI).timestamp()  # a Wednesday, an hour before closing
    assert hours.open_seconds(start, NIGHT, DUBAI) == H
    assert not hours.is_open(NIGHT, DUBAI) and hours.is_open(MIDDAY, DUBAI)
    saturday_1am = datetime(2026, 12, 5, 1, 0, tzinfo=DUBAI).timestamp()
    assert not hours.is_open(saturday_1am, DUBAI)  # Friday closes at 22:00
    sunday_1am = datetime(2026, 12, 6, 1, 0, tzinfo=DUBAI).timestamp()
    assert hours.is_open(sunday_1am, DUBAI), "Saturday's 12:00-02:00 runs past midnight"
    # 4 opening hours back from Thursday 11:00 reach Wednesday 19:00.
    thursday_11 = datetime(2026, 12, 3, 11, 0, tzinfo=DUBAI).timestamp()
    assert hours.since_open(thursday_11, 4 * H, DUBAI) == datetime(2026, 12, 2, 19, 0, tzinfo=DUBAI).timestamp()
    # Daylight saving time: Paris's 08:00-09:00 on the day clocks go forward is one real hour.
    paris = ZoneInfo("Europe/Paris")
    t0 = datetime(2027, 3, 28, 0, 0, tzinfo=paris).timestamp()
    assert opening_hours.parse("08:00-09:00").open_seconds(t0, t0 + 86400, paris) == H
    for bad, said in (("mon-fry 08:00-20:00", "mon-fry"), ("08:00-25:00", "does not exist"), ("mon", "no hours")):
        assert said in (opening_hours.check(bad) or "")


@BOTH
def test_a_quiet_kiosk_is_stale_by_opening_hours_not_by_the_clock(engine):
    groups.set_opening_hours(engine, db.DEFAULT_GROUP, "10:00-22:00")
    closing = datetime(2026, 12, 2, 21, 50, tzinfo=DUBAI).timestamp()
    add_kiosk(engine, "k1", created=closing - 30 * 86400, **healthy(closing))
    session_at(engine, "k1", closing - 600)  # its panel works
    cfg = config()
    evaluator.run_round(engine, cfg, now=NIGHT)  # 100 minutes since contact, 10 of them open
    assert open_alerts(engine) == {}, "a mall at night is not stale"
    next_day = datetime(2026, 12, 3, 10, 45, tzinfo=DUBAI).timestamp()  # 55 open minutes without contact
    done = evaluator.run_round(engine, cfg, now=next_day)
    (sentence,) = open_alerts(engine).values()
    assert len(done.opened) == 1
    assert sentence == ("Kiosk k1 (Hall k1) has not been in touch for 55 min of opening time; last contact "
                        "2026-12-02 21:50.")  # the site's clock, not UTC (17:50)
    evaluator.run_round(engine, cfg, now=next_day + 60)
    with db.read(engine) as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.alerts)).scalar() == 1, "one row, not one a round"
    with db.write(engine) as conn:
        conn.execute(db.devices.update().values(**healthy(next_day + 120)))
    done = evaluator.run_round(engine, cfg, now=next_day + 130)
    assert done.resolved and open_alerts(engine) == {}


def test_each_heartbeat_problem_opens_its_own_alert_with_the_fleet_link(engine):
    add_kiosk(engine, "k1", created=MIDDAY - 86400, **healthy(MIDDAY, free_disk=300 * 1024**2, outbox_depth=900,
                                                              last_sync_result=LastSync(result="error", error="HTTP 503").stored()))
    session_at(engine, "k1", MIDDAY - 60)
    evaluator.run_round(engine, config(), now=MIDDAY + 60)
    with db.read(engine) as conn:
        rows = {r.kind: r for r in conn.execute(sa.select(db.alerts))}
    assert set(rows) == {"disk_low", "outbox_growing", "sync_failing"}
    assert rows["disk_low"].sentence == "Kiosk k1 (Hall k1) has only 300 MB of disk free (the alert starts below 1024 MB)."
    assert rows["sync_failing"].sentence == "Kiosk k1 (Hall k1) cannot sync with the server: HTTP 503."
    assert all(r.link == "/dashboard/fleet#device-k1" for r in rows.values())


def test_heartbeats_but_no_sessions_for_hours_of_opening_is_a_dead_panel(engine):
    groups.set_opening_hours(engine, db.DEFAULT_GROUP, "10:00-22:00")
    add_kiosk(engine, "k1", created=MIDDAY - 9 * 86400, **healthy(MIDDAY + 17 * H))
    add_kiosk(engine, "k2", created=MIDDAY - 9 * 86400, **healthy(MIDDAY + 17 * H))
    session_at(engine, "k2", MIDDAY + 8 * H)  # k2's panel works: a session on Wednesday at 21:00
    thursday_11 = datetime(2026, 12, 3, 11, 0, tzinfo=DUBAI).timestamp()  # 4 open hours back: Wed 19:00
    with db.write(engine) as conn:
        conn.execute(db.devices.update().values(last_seen=thursday_11, last_heartbeat=thursday_11))
    evaluator.run_round(engine, config(), now=thursday_11)
    assert list(open_alerts(engine)) == [("dead_panel", "k1")], "k2's session at 21:00 was within the 4 open hours"
    assert "nobody has started a session on it in the last 4 opening hours" in open_alerts(engine)[("dead_panel", "k1")]
    with db.write(engine) as conn:  # k1 restarted an hour ago: its uptime does not cover the 4 hours
        conn.execute(db.devices.update().where(db.devices.c.name == "k1").values(uptime=3600))
    evaluator.run_round(engine, config(), now=thursday_11 + 1)
    assert open_alerts(engine) == {}


@BOTH
def test_a_step_whose_walk_aways_jumped_after_an_edit(engine):
    now = MIDDAY
    for version, walked in ((1, 4), (2, 14)):  # 40 sessions each: 10% then 35% walk away at "report"
        for i in range(40):
            session = f"v{version}-{i}"
            event(engine, "step_view", now - 86400, session=session, guide="lost-bag", guide_version=version,
                  step="report")
            if i < walked:
                event(engine, "idle_timeout", now - 86400, session=session, guide="lost-bag",
                      guide_version=version, step="report")
    with db.write(engine) as conn:  # what ingest does as the events arrive (these skipped it)
        summary.rebuild(conn)
    evaluator.run_round(engine, config(), now=now)
    assert open_alerts(engine) == {("walkaway_jump", "lost-bag/report"): (
        "Step 'report' of guide lost-bag: 35% of customers walk away there in version 2, up from 10% in "
        "version 1 (40 and 40 sessions).")}
    with db.read(engine) as conn:
        assert conn.execute(sa.select(db.alerts.c.link)).scalar() == "/dashboard/guides/lost-bag?version=2"
    evaluator.run_round(engine, config(alert_walkaway_points=30), now=now + 1)
    assert open_alerts(engine) == {}, "25 points is below a 30-point threshold: resolved"


@BOTH
def test_no_result_searches_spiking_and_ratings_dropping(engine):
    now = MIDDAY
    for day in range(1, 8):  # 2 a day the week before
        for _ in range(2):
            event(engine, "search", now - day * 86400 - 3600, query="taxi", hits=0)
    for q in ["wifi password"] * 8 + ["lounge"] * 4:
        event(engine, "search", now - 3600, query=q, hits=0)
    for i in range(20):  # 4.5 stars in the four weeks before, 3.6 this week
        event(engine, "feedback", now - 10 * 86400, guide="wifi", rating=5 if i % 2 else 4)
        event(engine, "feedback", now - 86400, guide="wifi", rating=4 if i % 5 else 2)
    evaluator.run_round(engine, config(), now=now)
    found = open_alerts(engine)
    assert found[("no_result_spike", "search")] == ("12 searches found nothing in the last 24 hours, against 2.0 a "
                                                    "day the week before; most often 'wifi password', 'lounge'.")
    assert found[("rating_drop", "wifi")] == ("Guide wifi is rated 3.6 stars on average this week, down from 4.5 "
                                             "in the four weeks before (20 and 20 ratings).")


def test_a_source_is_one_function_and_a_failing_one_resolves_nothing(engine):
    decisions = [{"guide": "lost-bag", "group": "pilot", "version": 7}]

    def guard(scope):  # what the rollout guard's source looks like (helper "compare")
        for d in decisions:
            yield Finding("rollout_rollback", f"{d['group']}/{d['version']}",
                          f"Content version {d['version']} was rolled back in group {d['group']}.", "/dashboard/library")

    sources = [Source("guard", ("rollout_rollback",), guard)]
    evaluator.run_round(engine, config(), now=MIDDAY, sources=sources)
    assert list(open_alerts(engine)) == [("rollout_rollback", "pilot/7")]

    def broken(scope):
        raise RuntimeError("the guard's table is missing")
        yield  # a generator, as sources are

    done = evaluator.run_round(engine, config(), now=MIDDAY + 60, sources=[Source("guard", ("rollout_rollback",), broken)])
    assert done.failed_sources == ["guard"] and list(open_alerts(engine)) == [("rollout_rollback", "pilot/7")]
    decisions.clear()
    evaluator.run_round(engine, config(), now=MIDDAY + 120, sources=sources)
    assert open_alerts(engine) == {}


def test_a_snoozed_alert_sends_nothing_and_its_cause_coming_back_keeps_the_snooze(engine):
    add_kiosk(engine, "k1", created=MIDDAY - 86400, **healthy(MIDDAY, free_disk=10 * 1024**2))
    session_at(engine, "k1", MIDDAY + 2 * H)
    cfg = config(stale_after=24 * 60)
    evaluator.run_round(engine, cfg, now=MIDDAY)
    with db.write(engine) as conn:
        conn.execute(db.alerts.update().values(snoozed_until=MIDDAY + 4 * H, snoozed_by="ops", open_sent_at=None,
                                               delivery=None))
    with db.write(engine) as conn:
        conn.execute(db.devices.update().values(free_disk=20 * 1024**3))
    evaluator.run_round(engine, cfg, now=MIDDAY + H)  # resolved while snoozed
    with db.write(engine) as conn:
        conn.execute(db.devices.update().values(free_disk=10 * 1024**2))
    evaluator.run_round(engine, cfg, now=MIDDAY + 2 * H)  # back again: a new episode
    with db.read(engine) as conn:
        rows = conn.execute(sa.select(db.alerts).order_by(db.alerts.c.id)).all()
    assert len(rows) == 2 and rows[0].resolved_at and rows[1].resolved_at is None
    assert rows[1].snoozed_until == MIDDAY + 4 * H, "the cause came back during the snooze: still snoozed"
    assert rows[1].open_sent_at is None and rows[0].resolved_sent_at is None, "nothing sent while snoozed"
    evaluator.run_round(engine, cfg, now=MIDDAY + 5 * H)  # the snooze is over: its opening goes out once
    with db.read(engine) as conn:
        last = conn.execute(sa.select(db.alerts).order_by(db.alerts.c.id.desc())).first()
    assert last.open_sent_at == MIDDAY + 5 * H and json.loads(last.delivery)["note"] == "no channel configured"


def test_the_lease_lets_one_process_evaluate(engine, tmp_path):
    first, second = evaluator.Lease(engine), evaluator.Lease(engine)
    assert first.held() and not second.held()
    first.release()
    assert second.held()
    second.release()


def test_the_lease_on_postgresql():
    engine = db.make_engine(pg_databases.admin_url(), pool_size=2)
    try:
        first, second = evaluator.Lease(engine), evaluator.Lease(engine)
        assert first.held() and first.held() and not second.held(), "held by one connection, in any process"
        first.release()
        assert second.held()
        second.release()
    finally:
        engine.dispose()


@BOTH
def test_the_effect_of_a_fix_is_the_guides_resolution_before_and_after(engine):
    with db.write(engine) as conn:
        conn.execute(db.content_versions.insert().values(version=4, published_at=MIDDAY, published_by="t",
                                                         manifest_json="{}"))
        for v in (1, 2, 3):
            conn.execute(db.guide_versions.insert().values(guide_id="wifi", version=v, sha256="0" * 64, size=1,
                                                           document=b"{}", created_at=MIDDAY))
        conn.execute(db.content_guides.insert().values(content_version=4, guide_id="wifi", guide_version=3))
    rows = [(1, 10, 3), (2, 20, 8), (3, 30, 24)]  # (guide version, sessions, resolved)
    event(engine, "feedback", MIDDAY, guide="wifi", guide_version=2, comment="The password is wrong")
    for version, n, resolved in rows:
        for i in range(n):
            session = f"{version}-{i}"
            event(engine, "session_start", MIDDAY, session=session)
            event(engine, "step_view", MIDDAY + 1, session=session, guide="wifi", guide_version=version, step="s1")
            event(engine, "outcome", MIDDAY + 2, session=session, guide="wifi", guide_version=version, step="s1",
                  outcome="resolved" if i < resolved else "escalate")
    with db.write(engine) as conn:
        summary.rebuild(conn)  # what ingest keeps as events arrive, in one pass
    with db.read(engine) as conn:
        comment_id = conn.execute(sa.select(db.events.c.id).where(db.events.c.type == "feedback")).scalar()
    with pytest.raises(triage.TriageError, match="say what was done"):
        triage.set_state(engine, comment_id, "acted", "ops")
    triage.set_state(engine, comment_id, "acted", "ops", "Step 2 shows the new password", fix_version=4)
    with db.read(engine) as conn:
        (item,) = triage.you_said(conn)
    e = item.effect
    assert (e.guide_version, e.before_sessions, e.before_resolved, e.after_sessions, e.after_resolved) == (3, 30, 11,
                                                                                                          30, 24)
    assert e.text() == "resolved 37% of 30 sessions before v3, 80% of 30 sessions from v3 on: better"
    # The guide page's "Did it help?" reads the same summaries through the same reader: it agrees.
    with db.read(engine) as conn:
        older, newest = compare.compare_versions(conn, "wifi", 1, 2), compare.compare_versions(conn, "wifi", 2, 3)
    assert (newest.b.sessions, newest.b.resolved) == (e.after_sessions, e.after_resolved)
    assert (older.a.sessions + older.b.sessions, older.a.resolved + older.b.resolved) == (e.before_sessions,
                                                                                          e.before_resolved)


def test_config_check_names_what_is_wrong_with_the_alert_settings_and_never_the_password(tmp_path):
    from server.config import check

    (tmp_path / "server.toml").write_text('''
time_zone = "Mars/Olympus"
smtp_host = "smtp.example.org"
smtp_security = "ssl"
smtp_password = "hunter2-very-secret"
alert_to = "ops@example.org"
alert_no_result_factor = 0.5
webhook_url = "ftp://hooks.example.org/x"
''')
    findings = check(tmp_path)
    text = "\n".join(message for _, message in findings)
    errors = {message for level, message in findings if level == "error"}
    assert any("'time_zone': 'Mars/Olympus' is not an IANA time zone such as Europe/Paris" in m for m in errors), text
    assert "smtp_security 'ssl' must be starttls, tls or none" in errors
    assert "smtp_host is set but alert_from or alert_to is empty: no alert e-mail can be sent" in errors
    assert "smtp_user and smtp_password go together: set both or neither" in errors
    assert "alert_no_result_factor must be more than 1 (times the daily average)" in errors
    assert "webhook_url must start with https:// (or http:// on loopback)" in errors
    assert "hunter2" not in text


def test_the_dashboard_counts_days_and_hours_on_the_sites_clocks(engine):
    from datetime import date

    from server import stats

    late = datetime(2026, 12, 2, 23, 30, tzinfo=DUBAI).timestamp()  # 19:30 UTC on the 2nd
    after_midnight = datetime(2026, 12, 3, 2, 0, tzinfo=DUBAI).timestamp()  # 22:00 UTC on the 2nd
    session_at(engine, "k1", late)
    session_at(engine, "k1", after_midnight)
    with db.read(engine) as conn:
        dubai = stats.overview(conn, stats.Filters(start=date(2026, 12, 2), end=date(2026, 12, 3), zone=DUBAI))
        utc = stats.overview(conn, stats.Filters(start=date(2026, 12, 2), end=date(2026, 12, 3)))
    assert dubai.per_day == [(date(2026, 12, 2), 1), (date(2026, 12, 3), 1)]
    assert dubai.per_hour[23] == 1 and dubai.per_hour[2] == 1
    assert utc.per_day == [(date(2026, 12, 2), 2), (date(2026, 12, 3), 0)] and utc.per_hour[19] == 1


def test_a_dead_channel_holds_the_messages_for_the_next_round_and_costs_one_try(engine):
    from alert_receivers import webhook_receiver

    from devtools.procs import free_port

    for name in ("k1", "k2"):
        add_kiosk(engine, name, created=MIDDAY - 86400, **healthy(MIDDAY, free_disk=10 * 1024**2))
        session_at(engine, name, MIDDAY - 60)
    dead = config(webhook_url=f"http://127.0.0.1:{free_port()}/hook")  # nothing listens there
    done = evaluator.run_round(engine, dead, now=MIDDAY)
    assert len(done.opened) == 2 and len(done.sent) == 1, "one try, then the round stops sending"
    (results,) = done.sent.values()
    assert results["webhook"].startswith("failed: the webhook cannot be reached")
    with db.read(engine) as conn:
        assert conn.execute(sa.select(sa.func.count()).where(db.alerts.c.open_sent_at.is_(None))).scalar() == 2
    with webhook_receiver() as hook:
        done = evaluator.run_round(engine, config(webhook_url=hook.url), now=MIDDAY + 60)
        assert sorted(h["alert"]["subject"] for h in hook.received) == ["k1", "k2"]
        evaluator.run_round(engine, config(webhook_url=hook.url), now=MIDDAY + 120)
        assert len(hook.received) == 2, "sent once each, not again the next round"


def test_the_commands_set_opening_hours_run_a_round_and_list_what_is_open(tmp_path):
    from server_testkit import cli

    where = ("--data-dir", str(tmp_path), "--db", str(tmp_path / "server.db"))
    assert cli("device", "add", "gate-b12", "--location", "Terminal 2", *where)[0] == 0
    code, _, err = cli("group", "hours", "default", "mon-fry 08:00-20:00", *where)
    assert code == 2 and "'mon-fry' is not a range of days such as mon-fri" in err
    code, out, _ = cli("group", "hours", "default", "mon-fri 08:00-20:00; sat 09:00-18:00", *where)
    assert code == 0 and out.strip() == "Group 'default' is open mon-fri 08:00-20:00; sat 09:00-18:00 (UTC time)."
    assert "mon-fri 08:00-20:00; sat 09:00-18:00" in cli("group", "list", *where)[1]
    code, out, _ = cli("alerts", "run", *where)
    assert code == 0 and out.startswith("0 alert(s) opened, 0 resolved, 0 message(s) sent.")
    assert cli("alerts", "list", *where)[1].strip() == "No open alerts."
    code, out, _ = cli("alerts", "test", *where)
    assert code == 1 and out.startswith("No alert channel is configured")
