"""Serving published content: the signed manifest (with ETag), the delta from a version a kiosk
has (contract/delta.py), guide documents and images (immutable, content-addressed, with byte
ranges so a cut download resumes)."""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import re
from threading import Lock

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.engine import Engine

from contract.canonical import canonical_json
from contract.delta import make_delta
from server import db
from server.auth import Device
from server.signing import sign

SHA256 = re.compile(r"^[0-9a-f]{64}$")
IMMUTABLE = "public, max-age=31536000, immutable"
MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}
_RANGE = re.compile(r"^bytes=(\d{0,18})-(\d{0,18})$")


class ManifestCache:
    """Signed manifest bodies by (content version, group, epoch). Only a cache: any process rebuilds
    the same bytes from the database (Ed25519 signatures are deterministic).

    A device's manifest is its group's version, naming the group and the device's epoch; both are
    left out at their defaults (`default`, 0), so a kiosk in the default group that never moved or
    was rolled back gets the same bytes, ETag and signature as before groups existed."""

    LIMIT = 4096  # distinct (version, group, epoch) bodies kept
    DELTA_LIMIT = 1024  # distinct (since, target ETag) deltas kept

    def __init__(self) -> None:
        self._bodies: dict[tuple[int, str, int], tuple[bytes, str]] = {}
        self._deltas: dict[tuple[int, str], bytes | None] = {}
        self._lock = Lock()

    def get(self, engine: Engine, key, group: str = db.DEFAULT_GROUP, epoch: int = 0) -> tuple[bytes, str] | None:
        with db.read(engine) as conn:
            version = conn.execute(sa.select(db.rollout_groups.c.content_version)
                                   .where(db.rollout_groups.c.name == group)).scalar()
            if version is None:
                return None
            wanted = (version, group, epoch)
            if wanted in self._bodies:
                return self._bodies[wanted]
            manifest_json = conn.execute(sa.select(db.content_versions.c.manifest_json)
                                         .where(db.content_versions.c.version == version)).scalar_one()
        manifest = json.loads(manifest_json)
        if group == db.DEFAULT_GROUP and not epoch:
            canonical = manifest_json.encode()
        else:
            if group != db.DEFAULT_GROUP:
                manifest["group"] = group
            if epoch:
                manifest["epoch"] = epoch
            canonical = canonical_json(manifest)
        etag = '"' + hashlib.sha256(canonical).hexdigest()[:32] + '"'
        body = json.dumps({"manifest": manifest, "signature": sign(key, canonical)},
                          ensure_ascii=False, separators=(",", ":")).encode()
        with self._lock:
            if len(self._bodies) >= self.LIMIT:
                self._bodies.clear()
            self._bodies[wanted] = (body, etag)
        return body, etag


    def delta(self, engine: Engine, key, since: int, target_body: bytes, etag: str,
              group: str = db.DEFAULT_GROUP, epoch: int = 0) -> bytes | None:
        """The signed delta body from content version `since` to the manifest `target_body` (whose
        ETag is `etag`), or None when the full manifest is what to send: `since` is not a version
        this server has, its stored manifest does not read as one, or the delta would not be
        much smaller than the whole. A fleet on the same version shares one computed body."""
        wanted = (since, etag)
        if wanted in self._deltas:
            return self._deltas[wanted]
        with db.read(engine) as conn:
            base_json = conn.execute(sa.select(db.content_versions.c.manifest_json)
                                     .where(db.content_versions.c.version == since)).scalar()
        body = None
        base = _manifest_of(base_json, since)
        if base is not None:
            # The base as the kiosk accepted it: with the group and epoch it has now (a kiosk whose
            # epoch differs is sent the full manifest before it gets here).
            if group != db.DEFAULT_GROUP:
                base["group"] = group
            if epoch:
                base["epoch"] = epoch
            signed = json.loads(target_body)
            delta = make_delta(base, signed["manifest"])
            canonical = canonical_json(delta)
            if len(canonical) * 2 < len(target_body):
                body = json.dumps({"delta": delta, "signature": sign(key, canonical),
                                   "manifest_signature": signed["signature"]},
                                  ensure_ascii=False, separators=(",", ":")).encode()
        with self._lock:
            if len(self._deltas) >= self.DELTA_LIMIT:
                self._deltas.clear()
            self._deltas[wanted] = body
        return body


def _manifest_of(manifest_json: str | None, version: int) -> dict | None:
    """A stored manifest as a delta's base; None when there is none or it does not read as the
    manifest of `version` (damaged rows mean the full manifest, never a wrong delta)."""
    if manifest_json is None:
        return None
    try:
        manifest = json.loads(manifest_json)
    except ValueError:
        return None
    if (not isinstance(manifest, dict) or manifest.get("content_version") != version
            or not isinstance(manifest.get("guides"), dict) or not isinstance(manifest.get("images"), dict)):
        return None
    return manifest


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return etag in tags


def manifest_response(request: Request, device: Device, since: int | None = None,
                      epoch: int | None = None) -> Response:
    """The device's signed manifest, or (`since`: the content version the kiosk has, `epoch`: the
    one it accepted) the signed delta from it; the full manifest whenever no delta fits: `since`
    unknown or damaged, or another epoch (the device moved group or its group was rolled back).
    Both carry the full manifest's ETag, so an unchanged library is one 304 either way."""
    ctx = request.app.state.ctx
    found = ctx.manifests.get(ctx.engine, ctx.signing_key, device.group, device.epoch)
    if found is None:
        return JSONResponse({"detail": "no content has been published yet"}, status_code=404)
    body, etag = found
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if since is not None and epoch == device.epoch:
        delta = ctx.manifests.delta(ctx.engine, ctx.signing_key, since, body, etag, device.group, device.epoch)
        if delta is not None:
            body = delta
            if len(body) < 1400:  # one packet either way: gzip would add its header for nothing
                return Response(body, media_type="application/json", headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        # A manifest lists every guide and image hash: ~120 bytes a guide, mostly hex. Sent
        # compressed, one changed guide in a 1,000-guide library costs a fraction of the full
        # list. Only the manifest is compressed here: images are already compressed and are
        # served with byte ranges, which a compressed body would break.
        return Response(_gzipped(body), media_type="application/json",
                        headers={**headers, "Content-Encoding": "gzip"})
    return Response(body, media_type="application/json", headers=headers)


@functools.lru_cache(maxsize=8)
def _gzipped(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=6, mtime=0)


def image_response(request: Request, sha256: str, published_only: bool = False) -> Response:
    """An image of the server's store by its sha256 (ETag, ranges); `published_only`: only one that
    is in a published content version (the public phone pages), not one only in a studio draft."""
    if not SHA256.match(sha256):
        return JSONResponse({"detail": "an image is named by the sha256 of its bytes (64 hex digits)"},
                            status_code=404)
    etag = f'"{sha256}"'
    where = [db.images.c.sha256 == sha256, *([db.images.c.published_at.is_not(None)] if published_only else [])]
    fresh = etag_matches(request.headers.get("if-none-match"), etag)
    if fresh and not published_only:
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": IMMUTABLE})
    with db.read(request.app.state.ctx.engine) as conn:
        # a cached copy still needs the image to be published: only whether it is, not its bytes
        row = conn.execute(sa.select(*([db.images.c.sha256] if fresh else [db.images.c.kind, db.images.c.data]))
                           .where(*where)).first()
    if row is not None and fresh:
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": IMMUTABLE})
    if row is None:
        return JSONResponse({"detail": "no such image"}, status_code=404)
    data = bytes(row.data)
    size = len(data)
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE, "Accept-Ranges": "bytes"}
    media_type = MEDIA_TYPES.get(row.kind, "application/octet-stream")
    wanted = request.headers.get("range")
    if wanted:
        m = _RANGE.match(wanted.strip())
        start = end = None
        if m and (m.group(1) or m.group(2)):
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            else:  # suffix range: the last N bytes
                start, end = max(size - int(m.group(2)), 0), size - 1
        if start is None or start >= size or end < start:
            return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
        return Response(data[start:end + 1], status_code=206, media_type=media_type,
                        headers={**headers, "Content-Range": f"bytes {start}-{end}/{size}"})
    return Response(data, media_type=media_type, headers=headers)
