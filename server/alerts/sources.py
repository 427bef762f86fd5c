"""Alert sources: one function each, registered with the kinds of alert it owns.

A source gets a Scope (a read connection, the settings, the time now, the site's time zone and each
group's opening hours) and returns every Finding that holds now. The evaluator opens an alert for a
(kind, subject) it did not have and resolves an open one that its source no longer finds; a
source that fails is logged and its open alerts stay as they are (an error is not "resolved").

Adding a source is one function (`rollout_rollbacks` below is one):

    @source("kind")
    def finds(scope: Scope) -> Iterable[Finding]:
        ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contract.heartbeat import LastSync
from server import db, opening_hours
from server.config import Config

DAY = 86400.0
WALKAWAY_WINDOW = 30 * DAY  # a step's walk-aways are counted over the last 30 days, per version
RATING_RECENT, RATING_BEFORE = 7 * DAY, 28 * DAY


@dataclass(frozen=True)
class Finding:
    kind: str
    subject: str  # with kind, what makes an alert the same alert: a device name, "guide/step", ...
    sentence: str  # one plain sentence, saying what and how much
    link: str  # the dashboard page that shows why, as a path (/dashboard/...)


@dataclass
class Scope:
    conn: Connection
    config: Config
    now: float
    zone: ZoneInfo
    hours: dict[str, opening_hours.OpeningHours] = field(default_factory=dict)  # group -> its opening hours

    def hours_of(self, group: str) -> opening_hours.OpeningHours:
        return self.hours.get(group) or opening_hours.OpeningHours(None)

    def local(self, ts: float) -> str:
        return datetime.fromtimestamp(ts, self.zone).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class Source:
    name: str
    kinds: tuple[str, ...]
    find: Callable[[Scope], Iterable[Finding]]


SOURCES: list[Source] = []


def source(*kinds: str) -> Callable[[Callable[[Scope], Iterable[Finding]]], Callable[[Scope], Iterable[Finding]]]:
    """Register a function as the source of these kinds of alert."""
    def register(find: Callable[[Scope], Iterable[Finding]]) -> Callable[[Scope], Iterable[Finding]]:
        SOURCES.append(Source(find.__name__, kinds, find))
        return find
    return register


def make_scope(conn: Connection, config: Config, now: float) -> Scope:
    hours = {}
    for name, text in conn.execute(sa.select(db.rollout_groups.c.name, db.rollout_groups.c.opening_hours)):
        try:
            hours[name] = opening_hours.parse(text)
        except opening_hours.HoursInvalid:
            hours[name] = opening_hours.OpeningHours(None)  # `group hours` refuses these; an old row: always open
    return Scope(conn, config, now, config.zone, hours)


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


def _kiosk(row) -> str:
    return f"Kiosk {row.name}" + (f" ({row.location})" if row.location else "")


def _devices(scope: Scope):
    return scope.conn.execute(sa.select(db.devices).where(db.devices.c.revoked_at.is_(None))).all()


def _is_stale(scope: Scope, row) -> tuple[bool, float]:
    """(stale, opening time without contact): by the group's hours, not the clock's."""
    since = row.last_seen or row.created_at
    quiet = scope.hours_of(row.rollout_group).open_seconds(since, scope.now, scope.zone)
    return quiet > scope.config.stale_after * 60, quiet


FLEET = "/dashboard/fleet"


@source("kiosk_stale", "sync_failing", "disk_low", "outbox_growing", "dead_panel")
def fleet(scope: Scope) -> Iterable[Finding]:
    """What each kiosk's last heartbeat says, and what the absence of one says."""
    cfg = scope.config
    for row in _devices(scope):
        link = f"{FLEET}#device-{row.name}"
        stale, quiet = _is_stale(scope, row)
        if stale:
            last = f"last contact {scope.local(row.last_seen)}" if row.last_seen else "it never contacted the server"
            yield Finding("kiosk_stale", row.name, f"{_kiosk(row)} has not been in touch for {_duration(quiet)} of "
                                                   f"opening time; {last}.", link)
            continue  # what its last heartbeat said is old news
        if row.last_heartbeat is None:
            continue
        last_sync = LastSync.from_stored(row.last_sync_result)
        if last_sync is not None and last_sync.result is not None and not last_sync.healthy:
            why = f": {last_sync.error}" if last_sync.error else f" ({last_sync.result})"
            yield Finding("sync_failing", row.name, f"{_kiosk(row)} cannot sync with the server{why}.", link)
        if row.free_disk is not None and row.free_disk < cfg.alert_disk_low_mb * 1024**2:
            yield Finding("disk_low", row.name, f"{_kiosk(row)} has only {row.free_disk / 1024**2:.0f} MB of disk "
                                                f"free (the alert starts below {cfg.alert_disk_low_mb:g} MB).", link)
        if (row.outbox_depth or 0) >= cfg.alert_outbox_events:
            yield Finding("outbox_growing", row.name, f"{_kiosk(row)} has {row.outbox_depth} events waiting to be "
                                                      f"sent (the alert starts at {cfg.alert_outbox_events}).", link)
        if _dead_panel(scope, row):
            yield Finding("dead_panel", row.name,
                          f"{_kiosk(row)} sends heartbeats but nobody has started a session on it in the last "
                          f"{cfg.alert_dead_panel_hours:g} opening hours: check its touch panel and screen.", link)


def _dead_panel(scope: Scope, row) -> bool:
    """Heartbeats arrive, the app has run the whole time (its uptime says so), the group was open
    for alert_dead_panel_hours in that time, and not one session started."""
    since = scope.hours_of(row.rollout_group).since_open(scope.now, scope.config.alert_dead_panel_hours * 3600,
                                                         scope.zone)
    if since is None or row.uptime is None or row.last_heartbeat - row.uptime > since or row.created_at > since:
        return False
    ss = db.session_summary
    return scope.conn.execute(sa.select(sa.literal(1)).where(ss.c.device == row.name, ss.c.started_at >= since)
                              .limit(1)).first() is None


@source("walkaway_jump")
def walkaways(scope: Scope) -> Iterable[Finding]:
    """Per step, the walk-away rate (sessions whose idle timeout fired there, of those that saw it)
    in a guide's newest version against the version before, over the last 30 days: the figures of
    the guide page's "Did it help?" (server/compare.py, from the comparison summaries)."""
    from server import compare

    cfg = scope.config
    cs = db.comparison_summary
    since = datetime.fromtimestamp(scope.now - WALKAWAY_WINDOW, scope.zone).date()  # the summaries' days are the site's
    seen: dict[str, list[int]] = {}
    for guide, version in scope.conn.execute(
            sa.select(cs.c.guide, cs.c.guide_version).where(cs.c.day >= since.isoformat()).distinct()):
        seen.setdefault(guide, []).append(version)
    for guide, versions in sorted(seen.items()):
        if len(versions) < 2:
            continue
        old, new = sorted(versions)[-2:]
        before = compare.load_arm(scope.conn, guide, "before", version=old, since=since).steps
        after = compare.load_arm(scope.conn, guide, "after", version=new, since=since).steps
        for step, (views, walked) in sorted(after.items()):
            before_views, before_walked = before.get(step, (0, 0))
            if views < cfg.alert_walkaway_views or before_views < cfg.alert_walkaway_views:
                continue
            rate, earlier = walked / views, before_walked / before_views
            if 100 * (rate - earlier) >= cfg.alert_walkaway_points:
                yield Finding("walkaway_jump", f"{guide}/{step}",
                              f"Step '{step}' of guide {guide}: {100 * rate:.0f}% of customers walk away there in "
                              f"version {new}, up from {100 * earlier:.0f}% in version {old} ({views} and "
                              f"{before_views} sessions).", f"/dashboard/guides/{guide}?version={new}")


@source("no_result_spike")
def no_result_searches(scope: Scope) -> Iterable[Finding]:
    """Searches that found nothing in the last 24 hours against the daily average of the 7 days before."""
    ev = db.events
    cfg = scope.config
    day_ago, week_before = scope.now - DAY, scope.now - 8 * DAY
    terms = [ev.c.type == sa.literal_column("'search'"), ev.c.hits == 0]  # the partial index (db.SEARCH_INDEX)
    today = scope.conn.execute(sa.select(sa.func.count()).where(*terms, ev.c.server_time >= day_ago)).scalar_one()
    if today < cfg.alert_no_result_min:
        return
    before = scope.conn.execute(sa.select(sa.func.count()).where(
        *terms, ev.c.server_time >= week_before, ev.c.server_time < day_ago)).scalar_one()
    average = before / 7
    if today < cfg.alert_no_result_factor * max(average, 1):
        return
    term = sa.func.lower(ev.c.query)
    top = [q for q, in scope.conn.execute(sa.select(term).where(*terms, ev.c.server_time >= day_ago)
                                           .group_by(term).order_by(sa.func.count().desc(), term).limit(3))]
    quoted = ", ".join(f"'{q}'" for q in top if q)
    yield Finding("no_result_spike", "search",
                  f"{today} searches found nothing in the last 24 hours, against {average:.1f} a day the week "
                  f"before" + (f"; most often {quoted}." if quoted else "."), "/dashboard/search")


@source("rating_drop")
def ratings(scope: Scope) -> Iterable[Finding]:
    """Each guide's mean rating in the last 7 days against the 28 days before."""
    ev = db.events
    cfg = scope.config
    recent_from, before_from = scope.now - RATING_RECENT, scope.now - RATING_RECENT - RATING_BEFORE
    recent = sa.case((ev.c.server_time >= recent_from, 1), else_=0)
    rows = scope.conn.execute(
        sa.select(ev.c.guide, recent.label("recent"), sa.func.count(), sa.func.sum(ev.c.rating))
        .where(ev.c.type == "feedback", ev.c.rating.is_not(None), ev.c.guide.is_not(None),
               ev.c.server_time >= before_from)
        .group_by(ev.c.guide, recent)).all()
    by_guide: dict[str, dict[int, tuple[int, int]]] = {}
    for guide, is_recent, count, total in rows:
        by_guide.setdefault(guide, {})[is_recent] = (count, total)
    for guide, parts in sorted(by_guide.items()):
        (n_new, s_new), (n_old, s_old) = parts.get(1, (0, 0)), parts.get(0, (0, 0))
        if n_new < cfg.alert_rating_min or n_old < cfg.alert_rating_min:
            continue
        mean_new, mean_old = s_new / n_new, s_old / n_old
        if mean_old - mean_new >= cfg.alert_rating_drop:
            yield Finding("rating_drop", guide,
                          f"Guide {guide} is rated {mean_new:.1f} stars on average this week, down from "
                          f"{mean_old:.1f} in the four weeks before ({n_new} and {n_old} ratings).",
                          f"/dashboard/guides/{guide}")


@source("rollout_rollback")
def rollout_rollbacks(scope: Scope) -> Iterable[Finding]:
    """The rollout guard's automatic rollbacks of the last 7 days (server/rollout_guard.py): staff are
    told once, and the alert resolves itself when the decision is a week old."""
    from server.rollout_guard import guard_decisions_since

    for d in guard_decisions_since(scope.conn, scope.now - 7 * DAY):
        if d.action == "rolled_back":
            yield Finding("rollout_rollback", f"{d.rollout_group}/v{d.content_version}", d.sentence,
                          "/dashboard/library")


# What each kind is called on the Alerts page and in messages.
KIND_TITLES = {
    "kiosk_stale": "Kiosk out of touch",
    "sync_failing": "Sync failing",
    "disk_low": "Disk low",
    "outbox_growing": "Events piling up",
    "dead_panel": "No sessions: touch panel?",
    "walkaway_jump": "Walk-aways up after an edit",
    "no_result_spike": "Searches finding nothing",
    "rating_drop": "Ratings dropping",
    "rollout_rollback": "Rollout rolled back",
    "test": "Test alert",
}
