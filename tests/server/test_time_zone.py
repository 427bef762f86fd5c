"""Days are the site's days (server setting time_zone), not UTC's (issue 15). A site in Los Angeles:
a session at 23:30 there (07:30 UTC the next day) counts on its own day on the guide page's "Did it
help?", on "Where customers need a person", in `kiosk-server compare --groups --since`, and in the
feedback CSV, which writes the local time with its offset beside the UTC one. Below the server: the
day the clocks go back (25 hours) in the summaries, the people page's period and the Fleet
page's "Today"; and a changed time_zone moving the summaries to the new zone's days, except the
sessions whose raw events were pruned."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from server_testkit import copy_of, migrated_engine, prepare, start, stop

from contract.events import make_event
from server import compare, db, summary, throttle

LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The real server on loopback (SQLite), in Los Angeles time; kiosk-2 in the group 'pilot'."""
    prepared = prepare(tmp_path_factory.mktemp("template"), str(tmp_path_factory.mktemp("db") / "server.db"))
    for args in (("group", "add", "pilot"), ("group", "move", "kiosk-2", "pilot")):
        code, _out, err = prepared.cli(*args)
        assert code == 0, err
    with copy_of(prepared, tmp_path_factory.mktemp("la"), "la") as srv:
        srv.data_dir.mkdir(parents=True, exist_ok=True)
        (srv.data_dir / "server.toml").write_text('time_zone = "America/Los_Angeles"\nalert_interval = 0\n')
        start(srv, "--stale-after", "60")
        try:
            yield srv
        finally:
            stop(srv)
        assert "Traceback" not in srv.log.read_text(errors="replace")


def _session(device: str, at: float, end: str, comment: str | None = None) -> list[dict]:
    """A kiosk's session of the Wi-Fi guide starting at unix time `at`: it ends resolved (step
    'done') or asking for a person (step 'staff')."""
    session = uuid.uuid4().hex
    step = "done" if end == "resolved" else "staff"

    def ev(kind, t, **more):
        return make_event(kind, device=device, session=session, guide="wifi", guide_version=1, lang="en", now=t,
                          mono=t - at, **more)
    out = [ev("session_start", at), ev("step_view", at + 5, step="network"), ev("step_view", at + 20, step=step),
           ev("outcome", at + 21, step=step, data={"outcome": end})]
    if comment:
        out.append(ev("feedback", at + 30, step=step, data={"helped": end == "resolved", "rating": 2,
                                                            "comment": comment}))
    return out


def _local(day, hour: int, minute: int) -> float:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LA).timestamp()


def test_a_session_at_half_past_eleven_at_night_counts_on_that_day(site):
    day = datetime.now(LA).date() - timedelta(days=2)
    late = _local(day, 23, 30)  # 07:30 UTC on the next day
    assert datetime.fromtimestamp(late, UTC).date() == day + timedelta(days=1)
    events = {"kiosk-1": _session("kiosk-1", late, "escalate", comment="Nobody at the desk at night")
              + _session("kiosk-1", _local(day + timedelta(days=1), 0, 30), "resolved"),
              "kiosk-2": _session("kiosk-2", _local(day, 12, 0), "resolved")}
    for device, batch in events.items():
        with site.device(device) as c:
            r = c.post("/api/v1/events", json={"events": batch})
            assert r.status_code == 200 and not r.json()["rejected"], r.text

    period = {"start": day.isoformat(), "end": day.isoformat()}
    with site.staff() as staff:
        page = staff.get("/dashboard/guides/wifi", params={**period, "compare": "groups", "g1": "default",
                                                            "g2": "pilot"}).text
        figures = page.split('id="help-figures"')[1].split("</table>")[0]
        escalated = figures.split('data-key="escalated"')[1].split("</tr>")[0]
        assert "100.0% (1 of 1" in escalated and "0.0% (0 of 1" in escalated, escalated
        assert "whole days in America/Los_Angeles, UTC-0" in page

        people = staff.get("/dashboard/people", params=period).text
        assert "1 of 2 sessions with a guide were resolved" in people
        row = people.split('id="people-steps"')[1].split("</table>")[0]
        assert ">staff<" in row and "whole days in America/Los_Angeles" in row and "UTC days" not in row

        sheet = staff.get("/dashboard/feedback.csv", params=period)
        [line] = list(csv.DictReader(io.StringIO(sheet.text)))
        fleet = staff.get("/dashboard/fleet").text
    offset = datetime.fromtimestamp(late, LA).strftime("%z")
    assert line["comment"] == "Nobody at the desk at night"
    assert line["time"] == f"{day}T23:30:30{offset[:3]}:{offset[3:]}", "the site's time, with its offset"
    assert line["time_utc"] == datetime.fromtimestamp(late + 30, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert line["time_utc"].startswith(f"{day + timedelta(days=1)}T0"), "the next day in UTC"
    assert "Today (America/Los_Angeles, UTC-0" in fleet and "since midnight" in fleet

    code, out, err = site.cli("compare", "wifi", "--groups", "default", "pilot", "--since", day.isoformat(),
                              "--until", day.isoformat(), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert (result["a"]["sessions"], result["a"]["escalated"], result["b"]["sessions"]) == (1, 1, 1)
    code, out, err = site.cli("compare", "wifi", "--groups", "default", "pilot", "--since", day.isoformat(),
                              "--until", day.isoformat())
    assert "(America/Los_Angeles)" in out and "(UTC)" not in out


# --- below the server ------------------------------------------------------------------------------

# 1 November 2026: Los Angeles's clocks go back from 02:00 PDT to 01:00 PST, a day of 25 hours.
BACK = datetime(2026, 11, 1).date()


def _event(conn, kind: str, at: float, session: str, device: str = "k1", **cols) -> None:
    conn.execute(db.events.insert().values(uuid=uuid.uuid4().hex, device=device, session=session, channel="kiosk",
                                           type=kind, kiosk_time=at, server_time=at, received_at=at, data="{}",
                                           **cols))


def _store(conn, at: float, end: str) -> str:
    session = uuid.uuid4().hex
    step = "done" if end == "resolved" else "staff"
    _event(conn, "session_start", at, session)
    _event(conn, "step_view", at + 5, session, guide="wifi", guide_version=1, step=step)
    _event(conn, "outcome", at + 6, session, guide="wifi", guide_version=1, step=step, outcome=end)
    return session


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request, tmp_path):
    with migrated_engine(request.param, tmp_path, "time_zone") as engine:
        yield engine


def _days(engine) -> dict[str, int]:
    cs = db.comparison_summary
    with db.read(engine) as conn:
        return dict(conn.execute(sa.select(cs.c.day, sa.func.sum(cs.c.sessions)).where(cs.c.step == "")
                                 .group_by(cs.c.day)).all())


def test_the_day_the_clocks_go_back_and_a_changed_time_zone(engine):
    first = _local(BACK, 0, 30)  # 07:30 UTC, PDT
    last = _local(BACK, 23, 30)  # 07:30 UTC on 2 November, PST
    assert last - first == 24 * 3600, "23 hours of clock, 24 real hours: the day has 25"
    with db.write(engine) as conn:
        for at, end in ((first, "escalate"), (last, "resolved"), (_local(BACK, 12, 0), "resolved")):
            _store(conn, at, end)
        pruned = _store(conn, _local(BACK - timedelta(days=40), 23, 0), "resolved")  # 07:00 UTC the next day
        summary.rebuild(conn)
    assert _days(engine) == {"2026-09-23": 1, "2026-11-01": 2, "2026-11-02": 1}, "UTC days, as recorded"
    with db.write(engine) as conn:  # raw events older than raw_event_days are gone; the summaries stay
        conn.execute(db.events.delete().where(db.events.c.session == pruned))

    assert summary.follow_time_zone(engine, LA) == 1, "the 23:30 session moves back a day"
    assert summary.follow_time_zone(engine, LA) is None, "and once only"
    assert _days(engine) == {"2026-09-23": 1, "2026-11-01": 3}, "the pruned session keeps its day"
    with db.read(engine) as conn:
        arm = compare.load_arm(conn, "wifi", "all", since=BACK, until=BACK)
        need = compare.need_a_person(conn, BACK, BACK, 10.0, zone=LA)
        assert summary.days_zone(conn).key == "America/Los_Angeles"
    assert (arm.sessions, arm.resolved, arm.escalated) == (3, 2, 1)
    assert (need.sessions, need.self_served, need.escalations) == (3, 2, 1), "00:30 to 23:30, 25 hours"
    assert [(s.step, s.escalated) for s in need.steps] == [("staff", 1)]

    # Merged as it arrives from now on in the site's days: a session at 23:45 on the 2nd.
    with db.write(engine) as conn:
        session = _store(conn, _local(BACK + timedelta(days=1), 23, 45), "resolved")
        summary.refresh(conn, "k1", [session])
    assert _days(engine)["2026-11-02"] == 1

    # The Fleet page's "Today": limits reached since the site's midnight, 25 hours on that day.
    for at in (first - 3600, first + 60, last - 60):  # 23:30 the day before; 00:31 PDT; 23:29 PST
        throttle.record_hit(engine, throttle.STAFF_LOCKOUT, "test", now=at)
    with db.read(engine) as conn:
        assert throttle.hits_today(conn, LA, now=last)[throttle.STAFF_LOCKOUT] == 2
        assert throttle.hits_today(conn, UTC, now=last)[throttle.STAFF_LOCKOUT] == 1, "UTC's day began at 16:00"
