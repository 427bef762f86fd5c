"""Each kiosk's last reported database rebuild (the heartbeat's `recovered`), for the Fleet page.

Kept in the `settings` table under "device-recovered:<device id>" rather than in a devices column,
so that it needs no schema migration; it mirrors the last heartbeat as the devices columns do: a
heartbeat without `recovered` (a kiosk whose database was never rebuilt) removes the row.
"""

from __future__ import annotations

import sqlalchemy as sa

from contract.heartbeat import Recovered
from server import db

PREFIX = "device-recovered:"


def save(conn: sa.Connection, device_id: int, recovered: Recovered | None) -> None:
    """Within the heartbeat's write transaction."""
    key = f"{PREFIX}{device_id}"
    conn.execute(db.settings.delete().where(db.settings.c.key == key))
    if recovered is not None:
        conn.execute(db.settings.insert().values(key=key, value=recovered.stored()))


def by_device(conn: sa.Connection) -> dict[int, Recovered]:
    """device id -> its last reported rebuild; rows that no longer parse are left out."""
    rows = conn.execute(sa.select(db.settings.c.key, db.settings.c.value)
                        .where(db.settings.c.key.startswith(PREFIX))).all()
    out: dict[int, Recovered] = {}
    for key, value in rows:
        try:
            out[int(key.removeprefix(PREFIX))] = Recovered.model_validate_json(value)
        except ValueError:
            continue
    return out
