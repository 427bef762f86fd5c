"""Per-session summaries (tables session_summary and session_guides, server/db/migrations.py, migration 3).

Counting distinct sessions over a million raw events takes seconds; the dashboard's overview and
guide tables read one narrow row per session instead. A summary is never updated by increments:
`refresh` recomputes each touched session from all of its raw events, in the same transaction that
stored the new events, so events arriving late, twice or out of order still leave a summary that
equals what the raw events say.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
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


def refresh(conn: Connection, device: str, sessions: Iterable[str]) -> None:
    """Recompute the summaries of `device`'s `sessions` from their raw events."""
    ordered = sorted(set(sessions))
    for i in range(0, len(ordered), CHUNK):
        chunk = ordered[i:i + CHUNK]
        _lock(conn, device, chunk)
        mine = [ev.c.device == device, ev.c.session.in_(chunk)]
        conn.execute(sg.delete().where(sg.c.device == device, sg.c.session.in_(chunk)))
        conn.execute(ss.delete().where(ss.c.device == device, ss.c.session.in_(chunk)))
        conn.execute(ss.insert().from_select(SUMMARY_COLUMNS, _session_select(mine)))
        conn.execute(sg.insert().from_select(GUIDE_COLUMNS, _guide_select(mine)))


def rebuild(conn: Connection) -> None:
    """Summarise every session from scratch (migration, bulk loads)."""
    conn.execute(sg.delete())
    conn.execute(ss.delete())
    conn.execute(ss.insert().from_select(SUMMARY_COLUMNS, _session_select([])))
    conn.execute(sg.insert().from_select(GUIDE_COLUMNS, _guide_select([])))
