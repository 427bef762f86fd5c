"""The rollout guard: a staged content version that is worse, with confidence, on walk-aways or
escalations than what the other groups have over the same days is rolled back for its group.

It decides once per (group, staged version), at a fixed minimum: both sides have at least
`min_sessions` sessions of the guides the stage changed, and the stage is `min_days` days old (its
group's `changed_at`). Until then it only waits; once there it runs two one-sided two-proportion
tests (walk-aways, escalations; staged side worse), Holm-corrected for the two, at `confidence`,
and records the decision, "rolled_back" or "kept", in guard_decisions with a sentence for staff.
Never a fresh test every round: a kept version is not looked at again, so repeating the test
cannot make a chance difference look real.

The sides read comparison_summary: the staged group on the staged guide versions against every
other group on the base's guide versions, days from the stage's first day on. The rollback goes
through server.groups.rollback_group (the one rollback path), back to the stage's base.

Settings: server.toml's guard, guard_confidence, guard_min_sessions, guard_min_days; each group may
override them (rollout_groups columns, `kiosk-server group guard`). `run_once` evaluates now
(`kiosk-server guard run`); inside the server the alerts loop (server.alerts.evaluator.AlertLoop)
runs it every guard_interval minutes in the one process that holds the evaluator's lease, just
before an alerts round, which tells staff of the decision (it reads `guard_decisions_since`).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from server import db, groups, intervals
from server.publish import RolloutError, open_stages
from server.summary import WHOLE_GUIDE, local_day

log = logging.getLogger("kiosk-server.guard")
cs, gd, g, cv, cg = (db.comparison_summary, db.guard_decisions, db.rollout_groups, db.content_versions,
                     db.content_guides)
ROLLED_BACK, KEPT = "rolled_back", "kept"


@dataclass(frozen=True)
class GuardSettings:
    enabled: bool
    confidence: float
    min_sessions: int
    min_days: float


@dataclass
class GuardDecision:
    """One decision, as staff (and the alerts evaluator) read it."""
    id: int
    rollout_group: str
    content_version: int
    base_version: int | None
    decided_at: float
    action: str  # rolled_back | kept
    sentence: str
    details: dict


@dataclass
class Status:
    """Where one open stage stands (what `guard run` prints)."""
    rollout_group: str
    content_version: int
    state: str  # off | waiting | rolled_back | kept
    sentence: str


def settings_for(row, config) -> GuardSettings:
    """A group's own settings, else the server's (config: server.config.Config)."""
    def pick(value, default):
        return default if value is None else value
    return GuardSettings(bool(pick(row.guard, config.guard)), float(pick(row.guard_confidence, config.guard_confidence)),
                         int(pick(row.guard_min_sessions, config.guard_min_sessions)),
                         float(pick(row.guard_min_days, config.guard_min_days)))


def set_group_settings(engine: Engine, group: str, **values) -> None:
    """Set (or with None... keep) a group's own guard settings: guard (True/False), guard_confidence,
    guard_min_sessions, guard_min_days. `clear=True` goes back to the server's defaults."""
    clear = values.pop("clear", False)
    if unknown := set(values) - {"guard", "guard_confidence", "guard_min_sessions", "guard_min_days"}:
        raise TypeError(f"not guard settings: {', '.join(sorted(unknown))}")
    with db.write(engine) as conn:
        if conn.execute(sa.select(g.c.name).where(g.c.name == group)).first() is None:
            raise RolloutError(f"there is no group '{group}' (add it with `kiosk-server group add {group}`)")
        update = {k: None for k in ("guard", "guard_confidence", "guard_min_sessions", "guard_min_days")} if clear \
            else {}
        update.update({k: (int(v) if k == "guard" else v) for k, v in values.items() if v is not None})
        if update:
            conn.execute(g.update().where(g.c.name == group).values(**update))


def _guides_of(conn: Connection, version: int | None) -> dict[str, int]:
    if version is None:
        return {}
    return dict(conn.execute(sa.select(cg.c.guide_id, cg.c.guide_version).where(cg.c.content_version == version)).all())


def _side(conn: Connection, guides: dict[str, int], group_terms, first_day: str) -> dict[str, int]:
    if not guides:
        return {"sessions": 0, "walked_away": 0, "escalated": 0}
    pairs = sa.or_(*[sa.and_(cs.c.guide == gid, cs.c.guide_version == v) for gid, v in sorted(guides.items())])
    row = conn.execute(sa.select(*[sa.func.coalesce(sa.func.sum(cs.c[n]), 0)
                                   for n in ("sessions", "walked_away", "escalated")])
                       .where(pairs, group_terms, cs.c.day >= first_day, cs.c.step == WHOLE_GUIDE)).one()
    return dict(zip(("sessions", "walked_away", "escalated"), (int(v) for v in row), strict=True))


def _pct(k: int, n: int) -> str:
    return f"{100 * k / n:.1f}%" if n else "-"


def assess(conn: Connection, group: str, version: int, settings: GuardSettings, now: float, zone) -> dict:
    """The figures of one open stage and what the guard makes of them (no writes). `zone`: the
    site's, whose days the summaries are; the stage counts from the day it started there."""
    row = conn.execute(sa.select(cv.c.base_version, cv.c.published_at).where(cv.c.version == version)).one()
    changed_at = conn.execute(sa.select(g.c.changed_at).where(g.c.name == group)).scalar()
    started = max(row.published_at, changed_at or row.published_at)
    staged, base = _guides_of(conn, version), _guides_of(conn, row.base_version)
    changed = {gid: v for gid, v in staged.items() if base.get(gid) != v}
    first_day = local_day(started, zone)
    mine = _side(conn, changed, cs.c.rollout_group == group, first_day)
    rest = _side(conn, {gid: v for gid, v in base.items() if gid in changed}, cs.c.rollout_group != group, first_day)
    days = (now - started) / 86400
    out = {"group": group, "version": version, "base": row.base_version, "changed_guides": sorted(changed),
           "since": first_day, "days": round(days, 2), "staged": mine, "others": rest,
           "settings": asdict(settings)}
    if days < settings.min_days or min(mine["sessions"], rest["sessions"]) < settings.min_sessions:
        out["state"] = "waiting"
        out["sentence"] = (f"Group '{group}' on content version {version}: waiting for {settings.min_sessions} "
                           f"sessions a side and {settings.min_days:g} days (now {mine['sessions']} and "
                           f"{rest['sessions']} sessions, {days:.1f} days).")
        return out
    raw = [intervals.two_proportion_p(rest[k], rest["sessions"], mine[k], mine["sessions"], one_sided=True)
           for k in ("walked_away", "escalated")]
    adjusted = intervals.holm(raw)
    alpha = 1 - settings.confidence
    worse = [name for name, p in zip(("walk-aways", "escalations"), adjusted, strict=True) if p < alpha]
    out["p_values"] = {"walked_away": adjusted[0], "escalated": adjusted[1]}
    figures = (f"walk-aways {_pct(mine['walked_away'], mine['sessions'])} against "
               f"{_pct(rest['walked_away'], rest['sessions'])} on the other groups, escalations "
               f"{_pct(mine['escalated'], mine['sessions'])} against {_pct(rest['escalated'], rest['sessions'])} "
               f"({mine['sessions']} and {rest['sessions']} sessions of {', '.join(sorted(changed))} "
               f"since {first_day})")
    conf = f"{100 * settings.confidence:g}%"
    if worse:
        out["state"] = ROLLED_BACK
        out["sentence"] = (f"Group '{group}' was rolled back from content version {version} to "
                           f"{row.base_version}: {' and '.join(worse)} were worse with {conf} confidence; {figures}.")
    else:
        out["state"] = KEPT
        out["sentence"] = (f"Group '{group}' keeps content version {version}: neither walk-aways nor escalations "
                           f"were worse with {conf} confidence; {figures}. The guard will not test it again.")
    return out


def run_once(engine: Engine, config, now: float | None = None) -> list[Status]:
    """Evaluate every open stage now; roll back and record where the minimum is reached."""
    now = time.time() if now is None else now
    with db.read(engine) as conn:
        stages = open_stages(conn)
        rows = {r.name: r for r in conn.execute(sa.select(g)).all()}
        decided = {tuple(r) for r in conn.execute(sa.select(gd.c.rollout_group, gd.c.content_version))}
        plans = []
        for group, version in sorted(stages.items()):
            if (group, version) in decided:
                continue
            settings = settings_for(rows[group], config)
            base = conn.execute(sa.select(cv.c.base_version).where(cv.c.version == version)).scalar()
            if base is None:
                plans.append(Status(group, version, "off", f"Group '{group}' on content version {version}: it had "
                                                           "no version before, so there is nothing to roll back to."))
                continue
            if not settings.enabled:
                plans.append(Status(group, version, "off", f"Group '{group}' on content version {version}: the "
                                                           "guard is off for it."))
                continue
            plans.append(assess(conn, group, version, settings, now, config.zone))
    out: list[Status] = []
    for plan in plans:
        if isinstance(plan, Status) or plan["state"] == "waiting":
            out.append(plan if isinstance(plan, Status) else
                       Status(plan["group"], plan["version"], plan["state"], plan["sentence"]))
            continue
        if plan["state"] == ROLLED_BACK:
            try:
                groups.rollback_group(engine, plan["base"], plan["group"])
            except RolloutError as exc:  # moved on meanwhile (a promote, a publish): nothing to undo
                log.warning("the guard did not roll back group %s: %s", plan["group"], exc)
                continue
        with db.write(engine) as conn:
            conn.execute(db.insert_ignore(conn, gd, ["rollout_group", "content_version"]).values(
                rollout_group=plan["group"], content_version=plan["version"], base_version=plan["base"],
                decided_at=now, action=plan["state"], sentence=plan["sentence"],
                details=json.dumps({k: v for k, v in plan.items() if k not in ("sentence", "state")},
                                   sort_keys=True)))
        log.warning("rollout guard: %s", plan["sentence"])
        out.append(Status(plan["group"], plan["version"], plan["state"], plan["sentence"]))
    return out


def guard_decisions_since(conn: Connection, t: float) -> list[GuardDecision]:
    """Every decision made at or after unix time t, oldest first: the alerts evaluator's seam."""
    rows = conn.execute(sa.select(gd).where(gd.c.decided_at >= t).order_by(gd.c.decided_at, gd.c.id)).all()
    return [GuardDecision(r.id, r.rollout_group, r.content_version, r.base_version, r.decided_at, r.action,
                          r.sentence, json.loads(r.details)) for r in rows]
