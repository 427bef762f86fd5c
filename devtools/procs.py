"""Processes on loopback for tests, benchmarks and dev tools: a free port, a wait that checks the
effect it waits for, and the real `kiosk-server serve` in a subprocess. The one copy of each in
the repo."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Self, TypeVar

import httpx

T = TypeVar("T")
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition: Callable[[], T], timeout: float = 30.0, what: str = "condition",
             interval: float = 0.05, pause: Callable[[float], object] = time.sleep) -> T:
    """Poll `condition` until it returns something truthy and return that; never a fixed sleep.
    An exception from `condition` propagates at once (a process that died is not worth waiting for).
    `pause(interval)` runs between polls: a sleep, or e.g. one tick of Kivy's clock in-process."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        pause(interval)


class ServerProcess:
    """`kiosk-server serve` on loopback in a subprocess, its output in a log file. `start` returns
    once /healthz answers 200 (the database is reachable), and fails with the log's tail if the
    process exits first. It can be stopped and started again on the same port."""

    def __init__(self, data_dir: Path, *, db_url: str | None = None, port: int | None = None,
                 args: Sequence[str] = (), env: Mapping[str, str] | None = None, log: Path | None = None,
                 start_timeout: float = 60.0, program: Sequence[str] | None = None, cwd: Path | None = None):
        self.data_dir = Path(data_dir)
        self.db_url = db_url
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = list(args)
        self.env = dict(os.environ if env is None else env)
        self.log = log or self.data_dir / f"server-{self.port}.log"
        self.start_timeout = start_timeout
        # Another source tree's server (tests/compat: the previous release) runs as
        # `python -m server.cli` from that tree, with it on PYTHONPATH.
        self.program = list(program) if program else [str(VENV_BIN / "kiosk-server")]
        self.cwd = cwd
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        cmd = [*self.program, "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--data-dir", str(self.data_dir)]
        if self.db_url:
            cmd += ["--db", self.db_url]
        return cmd + self.args

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "(no log)"

    def start(self) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(self.command(), env=self.env, cwd=self.cwd, stdout=log,
                                         stderr=subprocess.STDOUT)
        try:
            wait_for(self._answers, self.start_timeout, f"the server on {self.url} to answer /healthz")
        except BaseException:
            self.stop()
            raise
        return self

    def _answers(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            raise RuntimeError(f"the server exited (code {code}) before answering:\n{self.log_tail()}")
        try:
            return httpx.get(self.url + "/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait (SIGKILL if it hangs); returns the exit code."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        return proc.returncode

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
