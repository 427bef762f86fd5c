"""Rendering a dashboard page (Jinja2, autoescaped, strict headers) and reading its numbers from
one database snapshot."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from sqlalchemy.engine import Connection

from server.csrf import csrf_token
from server.dashboard.format import ago, nbytes, pct, when, zone_label

SERVER_DIR = Path(__file__).resolve().parent.parent

env = Environment(loader=FileSystemLoader(SERVER_DIR / "templates"), autoescape=select_autoescape(["html"]),
                  trim_blocks=True, lstrip_blocks=True)

@pass_context
def _local_when(context, ts: float | None) -> str:
    return when(ts, context["zone"])


env.filters.update(when=_local_when, ago=ago, size=nbytes)
env.globals.update(pct=pct)


@contextmanager
def snapshot(engine) -> Iterator[Connection]:
    """One read transaction per page: every number on it comes from the same snapshot (REPEATABLE
    READ on PostgreSQL; SQLite's read transaction in WAL mode already is one), and the CSV export
    can stream through a server-side cursor, which needs a transaction."""
    conn = engine.connect()
    if conn.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
    try:
        with conn.begin():
            if conn.dialect.name == "postgresql":
                # psycopg prepares a statement run often; PostgreSQL then switches to a generic plan
                # that ignores the period and was measured 30 times slower here. Plan every time.
                conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
            yield conn
    finally:
        conn.close()


def engine_of(request: Request):
    return request.app.state.ctx.engine


def stale_after_of(request: Request) -> float:
    return request.app.state.ctx.config.stale_after_minutes * 60


def zone_of(request: Request):
    """The site's time zone (server setting time_zone), which every page writes its times in."""
    return request.app.state.ctx.config.zone


def render(request: Request, name: str, user: str | None, scripts: bool = False, frames: bool = False,
           **ctx: Any) -> HTMLResponse:
    """A dashboard page. `scripts`: the page may run this server's own script files (the studio's
    progressive autosave); no other page runs any script at all. `frames`: the page may frame this
    server's own pages (the studio's phone preview)."""
    zone = zone_of(request)
    html = env.get_template(f"dashboard/{name}").render(
        user=user, path=request.url.path, csrf=csrf_token(request) if user else "", zone=zone,
        zone_label=zone_label(zone), **ctx)
    script = ("script-src 'self'; connect-src 'self'; " if scripts else "") + ("frame-src 'self'; " if frames else "")
    return HTMLResponse(html, headers={
        # Inline SVG and one stylesheet; no script runs on these pages unless `scripts`.
        "Content-Security-Policy": f"default-src 'none'; {script}style-src 'self'; img-src 'self' data:; "
                                   "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store"})

