"""One round of alerts, the lease that lets one server process run them, and the thread that does
(it also runs the rollout guard, server.rollout_guard, under the same lease).

A round reads what every source finds (one read snapshot), then in one write transaction opens
the alerts that are new, refreshes the sentence of those still found and resolves those that went
away; only then, outside the transaction, it sends what has not been sent: each alert's opening
once and its resolution once. A message is claimed (its *_sent_at set) before it is sent, so two
processes can never both send it; if every channel fails it is released, the round sends no more,
and the next round tries again (a dead relay costs one timeout a round, not one per alert).

Snoozed: an alert whose snoozed_until lies ahead sends nothing until then; if the same cause comes
back while an earlier episode's snooze lasts, the new episode keeps that snooze.

The lease: on PostgreSQL a session advisory lock held by a connection of its own (whichever
process holds it evaluates, on any machine; if that process dies the lock goes with its
connection); on SQLite, whose processes share one machine, an flock on a file beside the database.
Without the lease the results would still be right (the open-alert index and the claims hold), only
each round would be done several times. The rollout guard is the other thing one process must do
alone (two would each roll back and record); it runs in the same thread under the same lease, so
the server has one leader election, not two.
"""

from __future__ import annotations

import fcntl
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from server import db
from server.alerts import delivery
from server.alerts.sources import KIND_TITLES, SOURCES, Finding, Source, make_scope
from server.config import Config

log = logging.getLogger(__name__)
LEASE_NAME = "alerts-evaluator"


@dataclass
class Round:
    opened: list[int] = field(default_factory=list)  # alert ids
    resolved: list[int] = field(default_factory=list)
    failed_sources: list[str] = field(default_factory=list)
    sent: dict[int, dict[str, str]] = field(default_factory=dict)  # alert id -> channel -> what happened


def find_all(conn: Connection, config: Config, now: float,
             sources: list[Source]) -> tuple[dict[tuple[str, str], Finding], set[str], list[str]]:
    """Every finding, the kinds whose sources ran, and the names of those that failed."""
    scope = make_scope(conn, config, now)
    found: dict[tuple[str, str], Finding] = {}
    ran: set[str] = set()
    failed = []
    for src in sources:
        try:
            for f in src.find(scope):
                if f.kind not in src.kinds:
                    raise ValueError(f"source {src.name} returned a {f.kind} alert, not one of its kinds {src.kinds}")
                found.setdefault((f.kind, f.subject), f)
        except Exception:  # one broken source must not stop the others; its alerts stay as they are
            log.exception("alert source %s failed", src.name)
            failed.append(src.name)
            continue
        ran.update(src.kinds)
    return found, ran, failed


def run_round(engine: Engine, config: Config, now: float | None = None,
              sources: list[Source] | None = None) -> Round:
    now = time.time() if now is None else now
    result = Round()
    with db.read(engine) as conn:
        found, ran, result.failed_sources = find_all(conn, config, now, SOURCES if sources is None else sources)
    al = db.alerts
    with db.write(engine) as conn:
        db.lock(conn, "alerts-round")  # not LEASE_NAME: the leader's own session holds that one
        open_rows = {(r.kind, r.subject): r for r in conn.execute(sa.select(al).where(al.c.resolved_at.is_(None)))}
        for key, f in found.items():
            row = open_rows.get(key)
            if row is not None:
                if row.sentence != f.sentence or row.link != f.link:
                    conn.execute(al.update().where(al.c.id == row.id).values(sentence=f.sentence, link=f.link,
                                                                             updated_at=now))
                continue
            snooze = conn.execute(sa.select(sa.func.max(al.c.snoozed_until)).where(
                al.c.kind == f.kind, al.c.subject == f.subject, al.c.snoozed_until > now)).scalar()
            new_id = conn.execute(al.insert().values(
                kind=f.kind, subject=f.subject[:200], sentence=f.sentence, link=f.link[:400], opened_at=now,
                updated_at=now, snoozed_until=snooze).returning(al.c.id)).scalar_one()
            result.opened.append(new_id)
        for key, row in open_rows.items():
            if key not in found and row.kind in ran:
                conn.execute(al.update().where(al.c.id == row.id).values(resolved_at=now))
                result.resolved.append(row.id)
    result.sent = deliver_pending(engine, config, now)
    return result


def _message(config: Config, row, event: str) -> delivery.Message:
    at = row.resolved_at if event == "resolved" else row.opened_at
    return delivery.Message(event=event, kind=row.kind, title=KIND_TITLES.get(row.kind, row.kind),
                            subject=row.subject, sentence=row.sentence, link=delivery.full_link(config, row.link),
                            at=datetime.fromtimestamp(at, config.zone).strftime("%Y-%m-%d %H:%M %Z"))


def deliver_pending(engine: Engine, config: Config, now: float) -> dict[int, dict[str, str]]:
    """Send each opening and resolution not yet sent, unless snoozed. Returns what happened."""
    al = db.alerts
    not_snoozed = sa.or_(al.c.snoozed_until.is_(None), al.c.snoozed_until <= now)
    with db.read(engine) as conn:
        pending = conn.execute(sa.select(al).where(not_snoozed, sa.or_(
            sa.and_(al.c.open_sent_at.is_(None), al.c.resolved_at.is_(None)),
            sa.and_(al.c.resolved_at.is_not(None), al.c.open_sent_at.is_not(None), al.c.resolved_sent_at.is_(None)),
        )).order_by(al.c.id)).all()
    out: dict[int, dict[str, str]] = {}
    for row in pending:
        event, column = ("opened", "open_sent_at") if row.open_sent_at is None else ("resolved", "resolved_sent_at")
        with db.write(engine) as conn:  # the claim: whoever sets it sends
            claimed = conn.execute(al.update().where(al.c.id == row.id, al.c[column].is_(None))
                                   .values({column: now})).rowcount
        if not claimed:
            continue
        results = delivery.send(config, _message(config, row, event)) if delivery.channels(config) else {}
        out[row.id] = results
        note = "; ".join(f"{channel}: {what}" for channel, what in results.items()) or "no channel configured"
        with db.write(engine) as conn:
            values: dict = {"delivery": json.dumps({"event": event, "at": now, "note": note})}
            failed = bool(results) and not delivery.succeeded(results)
            if failed:
                values[column] = None  # every channel failed: the next round tries again
            conn.execute(al.update().where(al.c.id == row.id).values(values))
        if failed:
            break  # and the rest wait for it too, rather than each waiting out a dead relay's timeout
    return out


def _lease_key() -> int:
    return int.from_bytes(LEASE_NAME.encode()[:8].ljust(8, b"\0"), "big") & 0x7FFFFFFFFFFFFFFF


class Lease:
    """Whether this process is the one that evaluates alerts; see the module's docstring."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._conn: Connection | None = None
        self._file = None

    def held(self) -> bool:
        if db.is_sqlite(self.engine):
            return self._flock()
        if self._conn is not None:
            try:
                self._conn.exec_driver_sql("SELECT 1")
                return True
            except sa.exc.DBAPIError:
                self.release()  # the connection broke, and the lock with it: try for it again
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        if conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": _lease_key()}).scalar():
            self._conn = conn
            return True
        conn.close()
        return False

    def _flock(self) -> bool:
        if self._file is None:
            path = Path(self.engine.url.database or "server.db").with_suffix(".alerts.lock")
            self._file = open(path, "a+b")  # noqa: SIM115 - held open while the process leads
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._file.close()
                self._file = None
        return self._file is not None

    def release(self) -> None:
        if self._conn is not None:
            # Unlocked now (a closed connection's backend lets go only when it has exited), then
            # invalidated rather than returned to the pool, where it would keep any lock left.
            try:
                self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _lease_key()})
            except sa.exc.DBAPIError:
                pass  # the connection is gone, and the lock with it
            self._conn.invalidate()
            self._conn.close()
            self._conn = None
        if self._file is not None:
            self._file.close()
            self._file = None


class AlertLoop:
    """The background thread of a server process: while this process holds the lease, an alerts
    round every alert_interval seconds and a rollout guard run every guard_interval minutes (each
    0: off). The guard runs just before a round, so the round tells staff of what it decided.
    create_app starts it and stops it with the app."""

    def __init__(self, engine: Engine, config: Config,
                 hooks: tuple[Callable[[Engine, Config], object], ...] = ()):
        """`hooks`: other periodic work that must run in one process at a time (the studio's
        scheduled publishing), called after each round by the process that holds the lease."""
        self.engine, self.config, self.hooks = engine, config, hooks
        self.lease = Lease(engine)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alerts", daemon=True)
        self.alerts_every = max(0.0, config.alert_interval)
        self.guard_every = max(0.0, config.guard_interval * 60)

    def start(self) -> None:
        if self.alerts_every or self.guard_every:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self.lease.release()

    def _run(self) -> None:
        tick = min(x for x in (self.alerts_every, self.guard_every) if x)
        self._guard_at = time.monotonic() + self.guard_every  # the first guard run one interval after start
        while not self._stop.wait(tick):
            try:
                self.tick()
            except sa.exc.OperationalError as exc:  # the database went away for a moment: next round
                log.warning("alert round skipped: %s", str(exc).splitlines()[0])
            except Exception:
                log.exception("alert round failed")

    _guard_at = 0.0  # monotonic time of the next guard run

    def tick(self, now: float | None = None) -> dict | None:
        """What the thread does at each wake-up: nothing unless this process holds the lease; else
        the guard's run when it is due, then an alerts round. Returns what ran (None: not the
        leader), {"guard": [Status...] or absent, "round": Round or absent}."""
        if not self.lease.held():
            return None
        done: dict = {}
        mono = time.monotonic()
        if self.guard_every and mono >= self._guard_at:
            self._guard_at = mono + self.guard_every
            done["guard"] = self._guard(now)
        if self.alerts_every:
            done["round"] = run_round(self.engine, self.config, now)
        for hook in self.hooks:  # each on its own: a failed one does not hold up the others
            try:
                hook(self.engine, self.config)
            except Exception:
                log.exception("periodic %s failed", getattr(hook, "__qualname__", hook))
        return done

    def _guard(self, now: float | None) -> list | None:
        from server import rollout_guard  # the guard imports publishing, which the alert sources need not

        try:
            return rollout_guard.run_once(self.engine, self.config, now)
        except Exception:  # logged; the alerts round still runs, and the next guard run tries again
            log.exception("the rollout guard's run failed")
            return None
