"""An HTTP proxy in front of the real server that lies in one chosen way, for the rejection tests:

  resign          the manifest is signed with another (attacker's) key, and so is a delta
  delta_resign    only a delta (GET /content/delta/N) is signed with another key; the full
                  manifest passes untouched
  delta_contents  a delta's contents are changed (a guide's entry), its signature kept
  guide_bytes     a guide's body is changed after the server sent it (its hash no longer matches)
  truncate_image  an image arrives complete by HTTP's account but with only half its bytes
  none            forwards everything untouched

Everything else (headers the kiosk sends, status codes, ETag, X-Server-Time) passes through.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contract.canonical import canonical_json

PASS_HEADERS = ("Authorization", "If-None-Match", "Range", "Content-Type", "X-Kiosk-Protocol")
KEEP_HEADERS = ("Content-Type", "ETag", "X-Server-Time", "Retry-After", "Content-Range", "Cache-Control",
                "X-Kiosk-Protocol")
DELTA = "/api/v1/content/delta/"


class TamperProxy:
    def __init__(self, upstream: str, mode: str = "none"):
        self.upstream = upstream.rstrip("/")
        self.mode = mode
        self.attacker = Ed25519PrivateKey.generate()
        self.tampered = 0
        self.paths: list[str] = []  # every request's path, in order
        self.deltas = 0  # replies of the delta route that carried a delta (not the full manifest)
        proxy = self
        session = requests.Session()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                proxy.paths.append(self.path)
                headers = {h: self.headers[h] for h in PASS_HEADERS if self.headers.get(h)}
                resp = session.request(method, proxy.upstream + self.path, data=body, headers=headers,
                                       timeout=30)
                data = proxy._tamper(self.path, resp.status_code, resp.content)
                self.send_response(resp.status_code)
                for h in KEEP_HEADERS:
                    if h in resp.headers:
                        self.send_header(h, resp.headers[h])
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._forward("GET")

            def do_POST(self) -> None:
                self._forward("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _tamper(self, path: str, status: int, data: bytes) -> bytes:
        if status == 200 and path.startswith(DELTA) and b'"delta":' in data[:20]:
            self.deltas += 1
        if status != 200 or self.mode == "none":
            return data
        if self.mode == "resign" and path.startswith(("/api/v1/content/manifest", DELTA)):
            doc = json.loads(data)
            if "delta" in doc:
                doc["signature"] = self._sign(doc["delta"])
                doc["manifest_signature"] = self._sign({"the": "attacker's"})
            else:
                doc["signature"] = self._sign(doc["manifest"])
            self.tampered += 1
            return json.dumps(doc).encode()
        if self.mode in ("delta_resign", "delta_contents") and path.startswith(DELTA):
            doc = json.loads(data)
            if "delta" not in doc:
                return data
            if self.mode == "delta_resign":
                doc["signature"] = self._sign(doc["delta"])
            else:
                entry = next(iter(doc["delta"]["guides"].values()))
                entry["version"] += 1
            self.tampered += 1
            return json.dumps(doc).encode()
        if self.mode == "guide_bytes" and path.startswith("/api/v1/content/guides/"):
            self.tampered += 1
            return data.replace(b"Help topic", b"Help tropic", 1)
        if self.mode == "truncate_image" and path.startswith("/api/v1/content/images/"):
            self.tampered += 1
            return data[: len(data) // 2]
        return data

    def _sign(self, doc: dict) -> str:
        return base64.b64encode(self.attacker.sign(canonical_json(doc))).decode()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
