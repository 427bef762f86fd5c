"""An in-memory server behind the Transport interface, for the sync logic's fast tests.

It publishes a real library (contract.guides) and signs real manifests (Ed25519), so what it hands
SyncService is what the wire contract says; it just skips HTTP. The end-to-end tests use the
real server on loopback instead.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from contract.canonical import canonical_json
from contract.guides import Library
from contract.heartbeat import Heartbeat
from contract.protocol import PROTOCOL_VERSION
from kiosk.transport import AuthError, EventsReply, IntegrityError, ManifestReply, NetworkError


class FakeServer:
    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.version = 0
        self.guides: dict[tuple[str, int], bytes] = {}
        self.current: dict[str, tuple[int, str]] = {}
        self.images: dict[str, bytes] = {}
        self.manifest: dict[str, Any] | None = None
        self.history: dict[int, dict[str, Any]] = {}  # content version -> its manifest, for deltas
        self.events: dict[str, dict] = {}
        self.heartbeats: list[dict] = []
        self.down = False
        self.token_ok = True
        self.requests: list[str] = []

    @property
    def public_key(self) -> str:
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    def publish(self, library: Library) -> int:
        self.version += 1
        for guide in library.guides.values():
            old = self.current.get(guide.id)
            if old is None or old[1] != guide.sha256:
                version = (old[0] + 1) if old else 1
                self.current[guide.id] = (version, guide.sha256)
                self.guides[(guide.id, version)] = guide.canonical_json()
        for gid in set(self.current) - set(library.guides):
            del self.current[gid]
        self.images.update(library.images)
        self.manifest = {
            "content_version": self.version, "published_at": "2026-11-23T10:00:00Z",
            "guides": {g: {"version": v, "sha256": s, "size": len(self.guides[(g, v)])}
                       for g, (v, s) in self.current.items()},
            "images": {h: {"size": len(self.images[h]), "type": "png"}
                       for g in library.guides.values() for h in g.images.values()},
        }
        if library.settings:  # as server/publish.py: only when the library has settings
            self.manifest["library"] = library.settings.to_dict()
        self.history[self.version] = copy.deepcopy(self.manifest)
        return self.version

    def etag(self) -> str:
        return '"' + hashlib.sha256(canonical_json(self.manifest)).hexdigest()[:32] + '"'


class FakeTransport:
    """Speaks to a FakeServer. `fail` maps a method name to an exception to raise once."""

    def __init__(self, server: FakeServer):
        self.server = server
        self.server_offset = 2.5
        self.server_protocol: int | None = PROTOCOL_VERSION  # what today's server announces
        self.fail: dict[str, Exception] = {}

    def _call(self, name: str) -> None:
        self.server.requests.append(name)
        if self.server.down:
            raise NetworkError(f"{name}: connection refused")
        if not self.server.token_ok and name != "health":
            raise AuthError(f"{name}: HTTP 401", 401)
        if name in self.fail:
            raise self.fail.pop(name)

    def health(self) -> bool:
        try:
            self._call("health")
        except NetworkError:
            return False
        return True

    def fetch_server_key(self) -> str:
        self._call("server_key")
        return self.server.public_key

    def fetch_manifest(self, etag: str | None = None) -> ManifestReply:
        self._call("manifest")
        s = self.server
        if s.manifest is None:
            return ManifestReply(404)
        if etag == s.etag():
            return ManifestReply(304, etag=etag)
        sig = base64.b64encode(s.key.sign(canonical_json(s.manifest))).decode()
        return ManifestReply(200, s.manifest, sig, s.etag())

    def fetch_guide(self, guide_id: str, version: int, sha256: str) -> bytes:
        self._call("guide")
        body = self.server.guides[(guide_id, version)]
        if hashlib.sha256(body).hexdigest() != sha256:
            raise IntegrityError("guide hash mismatch")
        return body

    def fetch_image(self, sha256: str, size: int | None = None) -> bytes:
        self._call("image")
        data = self.server.images[sha256]
        if hashlib.sha256(data).hexdigest() != sha256:
            raise IntegrityError("image hash mismatch")
        return data

    def post_events(self, events: list[dict[str, Any]]) -> EventsReply:
        self._call("events")
        accepted, duplicates, rejected = [], [], []
        for i, e in enumerate(events):
            if e.get("type") == "bogus":
                rejected.append({"uuid": e["uuid"], "index": i, "reason": "type 'bogus' is not an event type"})
            elif e["uuid"] in self.server.events:
                duplicates.append(e["uuid"])
            else:
                self.server.events[e["uuid"]] = e
                accepted.append(e["uuid"])
        return EventsReply(accepted, duplicates, rejected, 0.0)

    def post_heartbeat(self, beat: Heartbeat) -> dict[str, Any]:
        self._call("heartbeat")
        self.server.heartbeats.append(json.loads(beat.wire_bytes()))
        return {"server_time": 0.0}
