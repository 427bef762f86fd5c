"""The outermost guard around every request: the kiosk protocol version, body size limits, the
X-Server-Time and X-Kiosk-Protocol stamps, and no stack traces to clients."""

from __future__ import annotations

import logging
import time

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders

from contract.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION, parse_version
from server.config import Config
from server.routes.publish import PUBLISH_PATH

log = logging.getLogger("kiosk-server")
_PROTOCOL_HEADER = PROTOCOL_HEADER.lower().encode("latin-1")


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"the request body is larger than {limit:,} bytes")


class ServerGuard:
    """Pure ASGI so it wraps every response, errors included (a BaseHTTPMiddleware or an
    exception handler would miss the ones Starlette's own error middleware sends)."""

    def __init__(self, app, config: Config):
        self.app, self.config = app, config

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.config.max_upload if scope["path"] == PUBLISH_PATH else self.config.max_body
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

        declared = request_headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
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

        try:
            await self.app(scope, receive_counted, send_stamped)
        except BodyTooLarge as exc:
            if not started:
                await JSONResponse({"detail": exc.detail}, status_code=413)(scope, receive, send_stamped)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await JSONResponse({"detail": "internal server error"}, status_code=500)(scope, receive, send_stamped)
