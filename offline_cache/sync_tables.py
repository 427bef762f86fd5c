"""The sync client's own tables in the kiosk's store (migration m002): staged guides and rejected
events, and the one write transaction the content switch runs in.

Kept beside store.py rather than in it: store.py owns what the app reads; this owns what only
sync writes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any

from offline_cache.errors import public_methods_raise_store_errors
from offline_cache.store import OutboxEvent, Store


@public_methods_raise_store_errors
class SyncTables:
    """Raises StoreError (StoreFull, StoreCorrupt) like the Store, never sqlite3's errors."""

    def __init__(self, store: Store):
        self.store = store

    @property
    def path(self):
        return self.store.path

    def transaction(self) -> AbstractContextManager[None]:
        """The store's write transaction: Store methods called inside it (install_content,
        set_state) join it, so a switch and its bookkeeping commit together."""
        return self.store.transaction()

    # --- staged guides -------------------------------------------------------------------------

    def stage_guides(self, rows: Iterable[tuple[str, int, str, bytes]]) -> None:
        """(id, version, sha256, body) of verified guide downloads."""
        now = time.time()
        with self.transaction():
            self.store.db.conn.executemany(
                "INSERT OR REPLACE INTO staged_guides(id, version, sha256, body, staged_at) "
                "VALUES (?, ?, ?, ?, ?)", [(g, v, s, b, now) for g, v, s, b in rows])

    def staged(self) -> dict[tuple[str, int], tuple[str, bytes]]:
        """(id, version) -> (sha256, body) of everything staged."""
        rows = self.store.db.execute("SELECT id, version, sha256, body FROM staged_guides")
        return {(g, v): (s, bytes(b)) for g, v, s, b in rows}

    def staged_keys(self) -> dict[tuple[str, int], str]:
        rows = self.store.db.execute("SELECT id, version, sha256 FROM staged_guides")
        return {(g, v): s for g, v, s in rows}

    def unstage(self, keys: Iterable[tuple[str, int]]) -> None:
        with self.transaction():
            self.store.db.conn.executemany("DELETE FROM staged_guides WHERE id = ? AND version = ?",
                                           list(keys))

    def clear_staging(self) -> None:
        self.store.db.execute("DELETE FROM staged_guides")

    # --- rejected events -----------------------------------------------------------------------

    def reject_events(self, rejected: list[tuple[OutboxEvent, str]]) -> None:
        """Move events the server refused out of the outbox, with its reason, in one transaction."""
        if not rejected:
            return
        now = time.time()
        with self.transaction():
            self.store.db.conn.executemany(
                "INSERT INTO rejected_events(uuid, type, body, reason, rejected_at) VALUES (?, ?, ?, ?, ?)",
                [(e.uuid, e.type, json.dumps(e.body, ensure_ascii=False), reason, now) for e, reason in rejected])
            self.store.db.conn.executemany("DELETE FROM outbox WHERE seq = ?", [(e.seq,) for e, _ in rejected])

    def rejected_count(self) -> int:
        return self.store.db.execute("SELECT COUNT(*) FROM rejected_events").fetchone()[0]

    def rejected(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self.store.db.execute(
            "SELECT uuid, type, reason, rejected_at FROM rejected_events ORDER BY seq DESC LIMIT ?", [limit])
        return [{"uuid": u, "type": t, "reason": r, "at": at} for u, t, r, at in rows]
