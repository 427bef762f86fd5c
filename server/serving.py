"""How the server meets the network without nginx in front of it: uvicorn's HTTP protocol with
the bounds uvicorn leaves out.

uvicorn only times out a connection that is idle between requests. A client that sends its
headers, or its body, a byte at a time (or opens a connection and sends nothing) holds a file
descriptor for as long as it likes, and once the process runs out of descriptors it accepts
nothing, /healthz included (20,000 held connections did exactly that). `BoundedHttpToolsProtocol`
adds, per connection:

- a header timeout: the request line and headers must be complete within `header_timeout`
  seconds of the connection opening (or of the previous response);
- a body timeout: while a request body is incomplete, `body_timeout` seconds without a byte of
  it close the connection (time the server itself pauses reading does not count);
- a header size limit (MAX_HEADER_BYTES, 431 beyond it): the cookie and query parsers run on
  the event loop, and their work grows with what they are given;
- a cap on open connections (`max_connections`, never more than the descriptors the process may
  open allow): when a new connection would pass it, the connection that has waited longest for
  its own headers or body is closed to make room, so a pile of slow clients cannot keep out a
  quick one such as the load balancer's /healthz.

`kiosk-server serve` runs uvicorn with it (server.cli); the limits are server settings
(server.config).
"""

from __future__ import annotations

import functools
import logging
import resource
import time
from collections import OrderedDict

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from server.config import Config

log = logging.getLogger("kiosk-server")
PROTOCOL = "server.serving:BoundedHttpToolsProtocol"  # what server.cli hands to uvicorn
MAX_HEADER_BYTES = 32 * 1024  # request line and headers; nginx's default buffers hold the same
# Descriptors kept free for everything but client connections: the database pool's files (a
# SQLite connection holds the database, its WAL and shared memory), the log, the listening socket.
RESERVED_FDS = 160
# This process's connections that wait for their client, the longest-waiting first (a wait that
# begins goes to the end), so making room is O(1) however many connections are held.
_waiting: OrderedDict[BoundedHttpToolsProtocol, None] = OrderedDict()


@functools.cache
def bounds() -> tuple[float, float, int]:
    """(header timeout, body timeout, connection cap) of this process, read once from its settings."""
    config = Config.from_env()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = config.max_connections + RESERVED_FDS
    if soft != resource.RLIM_INFINITY and soft < wanted and (hard == resource.RLIM_INFINITY or hard > soft):
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))  # the soft limit may rise to the hard one
    cap = config.max_connections if soft == resource.RLIM_INFINITY else min(config.max_connections,
                                                                              soft - RESERVED_FDS)
    if cap < config.max_connections:
        log.warning("the process may open %d files, so it keeps at most %d connections open "
                    "(max_connections is %d)", soft, max(cap, 16), config.max_connections)
    return config.header_timeout, config.body_timeout, max(cap, 16)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    # What the connection waits for from its client: "headers" (a new request, or the first),
    # "body", or None while the server is answering. `waiting_since` is when that wait began.

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.header_timeout, self.body_timeout, cap = bounds()
        self._timer = None
        self._header_bytes = self._head_size = 0
        self._wait_for("headers")
        if len(self.connections) > cap:
            self._make_room()

    # --- the waits -------------------------------------------------------------------------------

    def _wait_for(self, what: str | None) -> None:
        self.waiting_for, self.waiting_since = what, time.monotonic()
        _waiting.pop(self, None)
        if what is not None:
            _waiting[self] = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if what == "headers":
            self._header_bytes = 0
            self._timer = self.loop.call_later(self.header_timeout, self._timed_out)
        elif what == "body":
            self._timer = self.loop.call_later(self.body_timeout, self._timed_out)

    def _timed_out(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self.waiting_for == "body" and self.flow.read_paused:
            self._wait_for("body")  # the server stopped reading, not the client sending: wait again
            return
        if self.waiting_for == "headers" and self.cycle is None and self._header_bytes == 0:
            self.transport.close()  # a connection that never sent anything gets no answer
            return
        self._refuse(408, "the request took too long to arrive")

    def _refuse(self, status: int, message: str) -> None:
        """Answer with `status` and close, unless a response has begun (then only close)."""
        answering = self.waiting_for == "body" and self.cycle is not None and self.cycle.response_started
        if self.waiting_for is not None and not answering:
            body = message.encode()
            self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
                                 b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                                 % (status, {408: b"Request Timeout", 431: b"Request Header Fields Too Large",
                                             503: b"Service Unavailable"}[status], len(body), body))
        self.transport.close()

    def _make_room(self) -> None:
        """Close the connection that has waited longest for its client, or this one if none waits."""
        oldest = next((c for c in _waiting if c is not self and not c.transport.is_closing()), self)
        oldest._refuse(503, "the server has too many connections open")

    # --- uvicorn's hooks -------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return  # refused or timed out: what is still arriving is not read
        if self.waiting_for == "headers":
            self._header_bytes += len(data)
        super().data_received(data)
        # Headers still not complete after this much: they never end (a body in the same read
        # only counts once the headers are done, so it never gets here).
        if self.waiting_for == "headers" and self._header_bytes > MAX_HEADER_BYTES + 65536 \
                and not self.transport.is_closing():
            self._too_large()

    def _too_large(self) -> None:
        self._refuse(431, f"the request line and headers are longer than {MAX_HEADER_BYTES} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_size = 0
        if self.waiting_for != "headers":
            self._wait_for("headers")  # a pipelined request: its headers have their own time

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        if self._head_size <= MAX_HEADER_BYTES:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        if self._head_size <= MAX_HEADER_BYTES:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._head_size > MAX_HEADER_BYTES:  # refused before any parser or the app sees them
            self._too_large()
            return
        super().on_headers_complete()
        self._wait_for("body")

    def on_body(self, body: bytes) -> None:
        if self.transport.is_closing() and self.cycle is None:
            return
        super().on_body(body)
        if self.waiting_for == "body":
            self._wait_for("body")

    def on_message_complete(self) -> None:
        if self.transport.is_closing() and self.cycle is None:
            return
        super().on_message_complete()
        self._wait_for(None)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._wait_for("headers")

    def connection_lost(self, exc: Exception | None) -> None:
        if getattr(self, "_timer", None) is not None:
            self._timer.cancel()
            self._timer = None
        self.waiting_for = None
        _waiting.pop(self, None)
        super().connection_lost(exc)
