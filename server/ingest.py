"""Event ingest: check each event on its own, store each (device, uuid) once.

A malformed event is rejected with a reason and the rest of the batch is still stored, so one bad
row never blocks a kiosk's outbox. Storage is INSERT ... ON CONFLICT (device, uuid) DO NOTHING
RETURNING uuid: the unique constraint, not a read-then-write, decides what is new, so concurrent
re-sends of the same batch (from several server processes, too) leave exactly one row per uuid.
The uuids are each kiosk's own: another device sending the same uuid never makes this one's event
a duplicate (shared/DESIGN.md, "Events are unique per (device, uuid)").
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from contract.events import EVENT_TYPES, scrub, scrub_query
from contract.limits import MAX_ID_LENGTH
from server import db, summary
from server.config import MAX_OFFLINE_DAYS
from server.params import MAX_INT

UUID = re.compile(r"^[0-9a-f]{32}$")
MAX_BATCH = 1000
MAX_DATA_BYTES = 20_000
CHANNELS = ("kiosk", "mobile")
# A kiosk clock can be wrong, but no event happens after it reaches the server.
FUTURE_SLACK = 300.0
# ... nor longer ago than a kiosk may be offline (shared/DESIGN.md: 90 days): a clock reset to 1970,
# or a wrong offset, would otherwise date the event anywhere in history. The kiosk's own reading
# is kept as it was sent, in kiosk_time; server_time is clamped.
MAX_EVENT_AGE = MAX_OFFLINE_DAYS * 86400.0


@dataclass
class IngestResult:
    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


class Malformed(ValueError):
    pass


def _text(event: dict, key: str, max_len: int, required: bool = False) -> str | None:
    value = event.get(key)
    if value is None:
        if required:
            raise Malformed(f"'{key}' is missing")
        return None
    if not isinstance(value, str) or (required and not value):
        raise Malformed(f"'{key}' must be text")
    if len(value) > max_len:
        raise Malformed(f"'{key}' is longer than {max_len} characters")
    if "\x00" in value or not value.isprintable():
        raise Malformed(f"'{key}' holds control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Malformed(f"'{key}' is not valid Unicode text") from None
    return value


def _int(value: Any, what: str, lo: int = 0, hi: int = MAX_INT) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise Malformed(f"'{what}' must be a whole number from {lo} to {hi}")
    return value


def _number(value: Any, what: str, required: bool = False) -> float | None:
    if value is None:
        if required:
            raise Malformed(f"'{what}' is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or abs(value) > 1e12:
        raise Malformed(f"'{what}' must be a number of seconds")
    return float(value)


def check_event(event: Any, device: str, received_at: float) -> dict[str, Any]:
    """The row to store for one event, or Malformed with the reason."""
    if not isinstance(event, dict):
        raise Malformed("an event must be a JSON object")
    uuid = event.get("uuid")
    if not isinstance(uuid, str) or not UUID.match(uuid):
        raise Malformed("'uuid' must be 32 lower-case hex digits")
    kind = event.get("type")
    if kind not in EVENT_TYPES:
        shown = kind[:40] if isinstance(kind, str) else type(kind).__name__  # never str() of a huge value
        raise Malformed(f"type {shown!r} is not an event type")
    sender = _text(event, "device", 80, required=True)
    if sender != device:
        raise Malformed(f"event is from device {sender[:80]!r}, but the token belongs to {device!r}")
    channel = event.get("channel", "kiosk")
    if channel not in CHANNELS:
        raise Malformed("'channel' must be 'kiosk' or 'mobile'")
    kiosk_time = _number(event.get("kiosk_time"), "kiosk_time", required=True)
    raw_time = _number(event.get("wall_time"), "wall_time")
    offset = _number(event.get("server_time_offset"), "server_time_offset") or 0.0
    server_time = min(max(kiosk_time + offset, received_at - MAX_EVENT_AGE), received_at + FUTURE_SLACK)
    data = event.get("data") or {}
    if not isinstance(data, dict):
        raise Malformed("'data' must be a JSON object")
    row: dict[str, Any] = {
        "uuid": uuid, "device": device, "type": kind, "channel": channel,
        "session": _text(event, "session", 80, required=True),
        # the limit validation puts on guide and step ids, so no published id is too long here
        "guide": _text(event, "guide", MAX_ID_LENGTH),
        "guide_version": _int(event.get("guide_version"), "guide_version"),
        "step": _text(event, "step", MAX_ID_LENGTH), "lang": _text(event, "lang", 16),
        # kiosk_time is the session's wall-clock start plus monotonic time since; wall_time, sent
        # only when the kiosk's wall clock stepped, is the raw reading (kiosk/clock.py).
        "kiosk_time": kiosk_time, "mono": _number(event.get("mono"), "mono"),
        "kiosk_time_raw": kiosk_time if raw_time is None else raw_time,
        "server_time": server_time, "received_at": received_at,
        "outcome": None, "rating": None, "helped": None, "comment": None, "query": None, "hits": None,
    }
    data = dict(data)
    if kind == "outcome":
        if data.get("outcome") not in ("resolved", "escalate"):
            raise Malformed("an outcome event needs data.outcome 'resolved' or 'escalate'")
        row["outcome"] = data["outcome"]
    elif kind == "feedback":
        helped = data.get("helped")
        if helped is not None and not isinstance(helped, bool):
            raise Malformed("data.helped must be true, false or null")
        row["helped"] = helped
        row["rating"] = _int(data.get("rating"), "data.rating", 1, 5)
        comment = data.get("comment")
        if comment is not None and not isinstance(comment, str):
            raise Malformed("data.comment must be text")
        # Scrubbed again here: an old kiosk build, or anything posting events, may not have.
        row["comment"] = scrub(comment) if comment else None
        data["comment"] = row["comment"] or ""
    elif kind == "search":
        query = data.get("query")
        if query is not None and not isinstance(query, str):
            raise Malformed("data.query must be text")
        row["query"] = scrub_query(query) if query else None
        if query is not None:
            data["query"] = row["query"] or ""
        row["hits"] = _int(data.get("hits"), "data.hits")
    elif kind == "choice":
        _int(data.get("index"), "data.index", 0, 999)
    encoded = json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False, default=str)
    if len(encoded) > MAX_DATA_BYTES:
        raise Malformed(f"'data' is larger than {MAX_DATA_BYTES} bytes")
    row["data"] = encoded
    return row


_PG_COLUMNS = [c.name for c in db.events.c if c.name != "id"]
_PG_INSERT: list[sa.TextClause] = []


def _pg_insert(conn) -> sa.TextClause:
    if not _PG_INSERT:
        typed = ", ".join(f'"{c.name}" {c.type.compile(dialect=conn.dialect)}' for c in db.events.c if c.name != "id")
        names = ", ".join(f'"{name}"' for name in _PG_COLUMNS)
        _PG_INSERT.append(sa.text(
            f"WITH t AS (SELECT * FROM json_to_recordset(CAST(:rows AS json)) AS t({typed})), "
            "new AS (INSERT INTO event_ids (device, uuid, received_at) SELECT :one_device, uuid, :one_received FROM t "
            "ON CONFLICT DO NOTHING RETURNING uuid) "
            f"INSERT INTO events ({names}) SELECT {names} FROM t WHERE t.uuid IN (SELECT uuid FROM new) RETURNING uuid"))
    return _PG_INSERT[0]


def _insert_new(conn, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the rows whose (device, uuid) is new; return those uuids (a batch is one device's)."""
    if conn.dialect.name == "postgresql":
        # One statement over the batch as one JSON text (json_to_recordset): psycopg dumps 21
        # arrays of 1,000 values each in Python, which took longer than the json.dumps of the same
        # rows (in C) and PostgreSQL's parse of it together (the insert is 30-40% quicker; a
        # 1,000-row VALUES list, before that, had 21,000 placeholders to parse). Floats travel as
        # their shortest repr, which PostgreSQL reads back to the same double. The partitioned
        # events table holds no unique constraint (server/partitions.py): event_ids takes each
        # (device, uuid) once, and only the rows it took are stored. A concurrent re-send of the
        # same uuid waits on the first transaction's event_ids row and then finds it taken.
        body = json.dumps([{name: r[name] for name in _PG_COLUMNS} for r in rows], ensure_ascii=False,
                          separators=(",", ":"), allow_nan=False)
        return set(conn.execute(_pg_insert(conn), {"rows": body, "one_device": rows[0]["device"],
                                                   "one_received": rows[0]["received_at"]}).scalars().all())
    stmt = db.insert_ignore(conn, db.events, ["device", "uuid"]).returning(db.events.c.uuid)
    return set(conn.execute(stmt, rows).scalars().all())


def store_events(engine: Engine, device: str, events: list[Any], touch_device_id: int | None = None) -> IngestResult:
    """Store the well-formed events of a batch; `touch_device_id` also marks that device as seen."""
    received_at = time.time()
    result = IngestResult()
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, event in enumerate(events):
        try:
            row = check_event(event, device, received_at)
        except Malformed as exc:
            uuid = event.get("uuid") if isinstance(event, dict) else None
            result.rejected.append({"uuid": uuid if isinstance(uuid, str) and len(uuid) <= 64 else None,
                                    "index": index, "reason": str(exc)})
            continue
        except (ValueError, TypeError, RecursionError) as exc:  # e.g. data too deep to encode
            result.rejected.append({"uuid": None, "index": index, "reason": f"cannot be read ({type(exc).__name__})"})
            continue
        if row["uuid"] in seen:
            result.duplicates.append(row["uuid"])  # the same event twice in one batch
            continue
        seen.add(row["uuid"])
        rows.append(row)
    inserted: set[str] = set()
    if rows or touch_device_id is not None:
        with db.write(engine) as conn:
            if rows:
                inserted = _insert_new(conn, rows)
                if inserted:  # keep the dashboard's per-session summaries equal to the raw events
                    summary.refresh(conn, device, {r["session"] for r in rows if r["uuid"] in inserted}, inserted)
            if touch_device_id is not None:
                conn.execute(db.devices.update().where(db.devices.c.id == touch_device_id)
                             .values(last_seen=received_at))
        for row in rows:
            (result.accepted if row["uuid"] in inserted else result.duplicates).append(row["uuid"])
    return result
