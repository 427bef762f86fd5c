"""Slow clients cannot take the server's connections: a deployment without nginx in front must
bound slow requests itself. Hundreds of connections that send their headers, or their body, a
byte at a time (or not at all) are closed by the server after its read timeouts, and while they
are held /healthz keeps answering, even when they outnumber the file descriptors the process may
open (the kernel limit that 20,000 held connections once ran into)."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from devtools.procs import VENV_BIN, ServerProcess, wait_for

FD_LIMIT = 256  # the server process's RLIMIT_NOFILE in this test: far fewer than the held connections
HELD = 400


@dataclass
class LimitedServer:
    process: ServerProcess
    url: str
    log: Path


@contextlib.contextmanager
def limited(tmp_path: Path, fd_limit: int) -> Iterator[LimitedServer]:
    """A new, empty server (nothing published: /healthz and the routes' first checks are all the
    slow clients reach) whose process may open `fd_limit` files."""
    proc = ServerProcess(tmp_path / "data", db_url=str(tmp_path / "server.db"), args=["--log-level", "warning"],
                         program=["prlimit", f"--nofile={fd_limit}:{fd_limit}", "--", str(VENV_BIN / "kiosk-server")],
                         env={**os.environ, "KIOSK_SERVER_HEADER_TIMEOUT": "2", "KIOSK_SERVER_BODY_TIMEOUT": "2"})
    proc.start()
    try:
        yield LimitedServer(proc, proc.url, proc.log)
    finally:
        proc.stop()


@pytest.fixture
def limited_server(tmp_path):
    with limited(tmp_path, FD_LIMIT) as server:
        yield server


def healthz_time(url: str) -> float:
    started = time.perf_counter()
    r = httpx.get(url + "/healthz", timeout=5)
    assert r.status_code == 200
    return time.perf_counter() - started


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(65536, socket.MSG_DONTWAIT) == b"" or closed_by_server(sock)
    except BlockingIOError:
        return False
    except OSError:  # reset
        return True


def test_held_slow_connections_are_closed_and_healthz_keeps_answering(limited_server):
    hold_slow_connections(limited_server, HELD)


@pytest.mark.fuzz  # the same at the scale of the attack that found it: CI's second step
def test_thousands_of_held_connections_do_not_stop_healthz(tmp_path):
    with limited(tmp_path, 1024) as server:
        hold_slow_connections(server, 4000)


def hold_slow_connections(limited_server: LimitedServer, count: int) -> None:
    port = limited_server.process.port
    held: list[socket.socket] = []
    try:
        for n in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            if n % 3 == 0:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # headers never finished
            elif n % 3 == 1:
                sock.sendall(b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 100000\r\n\r\n{\"events\": [")  # body never finished
            held.append(sock)  # and every third sends nothing at all
        # The first waits behind the held connections still queued for accept; none waits for
        # them to be served (without the bounds it never answered at all).
        times = [healthz_time(limited_server.url) for _ in range(5)]
        assert max(times) < 2.0, times
        # the server closes every one of them once its read timeouts pass
        wait_for(lambda: all(closed_by_server(s) for s in held), 20, "the server to close the slow connections")
        assert healthz_time(limited_server.url) < 2.0
    finally:
        for sock in held:
            sock.close()
    log = limited_server.log.read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]
