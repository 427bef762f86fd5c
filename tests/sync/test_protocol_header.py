"""Every request the kiosk makes says which protocol it speaks (X-Kiosk-Protocol), so a server
can keep answering kiosks of the previous release, which send none, the way they expect
(shared/DESIGN.md, "Mixed fleets keep working")."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

from contract.heartbeat import Heartbeat
from contract.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION
from kiosk.transport import HttpTransport

IMAGE = b"\x89PNG not really"
GUIDE = b'{"id":"g"}'


class _Recorder(BaseHTTPRequestHandler):
    """Answers each endpoint the way the contract allows and notes the protocol each request named."""

    seen: ClassVar[list[tuple[str, str, str | None]]] = []

    def log_message(self, *_args):
        pass

    def _reply(self, body: bytes, status: int = 200) -> None:
        self.seen.append((self.command, self.path, self.headers.get(PROTOCOL_HEADER)))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        replies = {"/healthz": b'{"status":"ok"}', "/api/v1/server-key": b'{"public_key":"k"}',
                   "/api/v1/content/manifest": json.dumps({"manifest": {}, "signature": ""}).encode(),
                   "/api/v1/content/guides/g/1": GUIDE, f"/api/v1/content/images/{_sha(IMAGE)}": IMAGE,
                   "/api/v1/device": b'{"name":"gate-12","location":null}'}
        self._reply(replies[self.path])

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self._reply(b'{"accepted":[],"duplicates":[],"rejected":[],"server_time":0}')


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_every_request_names_the_kiosks_protocol(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Recorder.seen = []
    transport = HttpTransport(f"http://127.0.0.1:{server.server_address[1]}", "token", tmp_path)
    try:
        assert transport.health()
        transport.fetch_server_key()
        transport.fetch_manifest()
        transport.fetch_guide("g", 1, _sha(GUIDE))
        transport.fetch_image(_sha(IMAGE), len(IMAGE))
        assert transport.fetch_device().name == "gate-12"
        transport.post_events([])
        transport.post_heartbeat(Heartbeat())
    finally:
        transport.close()
        server.shutdown()
        server.server_close()
    assert len(_Recorder.seen) == 8
    assert {(method, path, protocol) for method, path, protocol in _Recorder.seen
            if protocol != str(PROTOCOL_VERSION)} == set()
