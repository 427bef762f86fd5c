"""The event outbox: every event is written here first, sent in batches, and deleted only when
the server acknowledged it. Bounded: when full, the least telling events go first."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from offline_cache.errors import public_methods_raise_store_errors

# When the outbox is full, these go first (oldest first); feedback and outcomes are never dropped.
DROP_ORDER = ("step_view", "search", "language", "back", "choice", "restart", "handoff_shown",
              "session_start", "idle_timeout", "session_end")
NEVER_DROPPED = ("feedback", "outcome", "handoff_opened")
DEFAULT_OUTBOX_LIMIT = 200_000


@dataclass(frozen=True)
class OutboxEvent:
    seq: int
    uuid: str
    type: str
    body: dict[str, Any]


@public_methods_raise_store_errors
class Outbox:
    """The outbox half of Store (a mixin: Store provides `db`, `transaction` and `outbox_limit`)."""

    def append_event(self, event: dict[str, Any]) -> None:
        """Write one event durably before anything else happens with it."""
        self.append_events([event])

    def append_events(self, events: list[dict[str, Any]]) -> None:
        with self.transaction():
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO outbox(uuid, type, created_at, body) VALUES (?, ?, ?, ?)",
                [(e["uuid"], e["type"], time.time(), json.dumps(e, ensure_ascii=False)) for e in events])
            self._enforce_outbox_bound()

    def _enforce_outbox_bound(self) -> None:
        depth = self.outbox_depth()
        excess = depth - self.outbox_limit
        if excess <= 0:
            return
        dropped = 0
        for kind in DROP_ORDER:
            if excess - dropped <= 0:
                break
            cur = self.db.execute(
                "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE type = ? ORDER BY seq LIMIT ?)",
                [kind, excess - dropped])
            dropped += cur.rowcount
        if dropped:
            self.db.execute("INSERT INTO sync_state(key, value) VALUES ('outbox_dropped', ?) "
                            "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value", [dropped])

    def outbox_depth(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def take_batch(self, limit: int = 500, after_seq: int = 0) -> list[OutboxEvent]:
        """The oldest events not yet acknowledged. They stay in the outbox until ack()."""
        rows = self.db.execute("SELECT seq, uuid, type, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                               [after_seq, limit])
        return [OutboxEvent(seq, uuid, kind, json.loads(body)) for seq, uuid, kind, body in rows]

    def newest_event(self) -> OutboxEvent | None:
        """The event written last and not yet acknowledged (the engine closes a session a crash
        cut at this event's time)."""
        row = self.db.execute("SELECT seq, uuid, type, body FROM outbox ORDER BY seq DESC LIMIT 1").fetchone()
        return OutboxEvent(row[0], row[1], row[2], json.loads(row[3])) if row else None

    def ack(self, uuids: Iterable[str]) -> int:
        """Delete events the server acknowledged; only these ever leave the outbox."""
        uuids = list(uuids)
        with self.transaction():
            n = 0
            for i in range(0, len(uuids), 500):
                chunk = uuids[i:i + 500]
                cur = self.db.execute(f"DELETE FROM outbox WHERE uuid IN ({','.join('?' * len(chunk))})", chunk)
                n += cur.rowcount
        return n
