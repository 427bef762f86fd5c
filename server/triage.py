"""Feedback that is acted on: each comment's state (new -> read -> acted / no_action), who set it
and when, a note of what was done and the content version that carries the fix; and the measured
effect of that fix for "You said, we did".

The effect is the guide's resolution rate in the sessions before the fix (guide versions older than
the fix's) against the sessions on the fix's guide version and later, each with its number of
sessions and the comparison's verdict (better / worse / not enough sessions yet). Both sides are
read through server.compare.load_arm, the one reader of the comparison summaries, and judged by
compare.rate_figure, so "You said, we did" and the guide page's "Did it help?" cannot disagree.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from server import compare, db, stats

STATES = {"new": "new", "read": "read", "acted": "acted on", "no_action": "no action"}
ev, tr = db.events, db.feedback_triage
DEFAULT_EFFECTS = compare.Effects()  # the server setting's default; pages pass compare.Effects.of(config)


class TriageError(ValueError):
    """The change cannot be made; str() says why in one sentence."""


def set_state(engine: Engine, event_id: int, state: str, by: str, note: str | None = None,
              fix_version: int | None = None) -> None:
    if state not in STATES:
        raise TriageError(f"'{state}' is not a state: use {', '.join(STATES)}")
    note = (note or "").strip()[:2000] or None
    if state == "acted" and not note:
        raise TriageError("say what was done: a comment is marked acted on with a note")
    with db.write(engine) as conn:
        found = conn.execute(sa.select(ev.c.id).where(ev.c.id == event_id, ev.c.type == "feedback",
                                                      sa.func.coalesce(ev.c.comment, "") != "")).first()
        if found is None:
            raise TriageError("there is no comment with that id")
        if fix_version is not None and conn.execute(sa.select(db.content_versions.c.version).where(
                db.content_versions.c.version == fix_version)).first() is None:
            raise TriageError(f"there is no content version {fix_version}")
        values = {"state": state, "changed_by": by, "changed_at": time.time(), "note": note,
                  "fix_version": fix_version if state == "acted" else None}
        conn.execute(tr.delete().where(tr.c.event_id == event_id))
        conn.execute(tr.insert().values(event_id=event_id, **values))


def feedback_rows(conn: Connection, f: stats.Filters, *, state: str | None, limit: int,
                  offset: int) -> tuple[int, list[Any]]:
    """The feedback page's rows with each comment's triage (state None: a comment never triaged is new)."""
    q = stats.feedback_query(f).add_columns(ev.c.id, tr.c.state, tr.c.changed_by, tr.c.changed_at, tr.c.note,
                                            tr.c.fix_version)
    q = q.join_from(ev, tr, tr.c.event_id == ev.c.id, isouter=True)
    if state == "new":
        q = q.where(sa.func.coalesce(ev.c.comment, "") != "", sa.or_(tr.c.state.is_(None), tr.c.state == "new"))
    elif state:
        q = q.where(tr.c.state == state)
    total = conn.execute(sa.select(sa.func.count()).select_from(q.order_by(None).subquery())).scalar_one()
    return total, conn.execute(q.limit(limit).offset(offset)).all()


@dataclass
class Effect:
    """The guide's resolution rate before the fix and on the fix's version and later."""

    guide_version: int | None  # the guide's version in the fix's content version; None: not in it
    before_sessions: int = 0
    before_resolved: int = 0
    after_sessions: int = 0
    after_resolved: int = 0
    verdict: str | None = None  # compare's verdict on the resolution rate, after against before

    @staticmethod
    def _rate(resolved: int, sessions: int) -> float | None:
        return resolved / sessions if sessions else None

    @property
    def before(self) -> float | None:
        return self._rate(self.before_resolved, self.before_sessions)

    @property
    def after(self) -> float | None:
        return self._rate(self.after_resolved, self.after_sessions)

    def text(self) -> str:
        if self.guide_version is None:
            return "the fix's content version does not carry this guide"

        def part(rate, n):
            return f"{100 * rate:.0f}% of {n} sessions" if rate is not None else "no sessions yet"
        return (f"resolved {part(self.before, self.before_sessions)} before v{self.guide_version}, "
                f"{part(self.after, self.after_sessions)} from v{self.guide_version} on"
                + (f": {self.verdict}" if self.verdict else ""))


def effect(conn: Connection, guide: str | None, fix_version: int | None,
           effects: compare.Effects = DEFAULT_EFFECTS) -> Effect | None:
    if not guide or fix_version is None:
        return None
    cg = db.content_guides
    version = conn.execute(sa.select(cg.c.guide_version).where(cg.c.content_version == fix_version,
                                                                cg.c.guide_id == guide)).scalar()
    if version is None:
        return Effect(None)
    before = compare.load_arm(conn, guide, "before", before_version=version)
    after = compare.load_arm(conn, guide, "after", from_version=version)
    judged = compare.rate_figure("resolved", "Resolved", +1, before.resolved, before.sessions, after.resolved,
                                 after.sessions, effects.points / 100)
    return Effect(version, before.sessions, before.resolved, after.sessions, after.resolved, judged.verdict)


YOU_SAID_COLUMNS = ("comment_time", "guide", "guide_version", "comment", "rating", "what_we_did", "by", "done_at",
                    "fix_content_version", "fix_guide_version", "sessions_before", "resolved_before",
                    "sessions_after", "resolved_after", "verdict")


@dataclass
class YouSaid:
    row: Any
    effect: Effect | None

    @property
    def guide_unchanged(self) -> bool:
        """The fix's content version carries the very guide version the comment was made on (or an
        older one): the change was elsewhere, and the guide's rate cannot show its effect."""
        e, seen = self.effect, self.row.guide_version
        return bool(e and e.guide_version is not None and seen and e.guide_version <= seen)


def you_said(conn: Connection, limit: int = 500, effects: compare.Effects = DEFAULT_EFFECTS) -> list[YouSaid]:
    """Comments acted on, newest action first, with the effect of the change."""
    rows = conn.execute(
        sa.select(ev.c.id, ev.c.server_time, ev.c.guide, ev.c.guide_version, ev.c.comment, ev.c.rating,
                  tr.c.note, tr.c.changed_by, tr.c.changed_at, tr.c.fix_version)
        .join_from(ev, tr, tr.c.event_id == ev.c.id).where(tr.c.state == "acted")
        .order_by(tr.c.changed_at.desc(), ev.c.id.desc()).limit(limit)).all()
    effects_of: dict[tuple, Effect | None] = {}
    out = []
    for r in rows:
        key = (r.guide, r.fix_version)
        if key not in effects_of:
            effects_of[key] = effect(conn, r.guide, r.fix_version, effects)
        out.append(YouSaid(r, effects_of[key]))
    return out
