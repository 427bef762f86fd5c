"""Summaries the dashboard reads instead of raw events: per session (tables session_summary and
session_guides, migration 3) and for comparisons, per (day, guide, version, group, step)
(comparison_summary, migration 14). This module is the one owner of summarising; ingest calls
`refresh` in the transaction that stored a batch.

Counting distinct sessions over a million raw events takes seconds; the dashboard's overview and
guide tables read one narrow row per session instead. A summary is never updated by increments:
`refresh` recomputes each touched session from all of its raw events, in the same transaction that
stored the new events, so events arriving late, twice or out of order still leave a summary that
equals what the raw events say.

Comparison summaries are kept for ever (raw events may be pruned, issue 16), so they are merged,
never recomputed: for each touched session `refresh` works out the session's share of the
summaries before this batch (its stored events without the new ones) and after it (with them), and
adds the difference. A late session, a late event of a known session, or a batch sent twice (the
duplicates are not new, so nothing changes) all leave the totals equal to counting every session
once. A session's group is the kiosk's group when the session was first summarised (session_rollout).

A session's day is the site's date (server setting time_zone) when its session_start reached the
server (else its first event's): the date on the site's clocks, so a session at 23:30 counts on
the day staff saw it, and a day the clocks change is the 23 or 25 hours it really was. The zone the
rows are in is recorded (settings "summary-time-zone"; migration 16 records UTC, which is what
the rows held before). When an operator changes time_zone, the server, as it starts, moves each
session whose raw events it still holds from its old day to its new one (`follow_time_zone`);
sessions whose raw events were pruned keep the day they had. The rows are kept per local day
rather than per UTC hour and folded at read time because a day per row is what the design asks
for and keeps the comparison pages as fast as they were, and an hour would not even fold into the
days of a zone such as Asia/Kolkata or Asia/Kathmandu (UTC+05:30, +05:45); a zone change is rare,
and what it cannot move (pruned sessions near midnight) is at most the hours between the two zones
at the edge of days older than raw_event_days.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from server import db

ev = db.events
ss = db.session_summary
sg = db.session_guides
CHUNK = 500


def _flag(cond) -> sa.ColumnElement:
    return sa.func.max(sa.case((cond, 1), else_=0))


def _session_select(where) -> sa.Select:
    any_outcome = _flag(ev.c.type == "outcome")
    timed_out_on_step = _flag(sa.and_(ev.c.type == "idle_timeout", ev.c.step.is_not(None)))
    start_time = sa.func.min(sa.case((ev.c.type == "session_start", ev.c.server_time)))
    start_lang = sa.func.min(sa.case((ev.c.type == "session_start", ev.c.lang)))
    return (sa.select(
        ev.c.device, ev.c.session,
        sa.func.coalesce(start_time, sa.func.min(ev.c.server_time)),
        sa.func.coalesce(start_lang, sa.func.min(ev.c.lang)),
        _flag(ev.c.type == "session_start"),
        sa.func.count(sa.distinct(sa.case((ev.c.type == "step_view", ev.c.guide)))),
        _flag(sa.and_(ev.c.type == "outcome", ev.c.outcome == "resolved")),
        _flag(sa.and_(ev.c.type == "outcome", ev.c.outcome == "escalate")),
        sa.case((sa.and_(any_outcome == 0, timed_out_on_step == 1), 1), else_=0),
        _flag(sa.and_(ev.c.type == "idle_timeout", ev.c.step.is_(None))),
        sa.func.coalesce(sa.func.sum(sa.case((ev.c.type == "feedback", ev.c.rating))), 0),
        sa.func.count(sa.case((ev.c.type == "feedback", ev.c.rating))),
        sa.func.sum(sa.case((ev.c.type == "handoff_shown", 1), else_=0)),
        _flag(ev.c.type == "handoff_opened"),
    ).where(*where).group_by(ev.c.device, ev.c.session))


def _guide_select(where) -> sa.Select:
    return (sa.select(
        ev.c.device, ev.c.session, ev.c.guide, ev.c.guide_version, ss.c.started_at, ss.c.lang,
        _flag(sa.and_(ev.c.type == "outcome", ev.c.outcome == "resolved")),
        _flag(sa.and_(ev.c.type == "outcome", ev.c.outcome == "escalate")),
        sa.func.coalesce(sa.func.sum(sa.case((ev.c.type == "feedback", ev.c.rating))), 0),
        sa.func.count(sa.case((ev.c.type == "feedback", ev.c.rating))),
    ).select_from(ev.join(ss, sa.and_(ss.c.device == ev.c.device, ss.c.session == ev.c.session)))
        .where(ev.c.guide.is_not(None), ev.c.guide_version.is_not(None), *where)
        .group_by(ev.c.device, ev.c.session, ev.c.guide, ev.c.guide_version, ss.c.started_at, ss.c.lang)
        # a guide counts for a session once it showed one of its steps
        .having(_flag(ev.c.type == "step_view") == 1))


SUMMARY_COLUMNS = [c.name for c in ss.columns]
GUIDE_COLUMNS = [c.name for c in sg.columns]


def _lock(conn: Connection, device: str, sessions: list[str]) -> None:
    """On PostgreSQL two transactions could each recompute a session without seeing the other's
    new events; a per-session advisory lock (taken in sorted order: no deadlock) makes the second
    wait and then recompute from both. SQLite's single writer already serialises this."""
    if conn.dialect.name == "postgresql":
        for session in sessions:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 7))"),
                         {"k": f"session-summary|{device}|{session}"})


def refresh(conn: Connection, device: str, sessions: Iterable[str], new: set[str] | None = None) -> None:
    """Recompute the per-session summaries of `device`'s `sessions` from their raw events, and merge
    the change the events with uuids in `new` (just stored; None: all of them) make to the
    comparison summaries."""
    ordered = sorted(set(sessions))
    deltas: dict[Key, dict[str, int]] = {}
    zone = days_zone(conn, share=True)  # and a re-zoning waits for this transaction, or it for one
    for i in range(0, len(ordered), CHUNK):
        chunk = ordered[i:i + CHUNK]
        _lock(conn, device, chunk)
        _merge_comparisons(conn, device, chunk, new, deltas, zone)
        mine = [ev.c.device == device, ev.c.session.in_(chunk)]
        conn.execute(sg.delete().where(sg.c.device == device, sg.c.session.in_(chunk)))
        conn.execute(ss.delete().where(ss.c.device == device, ss.c.session.in_(chunk)))
        conn.execute(ss.insert().from_select(SUMMARY_COLUMNS, _session_select(mine)))
        conn.execute(sg.insert().from_select(GUIDE_COLUMNS, _guide_select(mine)))
    _upsert_add(conn, deltas)  # once, in key order (see _upsert_add)


def rebuild(conn: Connection, comparisons: bool = True) -> None:
    """Summarise every session from scratch (migrations, bulk loads). Migration 3 runs before the
    comparison tables exist, so it passes comparisons=False."""
    if comparisons:
        rebuild_comparisons(conn)
    conn.execute(sg.delete())
    conn.execute(ss.delete())
    conn.execute(ss.insert().from_select(SUMMARY_COLUMNS, _session_select([])))
    conn.execute(sg.insert().from_select(GUIDE_COLUMNS, _guide_select([])))


# --- comparison summaries ------------------------------------------------------------------------

cs = db.comparison_summary
sr = db.session_rollout
COUNTS = ("sessions", "resolved", "escalated", "walked_away", "handoffs", "rating_sum", "ratings",
          "rating_squares", "views")
WHOLE_GUIDE = ""  # the step of a guide-version row
Key = tuple[str, str, int, str, str]  # (day, guide, guide_version, rollout_group, step)
_EVENT_COLUMNS = (ev.c.uuid, ev.c.session, ev.c.type, ev.c.guide, ev.c.guide_version, ev.c.step, ev.c.outcome,
                  ev.c.rating, ev.c.server_time)


ZONE_KEY = "summary-time-zone"
log = logging.getLogger("kiosk-server.summary")


def local_day(t: float, zone: tzinfo) -> str:
    """The date on the site's clocks at unix time t, as the summaries' `day` holds it."""
    return datetime.fromtimestamp(t, zone).strftime("%Y-%m-%d")


def days_zone(conn: Connection, *, share: bool = False, update: bool = False) -> ZoneInfo:
    """The zone whose dates comparison_summary's days are (UTC where none is recorded: the rows
    were UTC days before migration 16). On PostgreSQL `share` (every merge) and `update` (a
    re-zoning) first take a transaction advisory lock, shared or exclusive, so no merge uses a zone
    that is being replaced; an advisory lock rather than FOR SHARE on the settings row, which would
    make every concurrent ingest transaction write to that one row. SQLite's single writer already
    serialises them."""
    if (share or update) and conn.dialect.name == "postgresql":
        fn = "pg_advisory_xact_lock" if update else "pg_advisory_xact_lock_shared"
        conn.execute(sa.text(f"SELECT {fn}(hashtextextended(:k, 7))"), {"k": ZONE_KEY})
    name = conn.execute(sa.select(db.settings.c.value).where(db.settings.c.key == ZONE_KEY)).scalar()
    return ZoneInfo(name or "UTC")


def session_share(events: list, group: str, zone: tzinfo = UTC) -> dict[Key, dict[str, int]]:
    """One session's share of comparison_summary, from its events (rows with the columns of
    _EVENT_COLUMNS). The rules are the session summaries': a guide version counts for the session
    once it showed one of its steps; a walk-away is an idle timeout on a step in a session that
    reached no outcome at all, counted on the guide, version and step it fired on; an escalation
    is also counted on the step that reached it."""
    if not events:
        return {}
    starts = [e.server_time for e in events if e.type == "session_start"]
    day = local_day(min(starts) if starts else min(e.server_time for e in events), zone)
    seen: dict[tuple[str, int], set[str]] = defaultdict(set)
    for e in events:
        if e.type == "step_view" and e.guide is not None and e.guide_version is not None:
            steps = seen[(e.guide, e.guide_version)]
            if e.step:
                steps.add(e.step)
    no_outcome = not any(e.type == "outcome" for e in events)
    out: dict[Key, dict[str, int]] = {}
    for (guide, version), steps in seen.items():
        mine = [e for e in events if e.guide == guide and e.guide_version == version]
        ratings = [e.rating for e in mine if e.type == "feedback" and e.rating is not None]
        walked = {e.step for e in mine if e.type == "idle_timeout" and e.step is not None} if no_outcome else set()
        out[(day, guide, version, group, WHOLE_GUIDE)] = {
            "sessions": 1,
            "resolved": int(any(e.type == "outcome" and e.outcome == "resolved" for e in mine)),
            "escalated": int(any(e.type == "outcome" and e.outcome == "escalate" for e in mine)),
            "walked_away": int(bool(walked)),
            "handoffs": int(any(e.type == "handoff_shown" for e in mine)),
            "rating_sum": sum(ratings), "ratings": len(ratings), "rating_squares": sum(r * r for r in ratings),
        }
        escalated_at = {e.step for e in mine if e.type == "outcome" and e.outcome == "escalate" and e.step}
        for step in steps | walked | escalated_at:
            out[(day, guide, version, group, step)] = {"views": int(step in steps), "walked_away": int(step in walked),
                                                       "escalated": int(step in escalated_at)}
    return out


def _add(total: dict[Key, dict[str, int]], share: dict[Key, dict[str, int]], sign: int) -> None:
    for key, counts in share.items():
        row = total.setdefault(key, dict.fromkeys(COUNTS, 0))
        for name, n in counts.items():
            row[name] += sign * n


def _upsert_add(conn: Connection, deltas: dict[Key, dict[str, int]]) -> None:
    """Add each delta to its row (made when missing), in key order: two PostgreSQL transactions
    updating the same rows take their row locks in the same order, so they cannot deadlock."""
    rows = [dict(zip(("day", "guide", "guide_version", "rollout_group", "step"), key, strict=True), **counts)
            for key, counts in sorted(deltas.items()) if any(counts.values())]
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(cs)
    stmt = stmt.on_conflict_do_update(index_elements=[c.name for c in cs.primary_key],
                                      set_={n: cs.c[n] + stmt.excluded[n] for n in COUNTS})
    conn.execute(stmt, rows)


def _groups_of(conn: Connection, device: str, sessions: list[str]) -> dict[str, str]:
    """Each session's group: where it was first merged, else (a new session) the kiosk's group now,
    which is then recorded."""
    known = dict(conn.execute(sa.select(sr.c.session, sr.c.rollout_group)
                              .where(sr.c.device == device, sr.c.session.in_(sessions))).all())
    fresh = [s for s in sessions if s not in known]
    if fresh:
        group = conn.execute(sa.select(db.devices.c.rollout_group).where(db.devices.c.name == device)).scalar() \
            or db.DEFAULT_GROUP
        conn.execute(sr.insert(), [{"device": device, "session": s, "rollout_group": group} for s in fresh])
        known.update(dict.fromkeys(fresh, group))
    return known


def _merge_comparisons(conn: Connection, device: str, sessions: list[str], new: set[str] | None,
                       deltas: dict[Key, dict[str, int]], zone: tzinfo) -> None:
    """Add to `deltas` what the new events change in these sessions' shares."""
    groups = _groups_of(conn, device, sessions)
    by_session: dict[str, list] = defaultdict(list)
    for e in conn.execute(sa.select(*_EVENT_COLUMNS).where(ev.c.device == device, ev.c.session.in_(sessions))):
        by_session[e.session].append(e)
    for session, events in by_session.items():
        before = [e for e in events if new is not None and e.uuid not in new]
        _add(deltas, session_share(events, groups[session], zone), +1)
        _add(deltas, session_share(before, groups[session], zone), -1)


def _stored_sessions(conn: Connection, merged: bool = False):
    """Every session's raw events, (device, session, events), one session at a time; `merged`: only
    the sessions in session_rollout, each event row with its session's rollout_group."""
    current: tuple[str, str] | None = None
    events: list = []
    q = sa.select(ev.c.device, *_EVENT_COLUMNS)
    if merged:
        q = q.add_columns(sr.c.rollout_group).join_from(ev, sr, sa.and_(sr.c.device == ev.c.device,
                                                                         sr.c.session == ev.c.session))
    rows = conn.execute(q.order_by(ev.c.device, ev.c.session).execution_options(yield_per=20_000))
    for e in rows:
        if (e.device, e.session) != current:
            if current is not None:
                yield (*current, events)
            current, events = (e.device, e.session), []
        events.append(e)
    if current is not None:
        yield (*current, events)


def _upsert_all(conn: Connection, totals: dict[Key, dict[str, int]]) -> None:
    keys = sorted(totals)
    for i in range(0, len(keys), 5000):
        _upsert_add(conn, {k: totals[k] for k in keys[i:i + 5000]})


def rebuild_comparisons(conn: Connection) -> None:
    """comparison_summary and session_rollout from every stored event (the migration that adds them,
    bulk loads); each session in its kiosk's current group, on its day in the recorded zone."""
    conn.execute(cs.delete())
    conn.execute(sr.delete())
    zone = days_zone(conn)
    group_of = dict(conn.execute(sa.select(db.devices.c.name, db.devices.c.rollout_group)).all())
    totals: dict[Key, dict[str, int]] = {}
    ledger: list[dict[str, str]] = []
    for device, session, events in _stored_sessions(conn):
        group = group_of.get(device) or db.DEFAULT_GROUP
        ledger.append({"device": device, "session": session, "rollout_group": group})
        _add(totals, session_share(events, group, zone), +1)
    for i in range(0, len(ledger), 5000):
        conn.execute(sr.insert(), ledger[i:i + 5000])
    _upsert_all(conn, totals)


def follow_time_zone(engine, zone: ZoneInfo) -> int | None:
    """Put comparison_summary's days in `zone` (the server setting time_zone) if they are in another:
    each session whose raw events are still stored moves from its day in the old zone to its day in
    the new one (a difference merged like any other, so sessions whose events were pruned keep
    their rows as they are). In one transaction, and once however many server processes start
    together. Returns the number of sessions that changed day (None: the zone was already right)."""
    with db.write(engine) as conn:
        old = days_zone(conn, update=True)
        if old.key == zone.key:
            return None
        deltas: dict[Key, dict[str, int]] = {}
        moved = 0
        for _device, _session, events in _stored_sessions(conn, merged=True):
            group = events[0].rollout_group  # where it was merged (a session never merged has no rows)
            before, after = session_share(events, group, old), session_share(events, group, zone)
            if before.keys() != after.keys():
                moved += 1
                _add(deltas, after, +1)
                _add(deltas, before, -1)
        _upsert_all(conn, deltas)
        conn.execute(cs.delete().where(*[cs.c[n] == 0 for n in COUNTS]))  # the rows every session left
        conn.execute(db.settings.delete().where(db.settings.c.key == ZONE_KEY))
        conn.execute(db.settings.insert().values(key=ZONE_KEY, value=zone.key))
    log.warning("comparison summaries moved from %s days to %s days: %d sessions changed day", old.key, zone.key,
                moved)
    return moved
