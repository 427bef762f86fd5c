"""Counters that every server process shares, in the database: how many failed staff logins a
source had, how many requests a phone link or session made, and how often today a limit was hit
(for the dashboard, per UTC quarter hour: see record_hit).

A counter is one row; its window starts with its first hit and lasts `Limit.window` seconds, then
the next hit starts a new one. `count` updates several counters in one write transaction with
INSERT ... ON CONFLICT DO UPDATE ... RETURNING, the same statement on SQLite and PostgreSQL: the
database hands each concurrent request its own count, so 40 requests racing for a limit of 5 leave
exactly 5 within it, in one process or in many. Retry-After is the time to the window's end.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from server import db

log = logging.getLogger("kiosk-server.throttle")
DAY = 86400
_PRUNE_EVERY = 60.0  # seconds between deletions of ended counters, per process
_pruned_at = 0.0
_prune_lock = threading.Lock()


@dataclass(frozen=True)
class Limit:
    name: str  # the counter: what it counts and for whom, e.g. "phone-link:<signature>"
    limit: int  # how many per window
    window: int  # seconds


@dataclass(frozen=True)
class Count:
    hits: int  # in the counter's current window, this one included
    resets_at: float  # when the window ends

    def retry_after(self, now: float) -> int:
        return max(1, math.ceil(self.resets_at - now))


def _upsert(conn: Connection, lim: Limit, now: float, step: int) -> Count:
    table = db.throttle_counters
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    fresh = max(step, 0)
    ended = table.c.resets_at <= now  # SET reads the row as it was, so both columns see the same test
    stmt = insert(table).values(name=lim.name[:200], hits=fresh, resets_at=now + lim.window)
    stmt = stmt.on_conflict_do_update(index_elements=["name"], set_={
        "hits": sa.case((ended, fresh), else_=table.c.hits + step),
        "resets_at": sa.case((ended, now + lim.window), else_=table.c.resets_at)})
    row = conn.execute(stmt.returning(table.c.hits, table.c.resets_at)).one()
    return Count(row.hits, row.resets_at)


def count(engine: Engine, limits: Sequence[Limit], now: float | None = None, *, step: int = 1) -> list[Count]:
    """Add `step` to each counter in one transaction; the new counts, in order."""
    now = time.time() if now is None else now
    _prune(engine, now)
    with db.write(engine) as conn:
        return [_upsert(conn, lim, now, step) for lim in limits]


def reserve(engine: Engine, limits: Sequence[Limit], now: float | None = None) -> tuple[Count | None, list[Count]]:
    """Take one of each limit's places for an attempt, atomically. (None, the counts with this
    attempt) when every counter had one left; (the first full counter's count, []) when one had
    not, and then nothing is taken."""
    now = time.time() if now is None else now
    _prune(engine, now)
    with db.write(engine) as conn:
        counts = [_upsert(conn, lim, now, 1) for lim in limits]
        full = next((c for lim, c in zip(limits, counts, strict=True) if c.hits > lim.limit), None)
        if full is not None:  # a refused attempt does not count: give back what was taken
            for lim in limits:
                _upsert(conn, lim, now, -1)
            return full, []
        return None, counts


def reset(engine: Engine, limits: Sequence[Limit]) -> None:
    """Forget these counters (e.g. a source's failures once it logged in)."""
    with db.write(engine) as conn:
        conn.execute(db.throttle_counters.delete().where(
            db.throttle_counters.c.name.in_([lim.name[:200] for lim in limits])))


# --- what the dashboard counts -----------------------------------------------------------------

STAFF_LOCKOUT = "staff-lockout"  # a login source reached a limit
PHONE_LIMITED = "phone-limited"  # a phone link or session went over its limit


QUARTER = 900  # every UTC offset in use is a whole number of quarter hours (Asia/Kathmandu: +05:45)


def _quarter(kind: str, t: float) -> str:
    return f"hits:{kind}:q{int(t // QUARTER)}"


def record_hit(engine: Engine, kind: str, source: str, now: float | None = None) -> None:
    """Log a limit that was reached, with its source, and count it for today's dashboard: per UTC
    quarter hour, which the Fleet page adds up from the site's midnight (whatever the site's zone,
    and still right after an operator changes it)."""
    now = time.time() if now is None else now
    log.warning("%s: %s", kind.replace("-", " "), source)
    count(engine, [Limit(_quarter(kind, now), 0, 2 * DAY)], now)


def hits_today(conn: Connection, zone: tzinfo, now: float | None = None) -> dict[str, int]:
    """How many times each kind of limit was reached today on the site's clocks (since its midnight:
    23 or 25 hours back on a day the clocks change)."""
    now = time.time() if now is None else now
    today = datetime.fromtimestamp(now, zone).date()
    midnight = datetime(today.year, today.month, today.day, tzinfo=zone).timestamp()
    quarters = range(int(midnight // QUARTER), int(now // QUARTER) + 1)
    table = db.throttle_counters
    kind_of = {_quarter(kind, q * QUARTER): kind for kind in (STAFF_LOCKOUT, PHONE_LIMITED) for q in quarters}
    out = dict.fromkeys((STAFF_LOCKOUT, PHONE_LIMITED), 0)
    for name, hits in conn.execute(sa.select(table.c.name, table.c.hits).where(table.c.name.in_(list(kind_of)))):
        out[kind_of[name]] += hits
    return out


def _prune(engine: Engine, now: float) -> None:
    global _pruned_at
    with _prune_lock:
        if now - _pruned_at < _PRUNE_EVERY:
            return
        _pruned_at = now
    with db.write(engine) as conn:
        conn.execute(db.throttle_counters.delete().where(db.throttle_counters.c.resets_at < now))
