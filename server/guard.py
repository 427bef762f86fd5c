"""The outermost guard around every request: the kiosk protocol version, body size limits, the
X-Server-Time and X-Kiosk-Protocol stamps, a full disk answered with 503 + Retry-After, and no
stack traces to clients.

Body limits are per kind of request and are checked before anything reads the body: the JSON
parser and the form parser each run as one uninterrupted step (json.loads holds the GIL, form
parsing runs on the event loop), so the largest body a route takes is the longest any one request
can hold every other request up. 5 MB of `{},{},...` once cost 110 ms of json.loads alone.
(Headers and slow connections are bounded one level further out, in server.serving.)
"""

from __future__ import annotations

import logging
import re
import time
import zlib

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.requests import ClientDisconnect

from contract.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION, parse_version
from server import db, traffic
from server.auth import COOKIE_NAME
from server.config import Config
from server.routes import API
from server.routes.publish import PUBLISH_PATH
from server.studio.images import UPLOAD_BODY, UPLOAD_PATH_PATTERN

log = logging.getLogger("kiosk-server")
_PROTOCOL_HEADER = PROTOCOL_HEADER.lower().encode("latin-1")

# The largest body of each kind of request, in bytes; the first pattern that matches the path wins.
# A kiosk's event batch: 500 events (its default batch) are ~150 KB, and json.loads of 256 KB at
# its worst (`{},{},...`) takes ~5 ms. A kiosk that gets 413 halves its batch and sends again
# (kiosk/sync/push.py, since the first release), so a smaller limit costs it only a round trip.
EVENTS_BODY = 256 * 1024
HEARTBEAT_BODY = 16 * 1024
# The phone's feedback form: a 1,000-character comment (the form's maxlength) percent-encoded as
# UTF-8 is at most 12 KB.
PHONE_FORM_BODY = 32 * 1024
OTHER_BODY = 64 * 1024  # staff logins, rollbacks, dashboard forms
BODY_LIMITS: list[tuple[re.Pattern[str], int]] = [
    (re.compile(rf"^{API}/events$"), EVENTS_BODY),
    (re.compile(rf"^{API}/heartbeat$"), HEARTBEAT_BODY),
    (re.compile(r"^/m/[^/]+/[^/]+/[^/]+/[^/]+/feedback$"), PHONE_FORM_BODY),
]
# The studio's picture upload: one image as large as a library may hold, and only with staff
# credentials (checked before the body is read, as for a publish).
STUDIO_UPLOAD = re.compile(UPLOAD_PATH_PATTERN)
# Bodies a kiosk may send gzip-compressed (Content-Encoding: gzip, once the server's protocol says
# it may: contract/protocol.py). The kind's limit holds for the compressed bytes as they arrive and
# again for the decompressed ones, which are inflated at most one byte past the limit: a gzip bomb
# costs the limit in memory and is refused with a sentence, whatever it would have grown to.
GZIP_PATHS = re.compile(rf"^{API}/(events|heartbeat)$")
DISK_FULL_RETRY_AFTER = 60  # seconds: a full disk is an operator's job, not a moment's


def body_limit(config: Config, path: str) -> int:
    if path == PUBLISH_PATH:
        return config.max_upload
    if STUDIO_UPLOAD.match(path):
        return UPLOAD_BODY
    return next((limit for pattern, limit in BODY_LIMITS if pattern.match(path)), OTHER_BODY)


def _without_credentials(headers: dict[bytes, bytes]) -> bool:
    """No staff credentials at all on the request. An upload's body is parsed before the route's
    staff check runs, so without this anyone could make the server take in 200 MiB."""
    basic = headers.get(b"authorization", b"")[:6].lower() == b"basic "
    return not basic and COOKIE_NAME.encode() not in headers.get(b"cookie", b"")


class BodyRefused(HTTPException):
    """A body refused while it arrives, before any route reads it."""


class BodyTooLarge(BodyRefused):
    def __init__(self, limit: int, decompressed: bool = False):
        super().__init__(413, f"the request body is larger than {limit:,} bytes" + (
            " once decompressed (gzip)" if decompressed else ""))


def _gunzipping(receive, limit: int):
    """`receive` whose request body is the gzip body `receive` gives, decompressed, as one message."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip header and trailer, one member
    body = bytearray()
    done = False

    async def receive_gunzipped():
        nonlocal done
        if done:
            return await receive()  # after the body: a disconnect, if anything
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return message
            try:
                body.extend(inflater.decompress(message.get("body", b""), limit + 1 - len(body)))
            except zlib.error:
                raise BodyRefused(400, "the request body is not valid gzip (Content-Encoding: gzip)") from None
            if len(body) > limit:
                raise BodyTooLarge(limit, decompressed=True)
            if not message.get("more_body", False):
                if not inflater.eof or inflater.unused_data:
                    raise BodyRefused(400, "the request body is not one complete gzip stream")
                done = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}

    return receive_gunzipped


class ServerGuard:
    """Pure ASGI so it wraps every response, errors included (a BaseHTTPMiddleware or an
    exception handler would miss the ones Starlette's own error middleware sends)."""

    def __init__(self, app, config: Config):
        self.app, self.config = app, config

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        meter = traffic.Meter(scope)  # the bytes as they cross the wire, for a device's daily count
        try:
            await self._guard(scope, meter.counting_receive(receive), meter.counting_send(send))
        finally:
            meter.record()

    async def _guard(self, scope, receive, send):
        limit = body_limit(self.config, scope["path"])
        started = False

        async def send_stamped(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers["X-Server-Time"] = f"{time.time():.6f}"
                headers[PROTOCOL_HEADER] = str(PROTOCOL_VERSION)
            await send(message)

        # A request without the header is a kiosk of the release before it (protocol 1), served as
        # before; the routes can read the version from request.state.kiosk_protocol.
        request_headers = dict(scope["headers"])
        sent_protocol = request_headers.get(_PROTOCOL_HEADER)
        protocol = parse_version(None if sent_protocol is None else sent_protocol.decode("latin-1"))
        if protocol is None:
            shown = sent_protocol.decode("latin-1")[:40]
            detail = (f"the {PROTOCOL_HEADER} header must be a protocol version, a whole number such as "
                      f"{PROTOCOL_VERSION}; this request sent {shown!r}")
            return await JSONResponse({"detail": detail}, status_code=400)(scope, receive, send_stamped)
        scope.setdefault("state", {})["kiosk_protocol"] = protocol

        if (scope["path"] == PUBLISH_PATH or STUDIO_UPLOAD.match(scope["path"])) and \
                _without_credentials(request_headers):
            return await JSONResponse({"detail": "staff login needed"}, status_code=401, headers={
                "WWW-Authenticate": 'Basic realm="kiosk-server"'})(scope, receive, send_stamped)

        declared = request_headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or len(declared) > 18 or int(declared) > limit):
            status = 413 if declared.isdigit() else 400
            detail = BodyTooLarge(limit).detail if status == 413 else "bad Content-Length"
            return await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send_stamped)
        received = 0

        async def receive_counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        app_receive = receive_counted
        encoding = request_headers.get(b"content-encoding", b"identity").strip().lower()
        if encoding != b"identity":
            if encoding != b"gzip" or not GZIP_PATHS.match(scope["path"]):
                detail = (f"Content-Encoding {encoding.decode('latin-1')[:40]!r} is not accepted here; "
                          "event batches and heartbeats may be gzip, nothing else is encoded")
                return await JSONResponse({"detail": detail}, status_code=415)(scope, receive, send_stamped)
            app_receive = _gunzipping(receive_counted, limit)
            # the route sees the decompressed body, whose length no header states
            scope["headers"] = [(k, v) for k, v in scope["headers"]
                                if k.lower() not in (b"content-encoding", b"content-length")]

        try:
            await self.app(scope, app_receive, send_stamped)
        except BodyRefused as exc:
            if not started:
                await JSONResponse({"detail": exc.detail}, status_code=exc.status_code)(scope, receive, send_stamped)
        except ClientDisconnect:
            return  # the client went away (or server.serving closed a slow one): nobody to answer
        except Exception as exc:
            if db.is_disk_full(exc):
                # Kiosks keep their outbox and come back after Retry-After; nothing is lost.
                log.error("the database cannot grow (disk full) on %s %s", scope.get("method"), scope.get("path"))
                if started:
                    raise
                detail = "the server's disk is full, so nothing can be stored just now; retry later"
                return await JSONResponse({"detail": detail}, status_code=503, headers={
                    "Retry-After": str(DISK_FULL_RETRY_AFTER)})(scope, receive, send_stamped)
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await JSONResponse({"detail": "internal server error"}, status_code=500)(scope, receive, send_stamped)
