"""What goes over the wire, recorded from the real code: the sample library's guide documents
and their sha256s, the signed manifest the server sends for it, an event batch and a heartbeat
exactly as the kiosk's sync client posts them.

The refactor of the architecture issue must leave these bytes unchanged: a fleet mixes kiosks
of several releases, and a changed canonical form would change every digest and signature.
`python -m tests.wire.record DIR` writes the fixtures; tests/test_wire_unchanged.py compares.
Values that differ on every run (uuids, session ids, clocks, free disk) are masked by key in the
raw bytes, so key order, separators and escaping are still compared byte for byte.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from unittest import mock

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PUBLISHED_AT = 1_767_225_600.0  # 2026-01-01T00:00:00Z
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
_VOLATILE = re.compile(rb'"(uuid|session|kiosk_time|mono|free_disk|uptime|at|server_time_offset)":("[^"]*"|-?[0-9.eE+-]+)')


def mask(body: bytes) -> bytes:
    return _VOLATILE.sub(lambda m: b'"' + m.group(1) + b'":"<' + m.group(1) + b'>"', body)


class _Capture(BaseHTTPRequestHandler):
    """A stand-in server that answers the sync client and keeps every body it was sent."""

    bodies: ClassVar[dict[str, list[bytes]]] = {}

    def log_message(self, *_args):  # quiet
        pass

    def _reply(self, status: int, doc: dict) -> None:
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Server-Time", str(time.time()))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.endswith("/content/manifest"):
            self._reply(404, {"detail": "no content has been published yet"})
        else:
            self._reply(200, {"status": "ok"})

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.bodies.setdefault(self.path, []).append(body)
        if self.path.endswith("/events"):
            uuids = [e["uuid"] for e in json.loads(body)["events"]]
            self._reply(200, {"accepted": uuids, "duplicates": [], "rejected": [], "server_time": time.time()})
        else:
            self._reply(200, {"server_time": time.time()})


def _previous_release_library(tmp: Path) -> Path:
    """The sample library as the previous release shipped it: today's, without the optional
    fields added since (a guide's `icon`, `_library.yaml`). Content without them must give the
    same bytes as before (shared/DESIGN.md, "Mixed fleets"); content with them is new content."""
    import re
    import shutil

    from kiosk.paths import SAMPLE_LIBRARY

    folder = tmp / "previous-library"
    if not folder.exists():
        shutil.copytree(SAMPLE_LIBRARY, folder)
        (folder / "_library.yaml").unlink(missing_ok=True)
        for file in folder.glob("*.yaml"):
            file.write_text(re.sub(r"(?m)^icon: .*\n", "", file.read_text(encoding="utf-8")), encoding="utf-8")
    return folder


def _guides_and_manifest(tmp: Path) -> dict[str, bytes]:
    from contract.bundle import open_library
    from contract.digest import library_digest
    from server import db
    from server.content import ManifestCache
    from server.publish import publish_library

    library = open_library(_previous_release_library(tmp))
    out: dict[str, bytes] = {}
    docs = {gid: {"sha256": g.sha256, "document": g.canonical_json().decode()}
            for gid, g in sorted(library.guides.items())}
    out["guides.json"] = json.dumps(docs, indent=1, ensure_ascii=False).encode()
    out["library.digest"] = library_digest(library).encode()
    engine = db.make_engine(f"sqlite:///{tmp / 'server.db'}")
    db.migrate(engine)
    with mock.patch("time.time", return_value=PUBLISHED_AT):
        publish_library(engine, library, by="wire")
    body, etag = ManifestCache().get(engine, KEY)
    out["manifest.json"] = body
    out["manifest.etag"] = etag.encode()
    engine.dispose()
    return out


def _events_and_heartbeat(tmp: Path) -> dict[str, bytes]:
    from contract.bundle import open_library
    from kiosk.engine import SessionEngine
    from kiosk.sync import SyncService
    from kiosk.transport import HttpTransport
    from offline_cache.store import Store

    store = Store(tmp / "kiosk.db")
    store.import_library(open_library(_previous_release_library(tmp)), content_version="7")
    ticks = itertools.count()
    engine = SessionEngine(store, "kiosk-wire", clock=lambda: 1_767_225_600.0 + next(ticks),
                           monotonic=lambda: 100.0 + next(ticks))
    engine.start_session("es")
    engine.open_guide("lost-baggage")
    engine.choose(0)
    engine.feedback(True, 4, "Muy útil — write me at ana@example.com or +34 600 123 456 ✈")
    engine.set_language("ar")
    engine.record_search("أمتعة", 2)
    engine.end_session()

    _Capture.bodies = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        transport = HttpTransport(url, "token-wire", tmp)
        service = SyncService(store, transport, device="kiosk-wire", app_version="0.1.0", data_dir=tmp)
        result = service.sync_once()
        assert result.ok, result
        transport.close()
    finally:
        server.shutdown()
        server.server_close()
        store.close()
    [batch] = _Capture.bodies["/api/v1/events"]
    beats = _Capture.bodies["/api/v1/heartbeat"]
    return {"events.json": mask(batch), "heartbeat.json": mask(beats[-1])}


def record(tmp: Path) -> dict[str, bytes]:
    ids = (uuid.UUID(int=i) for i in itertools.count(1))
    with mock.patch("uuid.uuid4", lambda: next(ids)):
        return {**_guides_and_manifest(tmp), **_events_and_heartbeat(tmp)}


if __name__ == "__main__":
    import tempfile

    target = Path(sys.argv[1])
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in record(Path(tmp)).items():
            (target / name).write_bytes(data)
            print(f"{target / name}: {len(data)} bytes")
