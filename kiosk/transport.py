"""The kiosk's HTTP side of sync (docs/api.md): fetch and send, never touch the database.

`HttpTransport` speaks the wire contract with one `requests.Session` (keep-alive, connect/read
timeouts, the device's Bearer token). Everything it returns has been checked against what the
caller said to expect: a guide's body against its sha256, an image against its sha256 and size.
It learns the server's clock from its replies (X-Server-Time, kept by kiosk/clock.py's
ServerClock), and counts requests and bytes so tests and benchmarks can see what a sync cost.

Errors are sorted by what the caller should do about them:
  NetworkError   the server could not be reached, the reply was cut, 5xx: try again later
  RateLimited    429: wait `retry_after` seconds
  AuthError      401/403: retrying will not help until an operator fixes the token
  IntegrityError the bytes arrived but are not what the manifest promised: reject, retry later
  ProtocolError  any other reply the contract does not allow
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from contract.heartbeat import Heartbeat
from contract.protocol import GZIP_PROTOCOL, PROTOCOL_HEADER, PROTOCOL_VERSION, server_protocol
from kiosk import clock as kiosk_clock
from kiosk.clock import ServerClock

API = "/api/v1"
DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read between bytes) seconds
CHUNK = 64 * 1024  # what a cut keeps: progress is written chunk by chunk
GZIP_MIN_BYTES = 1024  # smaller bodies (a heartbeat) gain less than gzip's 20-byte frame costs to make


class TransportError(Exception):
    """Something went wrong talking to the server; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class NetworkError(TransportError):
    pass


class RateLimited(TransportError):
    def __init__(self, message: str, retry_after: float, server_time: float | None = None):
        super().__init__(message, 429)
        self.retry_after = retry_after
        self.server_time = server_time  # the 429's X-Server-Time: which second Retry-After counts from


class AuthError(TransportError):
    pass


class IntegrityError(TransportError):
    pass


class ProtocolError(TransportError):
    pass


@dataclass
class ManifestReply:
    """`manifest` is None when the server said 304 (unchanged) or 404 (nothing published yet), and
    when it sent a delta (contract/delta.py): then `delta` and `delta_signature` hold it and
    `signature` is the signature of the full manifest the delta leads to."""

    status: int
    manifest: dict[str, Any] | None = None
    signature: str | None = None
    etag: str | None = None
    delta: dict[str, Any] | None = None
    delta_signature: str | None = None


@dataclass
class EventsReply:
    accepted: list[str]
    duplicates: list[str]
    rejected: list[dict[str, Any]]
    server_time: float | None


@dataclass
class DeviceInfo:
    """Who the server says this token belongs to (GET /api/v1/device)."""

    name: str
    location: str | None = None


@dataclass
class Counters:
    requests: int = 0
    bytes_in: int = 0  # response bodies received
    bytes_out: int = 0  # request bodies sent
    resumed: int = 0  # image downloads continued with Range where a cut one stopped


def _retry_after(resp: requests.Response) -> float:
    try:
        return max(0.0, float(resp.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def _float_or_none(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


class HttpTransport:
    def __init__(self, base_url: str, token: str, data_dir: str | Path, *,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT, pool_size: int = 8,
                 clock: Callable[[], float] = time.time, monotonic: Callable[[], float] = kiosk_clock.monotonic,
                 boot: str | None = None):
        if not base_url:
            raise ValueError("no server URL is configured")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.tmp_dir = Path(data_dir) / "sync-tmp"  # partial image downloads, resumed with Range
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["User-Agent"] = "guide-kiosk-sync/1"
        # On every request, so the server can keep answering kiosks of the previous release (which
        # send no header) the way they expect (shared/DESIGN.md, "Mixed fleets keep working").
        self.session.headers[PROTOCOL_HEADER] = str(PROTOCOL_VERSION)
        adapter = requests.adapters.HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size,
                                                max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.counters = Counters()
        # The server's time on this kiosk's monotonic clock (kiosk/clock.py): the push asks it
        # for each event's offset, and a step of the wall clock does not make it stale.
        self.clock = ServerClock(wall=clock, monotonic=monotonic, boot=boot)
        self._mono = monotonic
        # The protocol the server's last reply announced (None: a server that sends none, of before).
        self.server_protocol: int | None = None
        self._count_lock = threading.Lock()

    def close(self) -> None:
        self.session.close()

    @property
    def server_offset(self) -> float | None:
        return self.clock.offset

    # --- plumbing ------------------------------------------------------------------------------

    def _count(self, requests_: int = 0, bytes_in: int = 0, bytes_out: int = 0) -> None:
        with self._count_lock:
            self.counters.requests += requests_
            self.counters.bytes_in += bytes_in
            self.counters.bytes_out += bytes_out

    def _request(self, method: str, path: str, *, stream: bool = False, auth: bool = True,
                 **kwargs: Any) -> requests.Response:
        """One request; any failure to get a reply at all becomes NetworkError, and the reply's
        statuses that mean the same for every endpoint (401/403, 429, 5xx) become their errors."""
        url = self.base_url + path
        body = kwargs.get("data") or b""
        self._count(requests_=1, bytes_out=len(body))
        sent_at = self._mono()
        try:
            if not auth:
                kwargs.setdefault("headers", {})["Authorization"] = None  # None drops the session header
            resp = self.session.request(method, url, timeout=self.timeout, stream=stream, **kwargs)
        except requests.RequestException as exc:
            raise NetworkError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        received_at = self._mono()
        self.server_protocol = server_protocol(resp.headers.get(PROTOCOL_HEADER))
        server_time = resp.headers.get("X-Server-Time")
        if server_time:
            try:
                self.clock.add(float(server_time), sent_at, received_at)
            except ValueError:
                pass
        if resp.status_code in (401, 403):
            resp.close()
            raise AuthError(f"{method} {path}: the server refused this device's token "
                            f"(HTTP {resp.status_code})", resp.status_code)
        if resp.status_code == 429:
            resp.close()
            raise RateLimited(f"{method} {path}: the server is busy (HTTP 429)", _retry_after(resp),
                              _float_or_none(server_time))
        if resp.status_code >= 500:
            resp.close()
            raise NetworkError(f"{method} {path}: server error HTTP {resp.status_code}", resp.status_code)
        return resp

    def _body(self, resp: requests.Response, what: str) -> bytes:
        """The whole body, or NetworkError when the connection was cut before Content-Length."""
        try:
            data = resp.content
        except requests.RequestException as exc:
            raise NetworkError(f"{what}: the reply was cut ({type(exc).__name__})") from exc
        finally:
            resp.close()
        self._count(bytes_in=len(data))
        expected = resp.headers.get("Content-Length")
        if expected is not None and "Content-Encoding" not in resp.headers and int(expected) != len(data):
            raise NetworkError(f"{what}: the reply was cut ({len(data)} of {expected} bytes)")
        return data

    def _json(self, resp: requests.Response, what: str) -> Any:
        data = self._body(resp, what)
        try:
            return json.loads(data)
        except ValueError as exc:
            raise ProtocolError(f"{what}: the reply is not JSON ({exc})", resp.status_code) from exc

    # --- the API -------------------------------------------------------------------------------

    def health(self) -> bool:
        """Is the server reachable and answering? /healthz (which also checks the server's
        database); a server without it is probed with the unauthenticated key endpoint."""
        for path in ("/healthz", f"{API}/server-key"):
            try:
                resp = self._request("GET", path, auth=False)
                self._body(resp, path)
            except TransportError:
                return False
            if resp.status_code != 404:
                return resp.status_code == 200
        return False

    def fetch_server_key(self) -> str:
        resp = self._request("GET", f"{API}/server-key", auth=False)
        doc = self._json(resp, "server-key")
        if resp.status_code != 200 or not isinstance(doc, dict) or "public_key" not in doc:
            raise ProtocolError(f"server-key: unexpected reply HTTP {resp.status_code}", resp.status_code)
        return doc["public_key"]

    def fetch_manifest(self, etag: str | None = None) -> ManifestReply:
        headers = {"If-None-Match": etag} if etag else {}
        resp = self._request("GET", f"{API}/content/manifest", headers=headers)
        return self._manifest_reply(resp, "manifest", etag)

    def _manifest_reply(self, resp, what: str, etag: str | None,
                        take_delta: bool = False) -> ManifestReply:
        """A manifest route's reply: 304 unchanged, 404 nothing published, or 200 with the full
        manifest (or, where `take_delta`, a delta) and its signature; anything else refused."""
        if resp.status_code == 304:
            resp.close()
            return ManifestReply(304, etag=etag)
        if resp.status_code == 404:
            resp.close()
            return ManifestReply(404)
        doc = self._json(resp, what)
        if take_delta and resp.status_code == 200 and isinstance(doc, dict) and isinstance(doc.get("delta"), dict):
            return ManifestReply(200, None, doc.get("manifest_signature"), resp.headers.get("ETag"),
                                 doc["delta"], doc.get("signature"))
        if resp.status_code != 200 or not isinstance(doc, dict) or not isinstance(doc.get("manifest"), dict):
            raise ProtocolError(f"{what}: unexpected reply HTTP {resp.status_code}", resp.status_code)
        return ManifestReply(200, doc["manifest"], doc.get("signature"), resp.headers.get("ETag"))

    def fetch_delta(self, since: int, epoch: int, etag: str | None = None) -> ManifestReply:
        """What changed since content version `since` (protocol 4): a delta, the full manifest
        when the server cannot make one, 304 unchanged, or 404 (nothing published, or a server
        without the route: the caller asks for the full manifest then)."""
        headers = {"If-None-Match": etag} if etag else {}
        resp = self._request("GET", f"{API}/content/delta/{since}", params={"epoch": epoch}, headers=headers)
        return self._manifest_reply(resp, "delta", etag, take_delta=True)

    def fetch_guide(self, guide_id: str, version: int, sha256: str) -> bytes:
        """The guide's canonical JSON bytes, verified against the manifest's sha256."""
        what = f"guide {guide_id} v{version}"
        resp = self._request("GET", f"{API}/content/guides/{guide_id}/{version}")
        if resp.status_code != 200:
            resp.close()
            raise ProtocolError(f"{what}: unexpected reply HTTP {resp.status_code}", resp.status_code)
        body = self._body(resp, what)
        got = hashlib.sha256(body).hexdigest()
        if got != sha256:
            raise IntegrityError(f"{what}: the bytes received do not match the manifest's sha256 "
                                 f"(got {got[:12]}…, expected {sha256[:12]}…)")
        return body

    def fetch_image(self, sha256: str, size: int | None = None) -> bytes:
        """The image's bytes, verified against its sha256 (its name). A cut download leaves its
        bytes in <data dir>/sync-tmp/<sha256>.part and the next call asks only for the rest
        (Range). Bytes that turn out wrong are thrown away, so the next try starts clean."""
        what = f"image {sha256[:12]}…"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        part = self.tmp_dir / f"{sha256}.part"
        have = part.stat().st_size if part.exists() else 0
        if size is not None and have > size:
            part.unlink()
            have = 0
        if size is None or have < size:
            headers = {"Range": f"bytes={have}-"} if have else {}
            resp = self._request("GET", f"{API}/content/images/{sha256}", headers=headers, stream=True)
            if resp.status_code == 416:  # we already have everything the server has
                resp.close()
            elif resp.status_code in (200, 206):
                # Append only when the server really continues where the part file ends.
                resumed = resp.status_code == 206 and resp.headers.get("Content-Range", "").startswith(
                    f"bytes {have}-")
                mode = "ab" if resumed and have else "wb"
                if mode == "ab":
                    with self._count_lock:
                        self.counters.resumed += 1
                start = have if mode == "ab" else 0
                self._stream_to(resp, part, mode, what, None if size is None else size - start)
            else:
                resp.close()
                raise ProtocolError(f"{what}: unexpected reply HTTP {resp.status_code}", resp.status_code)
        data = part.read_bytes() if part.exists() else b""
        got = hashlib.sha256(data).hexdigest()
        if got != sha256 or (size is not None and len(data) != size):
            part.unlink(missing_ok=True)
            raise IntegrityError(f"{what}: the {len(data)} bytes received do not match the manifest "
                                 f"(sha256 {got[:12]}…, size {size})")
        return data

    def discard_partial(self, sha256: str) -> None:
        (self.tmp_dir / f"{sha256}.part").unlink(missing_ok=True)

    def clean_partials(self, keep: set[str]) -> None:
        """Drop partial downloads of images the current manifest no longer names."""
        if not self.tmp_dir.exists():
            return
        for path in self.tmp_dir.glob("*.part"):
            if path.stem not in keep:
                path.unlink(missing_ok=True)

    def _stream_to(self, resp: requests.Response, part: Path, mode: str, what: str,
                   most: int | None) -> None:
        """Append the reply's body to `part`; never more than `most` bytes (a server sending more
        than the manifest said is wrong, and must not fill the disk)."""
        received = 0
        expected = resp.headers.get("Content-Length")
        try:
            with part.open(mode) as fh:
                for chunk in resp.iter_content(CHUNK):
                    if most is not None and received + len(chunk) > most:
                        fh.close()
                        part.unlink(missing_ok=True)
                        raise IntegrityError(f"{what}: the server sent more bytes than the manifest says")
                    fh.write(chunk)
                    received += len(chunk)
                # No fsync: the part file is only a head start. Whatever a power cut leaves of it
                # is checked against the sha256 on arrival and thrown away when wrong.
        except (requests.RequestException, OSError) as exc:
            raise NetworkError(f"{what}: the download was cut after {received} bytes; "
                               "it resumes from there next time") from exc
        finally:
            resp.close()
            self._count(bytes_in=received)
        if expected is not None and int(expected) != received:
            raise NetworkError(f"{what}: the download was cut ({received} of {expected} bytes); "
                               "it resumes from there next time")

    def _compressed(self, body: bytes) -> tuple[bytes, dict[str, str]]:
        """The body to send and its headers: gzip once the server said it takes it (protocol 4;
        a metered 4G link pays for every byte, and a batch of events shrinks ~5 to 10 times)."""
        headers = {"Content-Type": "application/json"}
        if (self.server_protocol or 0) >= GZIP_PROTOCOL and len(body) >= GZIP_MIN_BYTES:
            headers["Content-Encoding"] = "gzip"
            body = gzip.compress(body, compresslevel=6, mtime=0)
        return body, headers

    def post_events(self, events: list[dict[str, Any]]) -> EventsReply:
        body, headers = self._compressed(
            json.dumps({"events": events}, ensure_ascii=False, separators=(",", ":")).encode())
        resp = self._request("POST", f"{API}/events", data=body, headers=headers)
        if resp.status_code == 413:
            resp.close()
            raise ProtocolError("events: the batch is too large (HTTP 413)", 413)
        doc = self._json(resp, "events")
        if resp.status_code != 200 or not isinstance(doc, dict):
            raise ProtocolError(f"events: unexpected reply HTTP {resp.status_code}: {str(doc)[:200]}",
                                resp.status_code)
        return EventsReply(list(doc.get("accepted", [])), list(doc.get("duplicates", [])),
                           list(doc.get("rejected", [])), doc.get("server_time"))

    def fetch_device(self) -> DeviceInfo | None:
        """The device this token belongs to; None from a server of the release before the
        endpoint existed (HTTP 404). An unknown token raises AuthError like every endpoint."""
        resp = self._request("GET", f"{API}/device")
        if resp.status_code == 404:
            resp.close()
            return None
        doc = self._json(resp, "device")
        name = doc.get("name") if isinstance(doc, dict) else None
        if resp.status_code != 200 or not isinstance(name, str) or not name.strip():
            raise ProtocolError(f"device: unexpected reply HTTP {resp.status_code}: {str(doc)[:200]}",
                                resp.status_code)
        location = doc.get("location")
        return DeviceInfo(name, location if isinstance(location, str) else None)

    def post_heartbeat(self, beat: Heartbeat) -> dict[str, Any]:
        body, headers = self._compressed(beat.wire_bytes())
        resp = self._request("POST", f"{API}/heartbeat", data=body, headers=headers)
        doc = self._json(resp, "heartbeat")
        if resp.status_code != 200:
            raise ProtocolError(f"heartbeat: unexpected reply HTTP {resp.status_code}", resp.status_code)
        return doc if isinstance(doc, dict) else {}
