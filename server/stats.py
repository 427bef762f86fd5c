"""The dashboard's numbers: SQL aggregations (SQLAlchemy Core), the same statements on SQLite and
PostgreSQL. Definitions (docs/dashboard.md repeats them for staff):

Overview and the guide tables count sessions, read from the per-session summaries
(server/summary.py) that ingest keeps equal to the raw events. A session belongs to a period by
the corrected server time of its session_start, to a site by its kiosk's location, and to a
language by the language it started in. Per session: guides started = distinct guides with a
step view; resolved / escalated = reached an outcome of that kind; walked away = its idle timeout
fired on a guide step and it reached no outcome; abandoned on home = its idle timeout fired on the
home screen; ratings from its feedback; handoffs = handoff_shown events; opened = a handoff_opened
(phone) event. Per guide and version: sessions that saw a step of it, and their outcomes and
ratings in it.

The guide tree, feedback and search pages count raw events: an event belongs to a period by its
own corrected time and to a language by the language on screen when it happened.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from server import db

ev = db.events


class int_floor(FunctionElement):
    """floor(x) as an integer. SQLite's CAST truncates, which equals floor for the positive unix
    times it is used on; PostgreSQL's CAST would round, so it gets floor()."""

    type = sa.BigInteger()
    inherit_cache = True


@compiles(int_floor)
def _int_floor_default(element, compiler, **kw):
    return f"CAST(floor({compiler.process(element.clauses, **kw)}) AS BIGINT)"


@compiles(int_floor, "sqlite")
def _int_floor_sqlite(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS INTEGER)"


@dataclass(frozen=True)
class Filters:
    start: date  # first day, in `zone`
    end: date  # last day, inclusive
    site: str | None = None
    lang: str | None = None
    guide: str | None = None
    device: str | None = None
    rating: int | None = None
    zone: tzinfo = UTC  # the site's time zone (server setting time_zone): days are its days

    @property
    def t0(self) -> float:
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=self.zone).timestamp()

    @property
    def t1(self) -> float:
        end = self.end + timedelta(days=1)  # the next midnight, not +24 h: a day with a clock change is not 24 h
        return datetime(end.year, end.month, end.day, tzinfo=self.zone).timestamp()

    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def where(f: Filters, *types: str) -> list:
    """The WHERE terms every event query shares: type(s), period, site, language."""
    terms = [ev.c.server_time >= f.t0, ev.c.server_time < f.t1]
    if len(types) == 1:
        terms.insert(0, ev.c.type == types[0])
    elif types:
        terms.insert(0, ev.c.type.in_(types))
    if f.site:
        terms.append(ev.c.device.in_(sa.select(db.devices.c.name).where(db.devices.c.location == f.site)))
    if f.lang:
        terms.append(ev.c.lang == f.lang)
    return terms


def _distinct_sessions(conn: Connection, *terms) -> int:
    sub = sa.select(ev.c.session).where(*terms).distinct().subquery()
    return conn.execute(sa.select(sa.func.count()).select_from(sub)).scalar_one()


# --- overview ------------------------------------------------------------------------------------

@dataclass
class Overview:
    sessions: int
    guides_started: int
    resolved: int
    escalated: int
    walked_away: int
    abandoned_home: int
    avg_rating: float | None
    ratings: int
    handoffs_shown: int
    handoffs_opened: int
    per_day: list[tuple[date, int]]
    per_hour: list[int]  # 24 buckets, hour of day in the site's time zone (Filters.zone)


def session_where(f: Filters, table: sa.Table) -> list:
    """Period, site and language of a session: when it started, where, in which language."""
    terms = [table.c.started_at >= f.t0, table.c.started_at < f.t1]
    if f.site:
        terms.append(table.c.device.in_(sa.select(db.devices.c.name).where(db.devices.c.location == f.site)))
    if f.lang:
        terms.append(table.c.lang == f.lang)
    return terms


def overview(conn: Connection, f: Filters) -> Overview:
    ss = db.session_summary
    hour = int_floor(ss.c.started_at / 3600).label("hour")
    by_hour = conn.execute(sa.select(hour, sa.func.count()).where(*session_where(f, ss), ss.c.has_start == 1)
                           .group_by(hour)).all()
    day_counts: dict[date, int] = {}
    hours = [0] * 24
    for h, n in by_hour:
        day = datetime.fromtimestamp(h * 3600, f.zone).date()
        day_counts[day] = day_counts.get(day, 0) + n
        hours[datetime.fromtimestamp(h * 3600, f.zone).hour] += n  # the hour on the site's clocks
    total = sa.func.sum
    row = conn.execute(sa.select(
        total(ss.c.guides), total(ss.c.resolved), total(ss.c.escalated), total(ss.c.walked_away),
        total(ss.c.abandoned_home), total(ss.c.rating_sum), total(ss.c.ratings), total(ss.c.handoffs),
        total(ss.c.handoff_opened)).where(*session_where(f, ss))).one()
    guides, resolved, escalated, walked, home, rating_sum, ratings, shown, opened = (int(v or 0) for v in row)
    return Overview(
        sessions=sum(hours), guides_started=guides, resolved=resolved, escalated=escalated, walked_away=walked,
        abandoned_home=home, avg_rating=rating_sum / ratings if ratings else None, ratings=ratings,
        handoffs_shown=shown, handoffs_opened=opened,
        per_day=[(d, day_counts.get(d, 0)) for d in f.days()], per_hour=hours)


# --- guides --------------------------------------------------------------------------------------

@dataclass
class GuideRow:
    guide: str
    sessions: int  # distinct sessions that viewed a step of it
    resolved: int
    escalated: int
    avg_rating: float | None

    @property
    def resolution_rate(self) -> float | None:
        return self.resolved / self.sessions if self.sessions else None


def guides_table(conn: Connection, f: Filters) -> list[GuideRow]:
    sg = db.session_guides
    rows = []
    for g, n, resolved, escalated, rating_sum, ratings in conn.execute(
            sa.select(sg.c.guide, sa.func.count(), sa.func.sum(sg.c.resolved), sa.func.sum(sg.c.escalated),
                      sa.func.sum(sg.c.rating_sum), sa.func.sum(sg.c.ratings))
            .where(*session_where(f, sg)).group_by(sg.c.guide)):
        rows.append(GuideRow(g, n, int(resolved or 0), int(escalated or 0),
                             int(rating_sum) / int(ratings) if ratings else None))
    return sorted(rows, key=lambda r: -r.sessions)


@dataclass
class VersionRow:
    version: int
    sessions: int
    resolved: int
    escalated: int
    avg_rating: float | None
    ratings: int

    @property
    def resolution_rate(self) -> float | None:
        return self.resolved / self.sessions if self.sessions else None


@dataclass
class GuideFlow:
    versions: list[VersionRow]
    # (step, choice index) -> distinct sessions that took that choice
    arrows: dict[tuple[str, int], int] = field(default_factory=dict)
    # step -> {"idle_timeout": n, "back": n, "restart": n}: how people left that step
    leaves: dict[str, dict[str, int]] = field(default_factory=dict)
    views: dict[str, int] = field(default_factory=dict)  # step -> distinct sessions that saw it


def guide_flow(conn: Connection, f: Filters, guide: str, version: int | None) -> GuideFlow:
    """Everything the per-guide page draws: per-version results, and for `version` (the tree
    on screen) the sessions on each arrow and how people left each step."""
    sg = db.session_guides
    versions = []
    for v, n, resolved, escalated, rating_sum, ratings in conn.execute(
            sa.select(sg.c.guide_version, sa.func.count(), sa.func.sum(sg.c.resolved), sa.func.sum(sg.c.escalated),
                      sa.func.sum(sg.c.rating_sum), sa.func.sum(sg.c.ratings))
            .where(sg.c.guide == guide, *session_where(f, sg)).group_by(sg.c.guide_version)
            .order_by(sg.c.guide_version)):
        versions.append(VersionRow(v, n, int(resolved or 0), int(escalated or 0),
                                   int(rating_sum) / int(ratings) if ratings else None, int(ratings or 0)))
    base = [ev.c.guide == guide]
    flow = GuideFlow(versions)
    if version is None:
        return flow
    at = [*base, ev.c.guide_version == version]
    # The choice index lives in the JSON `data`; every choice event of one step and index carries
    # the same data text, so grouping by it in SQL leaves a handful of rows to read here.
    for step, data, n in conn.execute(
            sa.select(ev.c.step, ev.c.data, sa.func.count(sa.distinct(ev.c.session)))
            .where(*where(f, "choice"), *at).group_by(ev.c.step, ev.c.data)):
        index = json.loads(data).get("index")
        flow.arrows[(step, index)] = flow.arrows.get((step, index), 0) + n
    for step, kind, n in conn.execute(
            sa.select(ev.c.step, ev.c.type, sa.func.count(sa.distinct(ev.c.session)))
            .where(*where(f, "idle_timeout", "back", "restart"), *at).group_by(ev.c.step, ev.c.type)):
        flow.leaves.setdefault(step, {})[kind] = n
    flow.views = dict(conn.execute(sa.select(ev.c.step, sa.func.count(sa.distinct(ev.c.session)))
                                   .where(*where(f, "step_view"), *at).group_by(ev.c.step)).all())
    return flow


# --- feedback ------------------------------------------------------------------------------------

FEEDBACK_COLUMNS = ("server_time", "device", "guide", "guide_version", "step", "lang", "helped", "rating",
                    "comment", "channel", "session")


def feedback_query(f: Filters, *, comments_only: bool = False) -> sa.Select:
    terms = where(f, "feedback")
    if f.guide:
        terms.append(ev.c.guide == f.guide)
    if f.device:
        terms.append(ev.c.device == f.device)
    if f.rating:
        terms.append(ev.c.rating == f.rating)
    if comments_only:
        terms.append(sa.func.coalesce(ev.c.comment, "") != "")
    return (sa.select(*(ev.c[name] for name in FEEDBACK_COLUMNS)).where(*terms)
            .order_by(ev.c.server_time.desc(), ev.c.id.desc()))


def feedback_page(conn: Connection, f: Filters, *, limit: int, offset: int) -> tuple[int, list[Any]]:
    q = feedback_query(f)
    total = conn.execute(sa.select(sa.func.count()).select_from(q.order_by(None).subquery())).scalar_one()
    return total, conn.execute(q.limit(limit).offset(offset)).all()


def rating_histogram(conn: Connection, f: Filters) -> dict[int, int]:
    q = feedback_query(f).order_by(None).subquery()
    return {r: n for r, n in conn.execute(sa.select(q.c.rating, sa.func.count()).group_by(q.c.rating)) if r}


# --- search --------------------------------------------------------------------------------------

def search_where(f: Filters) -> list:
    # The type as a literal, not a bound parameter: only then may the databases use the partial
    # index on search events (db.SEARCH_INDEX).
    return [ev.c.type == sa.literal_column("'search'"), *where(f)]


def top_queries(conn: Connection, f: Filters, *, no_results: bool, limit: int = 25) -> list[tuple[str, int]]:
    term = sa.func.lower(ev.c.query).label("q")
    terms = search_where(f)
    terms.append(ev.c.hits == 0 if no_results else ev.c.hits > 0)
    n = sa.func.count().label("n")
    return [(q, c) for q, c in conn.execute(
        sa.select(term, n).where(*terms).group_by(term).order_by(n.desc(), term).limit(limit))]


def no_result_queries(conn: Connection, f: Filters, limit: int = 25) -> list[tuple[str, str | None, int]]:
    """(query, the language it was typed in, searches) of the searches that found nothing, most
    frequent first: the language decides what the same query finds today."""
    term = sa.func.lower(ev.c.query).label("q")
    n = sa.func.count().label("n")
    return [(q, lang, c) for q, lang, c in conn.execute(
        sa.select(term, ev.c.lang, n).where(*search_where(f), ev.c.hits == 0)
        .group_by(term, ev.c.lang).order_by(n.desc(), term, ev.c.lang).limit(limit))]


def search_totals(conn: Connection, f: Filters) -> tuple[int, int]:
    total, none = conn.execute(sa.select(
        sa.func.count(), sa.func.sum(sa.case((ev.c.hits == 0, 1), else_=0))).where(*search_where(f))).one()
    return total, int(none or 0)


# --- choices for the filter forms -----------------------------------------------------------------

def sites(conn: Connection) -> list[str]:
    return [s for (s,) in conn.execute(sa.select(db.devices.c.location).where(db.devices.c.location.is_not(None))
                                       .distinct().order_by(db.devices.c.location))]


def device_names(conn: Connection) -> list[str]:
    return list(conn.execute(sa.select(db.devices.c.name).order_by(db.devices.c.name)).scalars())


def guide_ids(conn: Connection) -> list[str]:
    return list(conn.execute(sa.select(db.guide_versions.c.guide_id).distinct()
                             .order_by(db.guide_versions.c.guide_id)).scalars())
