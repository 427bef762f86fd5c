"""Did it help? One guide compared between two arms, read from comparison_summary (server.summary):
two guide versions (`kiosk-server compare GUIDE A B`), or during a rollout two rollout groups over
the same days (`--groups G1 G2 --since DATE`).

Each figure gets both arms' values with 95% intervals (Wilson for rates, t for the mean rating),
the difference with its interval (Newcombe for rates, Welch for the rating) and a plain verdict:
- "better" / "worse": the difference's interval leaves out zero (for phone handoffs, which are
  neither good nor bad, "more" / "fewer");
- "not enough sessions yet": it does not, and either arm has fewer sessions than it takes to see a
  change of the effect size (server setting compare_effect_points, default 5 points; ratings
  compare_effect_stars) with 80% power; `more_needed` says how many more the smaller arm needs;
- "no clear difference": it does not although both arms have that many.
Per-step walk-aways are many comparisons at once, so their p-values are Holm-adjusted before the
verdict (a step is better or worse only when its adjusted p-value is under 0.05).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from server import db, intervals
from server.summary import WHOLE_GUIDE

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE
BETTER, WORSE, NOT_ENOUGH, SAME, MORE, FEWER = (
    "better", "worse", "not enough sessions yet", "no clear difference", "more", "fewer")
cs = db.comparison_summary


@dataclass
class Arm:
    label: str
    sessions: int = 0
    resolved: int = 0
    escalated: int = 0
    walked_away: int = 0
    handoffs: int = 0
    rating_sum: int = 0
    ratings: int = 0
    rating_squares: int = 0
    steps: dict[str, tuple[int, int]] = field(default_factory=dict)  # step -> (views, walk-aways)


@dataclass
class Figure:
    key: str
    name: str
    a: float | None  # the rate (0-1) or mean rating of each arm
    b: float | None
    a_interval: tuple[float, float] | None
    b_interval: tuple[float, float] | None
    difference: float | None  # b - a
    difference_interval: tuple[float, float] | None
    p_value: float | None
    verdict: str
    more_needed: int | None  # sessions the smaller arm still needs, when "not enough sessions yet"
    a_count: int = 0  # what the rate counts, and out of how many
    b_count: int = 0
    a_of: int = 0
    b_of: int = 0

    @property
    def sentence(self) -> str:
        return sentence(self)


@dataclass
class Comparison:
    guide: str
    kind: str  # versions | groups
    a: Arm
    b: Arm
    figures: list[Figure]
    steps: list[Figure]
    since: str | None = None  # the site's days (server setting time_zone), as the summaries keep them
    until: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for part in ("figures", "steps"):
            for figure, obj in zip(out[part], getattr(self, part), strict=True):
                figure["sentence"] = obj.sentence
        return out


@dataclass(frozen=True)
class Effects:
    points: float = 5.0  # percentage points
    stars: float = 0.25

    @classmethod
    def of(cls, config) -> Effects:
        return cls(config.compare_effect_points, config.compare_effect_stars)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def sentence(f: Figure) -> str:
    """The figure's verdict in plain words."""
    if f.a is None or f.b is None:
        return f"{f.name}: not enough sessions yet (one side has none)."
    show = (lambda x: f"{x:.2f} stars") if f.key == "rating" else _pct
    values = f"{show(f.b)} against {show(f.a)}"
    if f.verdict in (BETTER, WORSE, MORE, FEWER):
        return f"{f.name}: {f.verdict} ({values})."
    if f.verdict == NOT_ENOUGH:
        return f"{f.name}: not enough sessions yet ({values}); about {f.more_needed} more sessions are needed on the smaller side."
    return f"{f.name}: no clear difference ({values})."


def _verdict(direction: int, up: bool | None, have: int, needed: int) -> tuple[str, int | None]:
    """`up`: the difference is clearly above zero (True), below (False), or not clear (None)."""
    if up is not None:
        if direction == 0:
            return (MORE if up else FEWER), None
        return (BETTER if up == (direction > 0) else WORSE), None
    if have < needed:
        return NOT_ENOUGH, needed - have
    return SAME, None


def _clear(interval: tuple[float, float] | None) -> bool | None:
    if interval is None or interval[0] <= 0 <= interval[1]:
        return None
    return interval[0] > 0


def rate_figure(key: str, name: str, direction: int, k1: int, n1: int, k2: int, n2: int, effect: float,
                adjusted_p: float | None = None) -> Figure:
    """`direction`: +1 when a higher rate is better, -1 when lower is, 0 when neither. With
    `adjusted_p` (Holm) the difference is clear when that p-value is under ALPHA, not by its interval."""
    interval = intervals.newcombe(k1, n1, k2, n2, CONFIDENCE)
    if not (n1 and n2):
        return Figure(key, name, k1 / n1 if n1 else None, k2 / n2 if n2 else None,
                      intervals.wilson(k1, n1, CONFIDENCE), intervals.wilson(k2, n2, CONFIDENCE), None, None, None,
                      NOT_ENOUGH, intervals.sessions_needed((k1 + k2) / max(1, n1 + n2), effect) - min(n1, n2),
                      k1, k2, n1, n2)
    d = k2 / n2 - k1 / n1
    if adjusted_p is None:
        p, up = intervals.two_proportion_p(k1, n1, k2, n2), _clear(interval)
    else:
        p, up = adjusted_p, (d > 0 if adjusted_p < ALPHA and d != 0 else None)
    needed = intervals.sessions_needed((k1 + k2) / (n1 + n2), effect)
    verdict, more = _verdict(direction, up, min(n1, n2), needed)
    return Figure(key, name, k1 / n1, k2 / n2, intervals.wilson(k1, n1, CONFIDENCE),
                  intervals.wilson(k2, n2, CONFIDENCE), d, interval, p, verdict, more, k1, k2, n1, n2)


def rating_figure(a: Arm, b: Arm, effect: float) -> Figure:
    m1, s1 = intervals.mean_and_sd(a.rating_sum, a.rating_squares, a.ratings)
    m2, s2 = intervals.mean_and_sd(b.rating_sum, b.rating_squares, b.ratings)
    name = "Average rating"
    sd = max([s for s in (s1, s2) if s is not None] or [1.0]) or 1.0
    needed = intervals.mean_sessions_needed(sd, effect)
    fig = Figure("rating", name, m1, m2,
                 intervals.mean_interval(m1, s1, a.ratings) if m1 is not None else None,
                 intervals.mean_interval(m2, s2, b.ratings) if m2 is not None else None,
                 None, None, None, NOT_ENOUGH, max(0, needed - min(a.ratings, b.ratings)),
                 a.rating_sum, b.rating_sum, a.ratings, b.ratings)
    test = intervals.welch(m1, s1, a.ratings, m2, s2, b.ratings) if m1 is not None and m2 is not None and \
        s1 is not None and s2 is not None else None
    if test is not None:
        fig.difference = m2 - m1
        fig.difference_interval, fig.p_value = test
        fig.verdict, fig.more_needed = _verdict(+1, _clear(test[0]), min(a.ratings, b.ratings), needed)
    return fig


def figures(a: Arm, b: Arm, effects: Effects) -> tuple[list[Figure], list[Figure]]:
    e = effects.points / 100
    main = [
        rate_figure("resolved", "Resolved", +1, a.resolved, a.sessions, b.resolved, b.sessions, e),
        rate_figure("escalated", "Asked for a person", -1, a.escalated, a.sessions, b.escalated, b.sessions, e),
        rate_figure("walked_away", "Walked away", -1, a.walked_away, a.sessions, b.walked_away, b.sessions, e),
        rate_figure("handoffs", "Took it to their phone", 0, a.handoffs, a.sessions, b.handoffs, b.sessions, e),
        rating_figure(a, b, effects.stars),
    ]
    names = sorted(set(a.steps) | set(b.steps))
    raw = []
    for step in names:
        (v1, w1), (v2, w2) = a.steps.get(step, (0, 0)), b.steps.get(step, (0, 0))
        raw.append(intervals.two_proportion_p(w1, v1, w2, v2) if v1 and v2 else 1.0)
    adjusted = intervals.holm(raw)
    steps = []
    for step, p in zip(names, adjusted, strict=True):
        (v1, w1), (v2, w2) = a.steps.get(step, (0, 0)), b.steps.get(step, (0, 0))
        steps.append(rate_figure(f"step:{step}", f"Walked away at step '{step}'", -1, w1, v1, w2, v2, e, adjusted_p=p))
    return main, steps


def load_arm(conn: Connection, guide: str, label: str, *, version: int | None = None, group: str | None = None,
             since: date | None = None, until: date | None = None, from_version: int | None = None,
             before_version: int | None = None) -> Arm:
    """The one reader of the comparison summaries for an arm: the guide's sessions on `version` (or
    on versions from_version and later, or before before_version), in `group`, on the site's days
    since..until. Every page that says how a guide did reads its figures here."""
    where = [cs.c.guide == guide]
    if version is not None:
        where.append(cs.c.guide_version == version)
    if from_version is not None:
        where.append(cs.c.guide_version >= from_version)
    if before_version is not None:
        where.append(cs.c.guide_version < before_version)
    if group is not None:
        where.append(cs.c.rollout_group == group)
    if since is not None:
        where.append(cs.c.day >= since.isoformat())
    if until is not None:
        where.append(cs.c.day <= until.isoformat())
    arm = Arm(label)
    totals = conn.execute(sa.select(*[sa.func.coalesce(sa.func.sum(cs.c[n]), 0) for n in (
        "sessions", "resolved", "escalated", "walked_away", "handoffs", "rating_sum", "ratings", "rating_squares")])
        .where(*where, cs.c.step == WHOLE_GUIDE)).one()
    (arm.sessions, arm.resolved, arm.escalated, arm.walked_away, arm.handoffs, arm.rating_sum, arm.ratings,
     arm.rating_squares) = (int(v) for v in totals)
    for step, views, walked in conn.execute(
            sa.select(cs.c.step, sa.func.sum(cs.c.views), sa.func.sum(cs.c.walked_away))
            .where(*where, cs.c.step != WHOLE_GUIDE).group_by(cs.c.step)):
        arm.steps[step] = (int(views or 0), int(walked or 0))
    return arm


def compare_versions(conn: Connection, guide: str, a: int, b: int, effects: Effects = Effects(),
                     since: date | None = None, until: date | None = None) -> Comparison:
    arm_a = load_arm(conn, guide, f"version {a}", version=a, since=since, until=until)
    arm_b = load_arm(conn, guide, f"version {b}", version=b, since=since, until=until)
    main, steps = figures(arm_a, arm_b, effects)
    return Comparison(guide, "versions", arm_a, arm_b, main, steps,
                      since.isoformat() if since else None, until.isoformat() if until else None)


def compare_groups(conn: Connection, guide: str, g1: str, g2: str, since: date, until: date | None = None,
                   effects: Effects = Effects()) -> Comparison:
    """Group g2 (the one trying a change) against g1 over the same days."""
    arm_a = load_arm(conn, guide, f"group {g1}", group=g1, since=since, until=until)
    arm_b = load_arm(conn, guide, f"group {g2}", group=g2, since=since, until=until)
    main, steps = figures(arm_a, arm_b, effects)
    return Comparison(guide, "groups", arm_a, arm_b, main, steps, since.isoformat(),
                      until.isoformat() if until else None)


def guide_versions_seen(conn: Connection, guide: str) -> list[int]:
    return list(conn.execute(sa.select(cs.c.guide_version).where(cs.c.guide == guide).distinct()
                             .order_by(cs.c.guide_version)).scalars())


def groups_seen(conn: Connection, guide: str) -> list[str]:
    return list(conn.execute(sa.select(cs.c.rollout_group).where(cs.c.guide == guide).distinct()
                             .order_by(cs.c.rollout_group)).scalars())


def text_report(c: Comparison, zone_name: str = "UTC") -> str:
    """`zone_name`: the site's time zone, whose days the period's dates are."""
    lines = [f"Guide '{c.guide}': {c.b.label} ({c.b.sessions} sessions) against {c.a.label} "
             f"({c.a.sessions} sessions)" + (f", days {c.since} to {c.until or 'today'} ({zone_name})" if c.since else "")]
    for f in c.figures:
        lines.append("  " + f.sentence + _ci(f))
    if c.steps:
        lines.append(f"Per step where anyone walked away (Holm-corrected over all {len(c.steps)} steps):")
        for f in c.steps:
            if f.a_count or f.b_count:
                lines.append("  " + f.sentence)
    return "\n".join(lines)


def _ci(f: Figure) -> str:
    if f.difference_interval is None:
        return ""
    lo, hi = f.difference_interval
    if f.key == "rating":
        return f" Difference {f.difference:+.2f} stars (95% interval {lo:+.2f} to {hi:+.2f})."
    return f" Difference {100 * f.difference:+.1f} points (95% interval {100 * lo:+.1f} to {100 * hi:+.1f})."


def finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


# --- where customers need a person ---------------------------------------------------------------

@dataclass
class PersonStep:
    guide: str
    step: str
    views: int
    escalated: int  # sessions that reached an "ask a person" outcome at this step
    walked_away: int  # sessions whose idle timeout fired here, with no outcome

    @property
    def lost(self) -> int:
        return self.escalated + self.walked_away


@dataclass
class NeedAPerson:
    start: date
    end: date
    sessions: int  # sessions that opened a guide
    self_served: int  # of those: resolved, and no person asked for
    escalations: int
    minutes_per_escalation: float
    steps: list[PersonStep]

    @property
    def weeks(self) -> float:
        return ((self.end - self.start).days + 1) / 7

    @property
    def self_service_rate(self) -> float | None:
        return self.self_served / self.sessions if self.sessions else None

    @property
    def staff_hours_per_week(self) -> float:
        return self.escalations * self.minutes_per_escalation / 60 / self.weeks

    def step_hours_per_week(self, step: PersonStep) -> float:
        return step.escalated * self.minutes_per_escalation / 60 / self.weeks


def need_a_person(conn: Connection, start: date, end: date, minutes_per_escalation: float,
                  limit: int = 25, zone: tzinfo = UTC) -> NeedAPerson:
    """Across all guides and versions, days start..end (the site's days, in `zone`): the steps where most sessions ended
    with a person asked for or walked away, the staff time escalations cost per week, and the
    self-service rate (sessions with a guide that were resolved and asked for nobody, from the
    per-session summaries)."""
    days = [cs.c.day >= start.isoformat(), cs.c.day <= end.isoformat()]
    lost = sa.func.sum(cs.c.escalated) + sa.func.sum(cs.c.walked_away)
    steps = [PersonStep(r.guide, r.step, int(r.views or 0), int(r.escalated or 0), int(r.walked_away or 0))
             for r in conn.execute(
                 sa.select(cs.c.guide, cs.c.step, sa.func.sum(cs.c.views).label("views"),
                           sa.func.sum(cs.c.escalated).label("escalated"),
                           sa.func.sum(cs.c.walked_away).label("walked_away"))
                 .where(*days, cs.c.step != WHOLE_GUIDE).group_by(cs.c.guide, cs.c.step)
                 .having(lost > 0).order_by(lost.desc(), cs.c.guide, cs.c.step).limit(limit))]
    ss = db.session_summary
    t0, t1 = midnight(start, zone), midnight(end + timedelta(days=1), zone)  # a clock-change day is 23 or 25 h
    row = conn.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(
        sa.case((sa.and_(ss.c.resolved == 1, ss.c.escalated == 0), 1), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(ss.c.escalated), 0))
        .where(ss.c.started_at >= t0, ss.c.started_at < t1, ss.c.guides > 0)).one()
    return NeedAPerson(start, end, int(row[0]), int(row[1]), int(row[2]), minutes_per_escalation, steps)


def midnight(d: date, zone: tzinfo) -> float:
    """Unix time of the start of day d on the site's clocks."""
    return datetime(d.year, d.month, d.day, tzinfo=zone).timestamp()
