"""Event batches travel gzip-compressed (issue 16, metered 4G): the real kiosk transport compresses
once the server's replies announce protocol 4, the server stores the batch as if it were plain,
and the body limits hold for the decompressed bytes too: a gzip bomb is refused by name while
the server's memory stays where it was."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from server_testkit import prepare, start, stop

from contract.events import make_event
from contract.protocol import GZIP_PROTOCOL
from kiosk.transport import HttpTransport
from server import db
from server.guard import EVENTS_BODY


@pytest.fixture(scope="module")
def gz_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gzip")
    srv = start(prepare(tmp, str(tmp / "server.db")))
    yield srv
    stop(srv)


def peak_memory_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1])


def test_the_kiosk_sends_its_batch_compressed_and_every_event_is_stored(gz_server, tmp_path):
    transport = HttpTransport(gz_server.url, gz_server.tokens["kiosk-1"], tmp_path)
    try:
        assert transport.health() and transport.server_protocol >= GZIP_PROTOCOL
        batch = [make_event("search", device="kiosk-1", session="gz", guide="lost-bag", data={"query": "bag", "hits": 2})
                 for _ in range(300)]
        before = transport.counters.bytes_out
        reply = transport.post_events(batch)
        sent = transport.counters.bytes_out - before
    finally:
        transport.close()
    raw = len(json.dumps({"events": batch}, ensure_ascii=False, separators=(",", ":")).encode())
    assert sorted(reply.accepted) == sorted(e["uuid"] for e in batch)
    assert sent * 4 < raw, (sent, raw)  # what went over the wire: a quarter of the JSON at most
    engine = gz_server.engine()
    with engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(db.events).where(db.events.c.session == "gz")).scalar()
    engine.dispose()
    assert stored == 300


def test_a_gzip_bomb_is_refused_by_name_within_bounded_memory(gz_server):
    deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = b" " * (1 << 20)
    bomb = deflate.compress(b'{"events": [') + b"".join(deflate.compress(zeros) for _ in range(64)) + deflate.flush()
    assert len(bomb) < EVENTS_BODY  # the compressed body passes every limit on its size
    pid = gz_server.process.proc.pid
    before = peak_memory_kb(pid)
    with gz_server.device() as c:
        headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
        refused = c.post("/api/v1/events", content=bomb, headers=headers)
        broken = c.post("/api/v1/events", content=b"\x1f\x8b not gzip at all", headers=headers)
        other = c.post("/api/v1/events", content=b"{}", headers={**headers, "Content-Encoding": "br"})
        elsewhere = c.post("/api/v1/staff/login", content=gzip.compress(b"{}"), headers=headers)
        fine = c.post("/api/v1/events", json={"events": [make_event("restart", device="kiosk-1", session="after")]})
    grown_mb = (peak_memory_kb(pid) - before) / 1024
    assert refused.status_code == 413 and "once decompressed (gzip)" in refused.json()["detail"]
    assert f"{EVENTS_BODY:,} bytes" in refused.json()["detail"]
    assert grown_mb < 16, f"the server's peak memory grew {grown_mb:.0f} MB on a 64 MB bomb"
    assert broken.status_code == 400 and "not valid gzip" in broken.json()["detail"]
    assert other.status_code == 415 and "'br'" in other.json()["detail"]
    assert elsewhere.status_code == 415
    assert fine.status_code == 200 and len(fine.json()["accepted"]) == 1
