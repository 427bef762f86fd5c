"""nginx on loopback for tests and benchmarks: deploy/nginx-fleet.conf as shipped, with the given
ports, inside a minimal nginx.conf an unprivileged user can run (every path in one prefix dir)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Self

import httpx

from devtools.procs import free_port, wait_for

REPO = Path(__file__).resolve().parent.parent


def nginx_binary() -> str | None:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    return found if Path(found).exists() else None


def nginx_config(prefix: Path, listen: int, upstreams: Sequence[int], *, connections: int = 256,
                 extra_http: str = "") -> Path:
    """deploy/nginx-fleet.conf as shipped, with these ports, inside a minimal nginx.conf."""
    site = (REPO / "deploy" / "nginx-fleet.conf").read_text()
    servers = re.findall(r"server 127\.0\.0\.1:(\d+)", site)
    assert len(servers) >= 2, "the reference config balances over several server processes"
    site = re.sub(r"\n\s*server 127\.0\.0\.1:\d+[^\n]*", "", site)
    site = site.replace("least_conn;", "least_conn;\n" + "\n".join(
        f"    server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;" for port in upstreams))
    site = re.sub(r"listen 80;", f"listen 127.0.0.1:{listen};", site)
    site = site.replace("/var/cache/nginx/", f"{prefix}/cache/")  # the site cache, if the config has one
    return _minimal_conf(prefix, site, connections, extra_http)


def site_cache_config(prefix: Path, listen: int, upstream: str, *, connections: int = 256) -> Path:
    """deploy/nginx-site-cache.conf as shipped, in front of `upstream` (a URL), listening on
    `listen`; its access log (wan.log) has, per request, the URI, the cache's status, the bytes
    sent to the kiosk and the bytes received over the "WAN" from the server."""
    site = (REPO / "deploy" / "nginx-site-cache.conf").read_text()
    site = site.replace("https://kiosk.example.org", upstream.rstrip("/"))
    site = re.sub(r"listen 80;", f"listen 127.0.0.1:{listen};", site)
    site = site.replace("/var/cache/nginx/", f"{prefix}/cache/")
    wan_log = (f"  log_format wan '$uri $upstream_cache_status $bytes_sent $upstream_bytes_received';\n"
               f"  access_log {prefix}/wan.log wan;\n")
    return _minimal_conf(prefix, site, connections, wan_log)


def _minimal_conf(prefix: Path, site: str, connections: int, extra_http: str) -> Path:
    for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi", "cache"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
        # run as root, nginx's workers are `nobody`: they write the cache and the temp files here
        (prefix / sub).chmod(0o777)
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"worker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\n"
        f"worker_rlimit_nofile {connections * 2 + 64};\n"
        f"events {{ worker_connections {connections}; }}\n"
        "http {\n"
        f"  access_log {prefix}/access.log;\n"
        f"  client_body_temp_path {prefix}/client_body; proxy_temp_path {prefix}/proxy;\n"
        f"  fastcgi_temp_path {prefix}/fastcgi; uwsgi_temp_path {prefix}/uwsgi; scgi_temp_path {prefix}/scgi;\n"
        + extra_http + site + "\n}\n")
    return conf


class NginxProcess:
    """nginx in the foreground on a free loopback port in front of `upstreams`."""

    def __init__(self, prefix: Path, upstreams: Sequence[int] = (), *, connections: int = 256,
                 site_cache_for: str | None = None):
        """In front of the server processes on `upstreams` (deploy/nginx-fleet.conf), or with
        `site_cache_for` a server's URL: a site cache in front of it (deploy/nginx-site-cache.conf)."""
        self.binary = nginx_binary()
        if self.binary is None:
            raise FileNotFoundError("nginx is not installed (scripts/setup --test installs it)")
        self.prefix = Path(prefix)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if site_cache_for:
            self.conf = site_cache_config(self.prefix, self.port, site_cache_for, connections=connections)
        else:
            self.conf = nginx_config(self.prefix, self.port, upstreams, connections=connections)
        self.proc: subprocess.Popen | None = None

    def start(self) -> Self:
        args = [self.binary, "-p", str(self.prefix), "-e", str(self.prefix / "error.log"), "-c", str(self.conf)]
        test = subprocess.run([*args, "-t"], capture_output=True, text=True, check=False)
        if test.returncode != 0:
            raise RuntimeError(f"nginx refused its configuration:\n{test.stderr}")
        self.proc = subprocess.Popen([*args, "-g", "daemon off;"], stderr=subprocess.DEVNULL)
        wait_for(self._answers, 30, "nginx to answer /healthz")
        return self

    def _answers(self) -> bool:
        try:
            return httpx.get(self.url + "/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
