"""A small TCP proxy that makes a bad network on purpose, between the kiosk and the real server.

Each reply (and each request) passing through draws its fate from a seeded RNG; a reply is
recognised by its status line at the start of a chunk, so kept-alive connections get their
share of trouble too:
  clean     forwarded untouched
  delay     each reply chunk waits a little (a slow link)
  cut       the reply is cut after a random number of bytes (FIN mid-body)
  truncate  the reply is cut inside its first few hundred bytes (mid-headers)
  reset     the connection is reset (RST) after a random number of reply bytes
  stall     the reply stops for longer than the client's read timeout, then is closed
  drop_req  the request is cut before the server has all of it (the connection is reset)
Counters record connections, bytes each way and faults by kind, so tests can also measure what a
sync cost (bytes_down with faults off). The same seed gives the same sequence of fates (thread timing aside).

    with FaultProxy(("127.0.0.1", server_port), seed=7, fault_rate=0.3) as proxy:
        url = proxy.url
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
from collections import Counter
from typing import Self

MODES = ("delay", "cut", "truncate", "reset", "stall", "drop_req")


class FaultProxy:
    def __init__(self, target: tuple[str, int], *, seed: int = 0, fault_rate: float = 0.0,
                 modes: tuple[str, ...] = MODES, max_cut: int = 200_000, stall_seconds: float = 3.0,
                 host: str = "127.0.0.1", port: int = 0):
        self.target = target
        self.rng = random.Random(seed)
        self.fault_rate = fault_rate
        self.modes = modes
        self.max_cut = max_cut
        self.stall_seconds = stall_seconds
        self.counts: Counter[str] = Counter()
        self.bytes_up = 0
        self.bytes_down = 0
        self.down = False  # refuse every connection: the server is unreachable
        self._lock = threading.Lock()
        self._listener = socket.create_server((host, port), backlog=128)
        self._listener.settimeout(0.2)
        self.host, self.port = self._listener.getsockname()[:2]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name="faultproxy", daemon=True)
        self._open: set[socket.socket] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        with self._lock:
            for sock in list(self._open):
                _close(sock)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset_counters(self) -> None:
        with self._lock:
            self.counts.clear()
            self.bytes_up = self.bytes_down = 0

    # --- internals -----------------------------------------------------------------------------

    def _fate(self, request: bool = False) -> tuple[str, int]:
        with self._lock:
            if self.rng.random() >= self.fault_rate:
                return "clean", 0
            mode = self.rng.choice(self.modes)
            if (mode == "drop_req") != request:
                return "clean", 0
            limit = self.rng.randint(0, 400) if mode in ("truncate", "drop_req") else \
                self.rng.randint(0, self.max_cut)
            self.counts[mode] += 1
            return mode, limit

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.down:
                _reset(client)
                with self._lock:
                    self.counts["refused"] += 1
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with self._lock:
            self.counts["connections"] += 1
        try:
            upstream = socket.create_connection(self.target, timeout=10)
        except OSError:
            _reset(client)
            return
        upstream.settimeout(None)
        with self._lock:
            self._open.update((client, upstream))
        up = threading.Thread(target=self._pump_up, args=(client, upstream), daemon=True)
        up.start()
        try:
            self._pump_down(upstream, client)
        finally:
            up.join(1)
            with self._lock:
                self._open.discard(client)
                self._open.discard(upstream)

    def _pump_up(self, client: socket.socket, upstream: socket.socket) -> None:
        mode, limit, sent = "clean", 0, 0
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                if data.startswith((b"GET ", b"POST ", b"HEAD ", b"PUT ")):
                    (mode, limit), sent = self._fate(request=True), 0
                if mode == "drop_req" and sent + len(data) > limit:
                    upstream.sendall(data[:max(limit - sent, 0)])
                    _reset(client)
                    _reset(upstream)
                    return
                upstream.sendall(data)
                sent += len(data)
                with self._lock:
                    self.bytes_up += len(data)
        except OSError:
            pass
        finally:
            try:
                upstream.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def _pump_down(self, upstream: socket.socket, client: socket.socket) -> None:
        mode, limit, passed = "clean", 0, 0
        try:
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                if data.startswith(b"HTTP/1."):
                    (mode, limit), passed = self._fate(), 0
                if mode == "delay":
                    time.sleep(self.rng.uniform(0.005, 0.05))
                if mode in ("cut", "truncate", "reset", "stall") and passed + len(data) > limit:
                    head = data[:max(limit - passed, 0)]
                    client.sendall(head)
                    with self._lock:
                        self.bytes_down += len(head)
                    if mode == "stall":
                        self._stop.wait(self.stall_seconds)
                    if mode == "reset":
                        _reset(client)
                    return
                client.sendall(data)
                passed += len(data)
                with self._lock:
                    self.bytes_down += len(data)
        except OSError:
            pass
        finally:
            _close(client)
            _close(upstream)


def _reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN: the peer sees 'connection reset by peer'. SHUT_RD wakes a
    recv() blocked in the other pump thread without sending anything; close() then resets."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def _close(sock: socket.socket) -> None:
    """shutdown() first: a bare close() leaves a recv() blocked in the other pump thread holding
    the socket open, and the server would wait on a connection nobody uses."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
