"""Bytes per kiosk per day, for the Fleet page: kiosks often sit on metered 4G links.

ServerGuard (server/guard.py) counts each request's bytes as they crossed the wire into this
process (request line, headers and body as sent, gzip included) and the response's (status line,
headers, body) and, when the request was a device's (server.deps.require_device marks it), adds
them to this process's tally. The tally is written to `device_traffic` (one row per device and
day, the site's day: server setting time_zone, as every page's days are) every FLUSH_EVERY seconds in one transaction, and once more when the server stops, so
counting costs a dictionary update per request, not a database write. TLS and TCP overhead,
which nginx sees and this process does not, are not in it (docs/deployment.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta, tzinfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from server import db

log = logging.getLogger("kiosk-server.traffic")
FLUSH_EVERY = 30.0  # seconds


def site_day(t: float, zone: tzinfo) -> str:
    return datetime.fromtimestamp(t, zone).strftime("%Y-%m-%d")


def head_bytes(first_line: bytes | str, headers) -> int:
    """The size of an HTTP/1.1 head: its first line and its headers, each line with its CRLF."""
    first = first_line.encode("latin-1") if isinstance(first_line, str) else first_line
    return len(first) + 2 + sum(len(k) + len(v) + 4 for k, v in headers) + 2


class Meter:
    """One request's bytes in and out, added to the app's tally when a device made it."""

    def __init__(self, scope) -> None:
        self.scope = scope
        target = (scope.get("raw_path") or scope["path"].encode()) + (
            b"?" + scope["query_string"] if scope.get("query_string") else b"")
        self.bytes_in = head_bytes(scope["method"].encode() + b" " + target + b" HTTP/1.1", scope["headers"])
        self.bytes_out = 0

    def counting_receive(self, receive):
        async def counted():
            message = await receive()
            if message["type"] == "http.request":
                self.bytes_in += len(message.get("body", b""))
            return message
        return counted

    def counting_send(self, send):
        async def counted(message):
            if message["type"] == "http.response.start":
                self.bytes_out += head_bytes(f"HTTP/1.1 {message['status']} OK", message.get("headers", []))
            elif message["type"] == "http.response.body":
                self.bytes_out += len(message.get("body", b""))
            await send(message)
        return counted

    def record(self) -> None:
        device_id = self.scope.get("state", {}).get("device_id")  # set by server.deps.require_device
        tally = getattr(getattr(self.scope.get("app"), "state", None), "traffic", None)
        if device_id is not None and tally is not None:
            tally.add(device_id, self.bytes_in, self.bytes_out)


class Tally:
    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone  # the site's: a day on the Fleet page is the site's day
        self._lock = threading.Lock()
        self._counts: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0, 0])

    def add(self, device_id: int, bytes_in: int, bytes_out: int, now: float | None = None) -> None:
        key = (device_id, site_day(time.time() if now is None else now, self.zone))
        with self._lock:
            counts = self._counts[key]
            counts[0] += bytes_in
            counts[1] += bytes_out
            counts[2] += 1

    def flush(self, engine: Engine) -> int:
        """Write what was counted since the last flush; the rows touched."""
        with self._lock:
            taken, self._counts = self._counts, defaultdict(lambda: [0, 0, 0])
        if not taken:
            return 0
        table = db.device_traffic
        with db.write(engine) as conn:
            if conn.dialect.name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert
            else:
                from sqlalchemy.dialects.sqlite import insert
            for (device_id, day), (bytes_in, bytes_out, requests) in sorted(taken.items()):
                stmt = insert(table).values(device_id=device_id, day=day, bytes_in=bytes_in, bytes_out=bytes_out,
                                            requests=requests)
                conn.execute(stmt.on_conflict_do_update(index_elements=["device_id", "day"], set_={
                    "bytes_in": table.c.bytes_in + bytes_in, "bytes_out": table.c.bytes_out + bytes_out,
                    "requests": table.c.requests + requests}))
        return len(taken)

    def start_periodic(self, engine: Engine, every: float = FLUSH_EVERY) -> threading.Event:
        """Flush every `every` seconds until the returned event is set (the server's shutdown then
        calls flush_logged once more itself)."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(every):
                self.flush_logged(engine)

        threading.Thread(target=loop, name="device-traffic", daemon=True).start()
        return stop

    def flush_logged(self, engine: Engine) -> None:
        try:
            self.flush(engine)
        except Exception:  # the counts of one round are lost, never a request
            log.exception("could not write the devices' byte counts")


def per_device(conn: Connection, zone: tzinfo, now: float | None = None,
               days: int = 7) -> dict[int, dict[str, float]]:
    """device id -> {"today": bytes today (the site's day in `zone`), "per_day": mean bytes per day
    over the last `days` full days it was counted, 0 when there were none}."""
    now = time.time() if now is None else now
    today = site_day(now, zone)
    since = (datetime.fromtimestamp(now, zone) - timedelta(days=days)).strftime("%Y-%m-%d")
    t = db.device_traffic
    rows = conn.execute(sa.select(t.c.device_id, t.c.day, (t.c.bytes_in + t.c.bytes_out).label("bytes"))
                        .where(t.c.day >= since)).all()
    out: dict[int, dict[str, float]] = {}
    for device_id, day, total in rows:
        entry = out.setdefault(device_id, {"today": 0, "per_day": 0, "_days": 0, "_sum": 0})
        if day == today:
            entry["today"] = total
        else:
            entry["_days"] += 1
            entry["_sum"] += total
    for entry in out.values():
        days_seen, total = entry.pop("_days"), entry.pop("_sum")
        entry["per_day"] = total / days_seen if days_seen else 0
    return out
