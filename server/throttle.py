"""Counters that every server process shares, in the database: how many failed staff logins a
source had, how many requests a phone link or session made, and how often today a limit was hit
(for the dashboard).

Each counter is a row per fixed time window ("slot"). `count` increments several counters in one
write transaction with INSERT ... ON CONFLICT DO UPDATE SET hits = hits + 1 RETURNING hits, the
same statement on SQLite and PostgreSQL: the database hands each concurrent request its own count,
so 40 requests racing for a limit of 5 leave exactly 5 below it, in one process or in many.
Windows are fixed, not sliding: a source gets at most `limit` per window, and Retry-After is the
time to the window's end.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from server import db

log = logging.getLogger("kiosk-server.throttle")
DAY = 86400
_PRUNE_EVERY = 60.0  # seconds between deletions of expired counters, per process
_pruned_at = 0.0
_prune_lock = threading.Lock()


@dataclass(frozen=True)
class Limit:
    name: str  # the counter: what it counts and for whom, e.g. "phone-link:<signature>"
    limit: int  # how many per window
    window: int  # seconds

    def slot(self, now: float) -> int:
        return int(now // self.window)

    def retry_after(self, now: float) -> int:
        return max(1, math.ceil((self.slot(now) + 1) * self.window - now))


def _upsert(conn: Connection, name: str, slot: int, expires_at: float, step: int):
    table = db.throttle_counters
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).values(name=name, slot=slot, hits=max(step, 0), expires_at=expires_at)
    stmt = stmt.on_conflict_do_update(index_elements=["name", "slot"], set_={"hits": table.c.hits + step})
    return conn.execute(stmt.returning(table.c.hits)).scalar_one()


def count(engine: Engine, limits: Sequence[Limit], now: float | None = None, *, step: int = 1) -> list[int]:
    """Add `step` to each counter (in its current window) in one transaction; the new counts, in order."""
    now = time.time() if now is None else now
    _prune(engine, now)
    with db.write(engine) as conn:
        return [_upsert(conn, lim.name[:200], lim.slot(now), (lim.slot(now) + 2) * lim.window, step)
                for lim in limits]


def reserve(engine: Engine, limits: Sequence[Limit], now: float | None = None) -> tuple[Limit | None, list[int]]:
    """Take one of each limit's places for an attempt, atomically. (None, the counts with this
    attempt) when every counter had one left; (the first full limit, []) when one had not, and
    then nothing is taken."""
    now = time.time() if now is None else now
    _prune(engine, now)
    with db.write(engine) as conn:
        counts = [_upsert(conn, lim.name[:200], lim.slot(now), (lim.slot(now) + 2) * lim.window, 1)
                  for lim in limits]
        full = next((lim for lim, n in zip(limits, counts, strict=True) if n > lim.limit), None)
        if full is not None:  # a refused attempt does not count: release what was taken
            for lim in limits:
                _upsert(conn, lim.name[:200], lim.slot(now), (lim.slot(now) + 2) * lim.window, -1)
            return full, []
        return None, counts


def reset(engine: Engine, limits: Sequence[Limit], now: float | None = None) -> None:
    """Clear these counters' current windows (e.g. a source's failures once it logged in)."""
    now = time.time() if now is None else now
    table = db.throttle_counters
    with db.write(engine) as conn:
        for lim in limits:
            conn.execute(table.delete().where(table.c.name == lim.name[:200], table.c.slot == lim.slot(now)))


# --- what the dashboard counts -----------------------------------------------------------------

STAFF_LOCKOUT = "staff-lockout"  # a login source reached a limit
PHONE_LIMITED = "phone-limited"  # a phone link or session went over its limit


def record_hit(engine: Engine, kind: str, source: str, now: float | None = None) -> None:
    """Log a limit that was reached, with its source, and count it for today's dashboard."""
    log.warning("%s: %s", kind.replace("-", " "), source)
    count(engine, [Limit(f"hits:{kind}", 0, DAY)], now)


def hits_today(conn: Connection, now: float | None = None) -> dict[str, int]:
    """How many times each kind of limit was reached today (UTC)."""
    now = time.time() if now is None else now
    table = db.throttle_counters
    rows = conn.execute(sa.select(table.c.name, table.c.hits).where(
        table.c.name.in_([f"hits:{STAFF_LOCKOUT}", f"hits:{PHONE_LIMITED}"]), table.c.slot == int(now // DAY)))
    found = {name.removeprefix("hits:"): hits for name, hits in rows}
    return {kind: found.get(kind, 0) for kind in (STAFF_LOCKOUT, PHONE_LIMITED)}


def _prune(engine: Engine, now: float) -> None:
    global _pruned_at
    with _prune_lock:
        if now - _pruned_at < _PRUNE_EVERY:
            return
        _pruned_at = now
    with db.write(engine) as conn:
        conn.execute(db.throttle_counters.delete().where(db.throttle_counters.c.expires_at < now))
