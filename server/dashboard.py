"""The staff dashboard: server-rendered HTML pages under /dashboard, behind the staff login.

Pages: overview, guides (list and one guide drawn as its decision tree), feedback (with CSV
export), search, fleet, library (versions, diffs, rollback). Numbers come from server.stats (SQL),
charts from server.charts (inline SVG), so the pages need no JavaScript and no network.

Jinja2 autoescapes every value; the only unescaped HTML is the SVG that server.charts builds, and
it escapes the data it draws. The one state-changing form (rollback) carries a CSRF token bound to
the staff member's login cookie, and the cookie is SameSite=Strict.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response, StreamingResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.engine import Connection

from contract.guides import LibraryInvalid, pick
from contract.languages import CODES
from server import auth, charts, db, publish, stats

HERE = Path(__file__).resolve().parent
PAGE_SIZE = 50
LOW_DISK = 1024**3
DEEP_OUTBOX = 100
DEFAULT_DAYS = 30

env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                  trim_blocks=True, lstrip_blocks=True)


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts)) if ts else "never"


def _ago(ts: float | None) -> str:
    if not ts:
        return "never"
    s = max(0, time.time() - ts)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            return f"{int(s // size)} {unit} ago"
    return f"{int(s)} s ago"


def _bytes(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit in ("B", "KB") else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


env.filters.update(when=_when, ago=_ago, size=_bytes)
env.globals.update(pct=_pct)


# --- who is asking --------------------------------------------------------------------------------

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


def _engine(request: Request):
    return request.app.state.ctx.engine


def _secret(request: Request) -> bytes:
    # The same key the API's staff login signs with, so one login serves the API and the dashboard.
    return request.app.state.ctx.cookie_secret


def _stale_after(request: Request) -> float:
    return request.app.state.ctx.config.stale_after_minutes * 60


def _staff(request: Request) -> str | None:
    cookie = request.cookies.get(auth.COOKIE_NAME)
    return auth.read_cookie(_secret(request), cookie) if cookie else None


def csrf_token(request: Request) -> str:
    cookie = request.cookies.get(auth.COOKIE_NAME, "")
    return hmac.new(_secret(request), b"csrf|" + cookie.encode(), hashlib.sha256).hexdigest()[:40]


class LoginRequired(Exception):
    def __init__(self, next_url: str):
        self.next_url = next_url


def require_staff(request: Request) -> str:
    user = _staff(request)
    if user is None:
        raise LoginRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return user


def login_redirect(request: Request, exc: LoginRequired) -> Response:
    """Browsers are sent to the login page; anything else asking for CSV gets a plain 401."""
    if "text/html" not in request.headers.get("accept", "") and request.url.path.endswith(".csv"):
        return Response("log in as staff first\n", status_code=401, media_type="text/plain")
    return RedirectResponse("/dashboard/login?" + urlencode({"next": exc.next_url}), status_code=303)


def install(app) -> None:
    """Mount the dashboard in the server's FastAPI app (create_app sets app.state.ctx)."""
    app.include_router(router)
    app.add_exception_handler(LoginRequired, login_redirect)


router = APIRouter(prefix="/dashboard", include_in_schema=False)


def render(request: Request, name: str, user: str | None, **ctx: Any) -> HTMLResponse:
    html = env.get_template(f"dashboard/{name}").render(
        user=user, path=request.url.path, csrf=csrf_token(request) if user else "", **ctx)
    return HTMLResponse(html, headers={
        # Inline SVG and one stylesheet; no script runs on these pages at all.
        "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
                                   "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store"})


@router.get("/static/dashboard.css")
def stylesheet() -> FileResponse:
    return FileResponse(HERE / "static" / "dashboard.css", media_type="text/css",
                        headers={"Cache-Control": "max-age=3600"})


def _safe_next(value: str | None) -> str:
    # Only a path on this site: never an open redirect to another host.
    if value and value.startswith("/dashboard") and not value.startswith("//"):
        return value
    return "/dashboard"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", None, next=_safe_next(next), error=None)


@router.post("/login")
def login(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form("")) -> Response:
    try:
        ok = auth.check_staff(_engine(request), username, password)
    except auth.LoginThrottled as exc:
        resp = render(request, "login.html", None, next=_safe_next(next),
                      error=f"Too many failed attempts. Try again in {max(1, exc.retry_after // 60)} minute(s).")
        resp.status_code = 429
        resp.headers["Retry-After"] = str(exc.retry_after)
        return resp
    if not ok:
        resp = render(request, "login.html", None, next=_safe_next(next), error="Wrong username or password.")
        resp.status_code = 401
        return resp
    resp = RedirectResponse(_safe_next(next), status_code=303)
    resp.set_cookie(auth.COOKIE_NAME, auth.make_cookie(_secret(request), username), max_age=auth.COOKIE_MAX_AGE,
                    httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/")
    return resp


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    resp = RedirectResponse("/dashboard/login", status_code=303)
    resp.delete_cookie(auth.COOKIE_NAME, path="/")
    return resp


def check_csrf(request: Request, token: str) -> None:
    if not hmac.compare_digest(token or "", csrf_token(request)) or not request.cookies.get(auth.COOKIE_NAME):
        raise HTTPException(403, "The form has expired or did not come from this dashboard; reload the page.")


# --- filters --------------------------------------------------------------------------------------

def _date(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        return default


@dataclass
class FilterForm:
    filters: stats.Filters
    query: dict[str, str]  # what to carry over into links

    def link(self, **changes: Any) -> str:
        q = {**self.query, **{k: str(v) for k, v in changes.items() if v is not None}}
        return urlencode({k: v for k, v in q.items() if v not in ("", None)})


def read_filters(request: Request) -> FilterForm:
    p = request.query_params
    today = datetime.now(UTC).date()
    end = _date(p.get("end"), today)
    start = _date(p.get("start"), end - timedelta(days=DEFAULT_DAYS - 1))
    if start > end:
        start, end = end, start
    start = max(start, end - timedelta(days=366))  # a year at most: keeps every page fast
    rating = p.get("rating")
    f = stats.Filters(start=start, end=end, site=p.get("site") or None, lang=p.get("lang") or None,
                      guide=p.get("guide") or None, device=p.get("device") or None,
                      rating=int(rating) if rating and rating.isdigit() and 1 <= int(rating) <= 5 else None)
    query = {"start": start.isoformat(), "end": end.isoformat(), "site": f.site or "", "lang": f.lang or "",
             "guide": f.guide or "", "device": f.device or "", "rating": str(f.rating or "")}
    return FilterForm(f, query)


def _choices(conn) -> dict[str, list[str]]:
    return {"sites": stats.sites(conn), "languages": list(CODES), "guides": stats.guide_ids(conn),
            "devices": stats.device_names(conn)}


# --- pages ----------------------------------------------------------------------------------------

@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def overview_page(request: Request) -> HTMLResponse:
    user = require_staff(request)
    form = read_filters(request)
    with snapshot(_engine(request)) as conn:
        o = stats.overview(conn, form.filters)
        choices = _choices(conn)
    label_every = max(1, len(o.per_day) // 15)
    day_chart = charts.bar_chart([(d.strftime("%m-%d"), n) for d, n in o.per_day], title="Sessions per day",
                                 label_every=label_every)
    hour_chart = charts.bar_chart([(f"{h:02d}", n) for h, n in enumerate(o.per_hour)],
                                  title="Sessions by hour of day (UTC)", label_every=2)
    return render(request, "overview.html", user, o=o, form=form, choices=choices,
                  day_chart=day_chart, hour_chart=hour_chart)


@router.get("/guides", response_class=HTMLResponse)
def guides_page(request: Request) -> HTMLResponse:
    user = require_staff(request)
    form = read_filters(request)
    with snapshot(_engine(request)) as conn:
        rows = stats.guides_table(conn, form.filters)
        choices = _choices(conn)
    chart = charts.bar_chart([(r.guide, round(100 * (r.resolution_rate or 0), 1)) for r in rows],
                             title="Resolved, % of sessions that opened the guide", width=900, height=240)
    return render(request, "guides.html", user, rows=rows, form=form, choices=choices, chart=chart)


def guide_tree(guide, flow: stats.GuideFlow, lang: str = "en") -> Any:
    nodes, edges, externals = [], [], {}
    for step in guide.steps.values():
        leaves = flow.leaves.get(step.id, {})
        walked, back, restart = (leaves.get(k, 0) for k in ("idle_timeout", "back", "restart"))
        seen = flow.views.get(step.id, 0)
        notes = [f"seen {seen} · walked away {walked}", f"back {back} · started over {restart}"]
        warn = bool(seen) and not step.end and (walked + back + restart) / seen >= 0.25
        nodes.append(charts.TreeNode(step.id, pick(step.text, lang, guide.language), step.end, notes=notes, warn=warn))
        for index, choice in enumerate(step.choices):
            target = choice.next
            if choice.guide:
                target = f"guide:{choice.guide}"
                externals[target] = choice.guide
            edges.append(charts.TreeEdge(step.id, target, pick(choice.label, lang, guide.language),
                                         flow.arrows.get((step.id, index), 0), index))
    for node_id, other in externals.items():
        nodes.append(charts.TreeNode(node_id, "another guide", external=True, notes=[other]))
    title = f"{pick(guide.title, lang, guide.language)} — version"
    return nodes, edges, title


@router.get("/guides/{guide_id}", response_class=HTMLResponse)
def guide_page(request: Request, guide_id: str, version: int | None = None) -> HTMLResponse:
    user = require_staff(request)
    form = read_filters(request)
    engine = _engine(request)
    with snapshot(engine) as conn:
        known = list(conn.execute(sa.select(db.guide_versions.c.version).where(
            db.guide_versions.c.guide_id == guide_id).order_by(db.guide_versions.c.version)).scalars())
        choices = _choices(conn)
    if not known:
        raise HTTPException(404, f"There is no guide '{guide_id}'.")
    version = version if version in known else known[-1]
    guide = publish.load_guide(engine, guide_id, version)
    with snapshot(engine) as conn:
        flow = stats.guide_flow(conn, form.filters, guide_id, version)
    nodes, edges, title = guide_tree(guide, flow, form.filters.lang or "en")
    tree = charts.tree_chart(nodes, edges, guide.start, title=f"{title} {version}")
    rate_chart = charts.bar_chart(
        [(f"v{r.version}", round(100 * (r.resolution_rate or 0), 1)) for r in flow.versions],
        title="Resolved, % of sessions, per version", width=360, height=200)
    return render(request, "guide.html", user, guide=guide, guide_id=guide_id, version=version, versions=known,
                  flow=flow, tree=tree, rate_chart=rate_chart, form=form, choices=choices,
                  title=pick(guide.title, "en", guide.language))


@router.get("/feedback", response_class=HTMLResponse)
def feedback_page(request: Request, page: int = 1) -> HTMLResponse:
    user = require_staff(request)
    form = read_filters(request)
    page = max(1, page)
    with snapshot(_engine(request)) as conn:
        total, rows = stats.feedback_page(conn, form.filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        histogram = stats.rating_histogram(conn, form.filters)
        choices = _choices(conn)
    chart = charts.bar_chart([(f"{r}★", histogram.get(r, 0)) for r in range(1, 6)], title="Ratings",
                             width=360, height=200)
    pages = max(1, -(-total // PAGE_SIZE))
    return render(request, "feedback.html", user, rows=rows, total=total, page=page, pages=pages, chart=chart,
                  form=form, choices=choices)


def csv_cell(value: Any) -> Any:
    """A spreadsheet must not run a comment as a formula: cells starting =, +, -, @ (or a tab or
    carriage return, which some programs strip first) get a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@router.get("/feedback.csv")
def feedback_csv(request: Request) -> StreamingResponse:
    require_staff(request)
    form = read_filters(request)
    engine = _engine(request)

    def rows():
        buf = io.StringIO()
        out = csv.writer(buf)
        out.writerow(["time_utc", *stats.FEEDBACK_COLUMNS[1:]])
        with snapshot(engine) as conn:
            result = conn.execute(stats.feedback_query(form.filters).execution_options(yield_per=5000))
            for part in result.partitions():
                out.writerows([_when(row[0]), *(csv_cell(v) for v in row[1:])] for row in part)
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    name = f"feedback-{form.filters.start}-{form.filters.end}.csv"
    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"',
                                      "Cache-Control": "no-store"})


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request) -> HTMLResponse:
    user = require_staff(request)
    form = read_filters(request)
    with snapshot(_engine(request)) as conn:
        top = stats.top_queries(conn, form.filters, no_results=False)
        missing = stats.top_queries(conn, form.filters, no_results=True)
        total, none = stats.search_totals(conn, form.filters)
        choices = _choices(conn)
    chart = charts.bar_chart(top[:12], title="Top queries", width=760, height=220)
    missing_chart = charts.bar_chart(missing[:12], title="Queries with no results", width=760, height=220)
    return render(request, "search.html", user, top=top, missing=missing, total=total, no_hits=none, chart=chart,
                  missing_chart=missing_chart, form=form, choices=choices)


@dataclass
class FleetRow:
    row: Any
    stale: bool
    failing: bool
    low_disk: bool
    deep_outbox: bool
    behind: bool

    @property
    def trouble(self) -> bool:
        return self.stale or self.failing or self.low_disk or self.deep_outbox


def sync_failed(result: str | None) -> bool:
    """The kiosk's last sync result is plain text ("ok", "error: ...") or a JSON object
    ({"ok": false, "error": ...}); anything that is not a success counts as failing."""
    text = (result or "").strip()
    if not text:
        return False  # never synced yet: shown as such, and stale if it never heartbeats
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError:
            return True
        return not (obj.get("ok") is True or obj.get("status") == "ok") or bool(obj.get("error"))
    return not text.lower().startswith("ok")


@router.get("/fleet", response_class=HTMLResponse)
def fleet_page(request: Request) -> HTMLResponse:
    user = require_staff(request)
    now, stale_after = time.time(), _stale_after(request)
    with snapshot(_engine(request)) as conn:
        devices = conn.execute(sa.select(db.devices).where(db.devices.c.revoked_at.is_(None))
                               .order_by(db.devices.c.location, db.devices.c.name)).all()
        latest = publish.latest_content_version(conn)
    rows = []
    for d in devices:
        rows.append(FleetRow(
            d, stale=not d.last_seen or now - d.last_seen > stale_after,
            failing=sync_failed(d.last_sync_result),
            low_disk=d.free_disk is not None and d.free_disk < LOW_DISK,
            deep_outbox=(d.outbox_depth or 0) > DEEP_OUTBOX,
            behind=latest is not None and str(d.content_version or "") != str(latest)))
    rows.sort(key=lambda r: (not r.trouble, r.row.location or "", r.row.name))
    trouble = sum(r.trouble for r in rows)
    chart = charts.bar_chart([("ok", len(rows) - trouble), ("stale", sum(r.stale for r in rows)),
                              ("sync failing", sum(r.failing for r in rows)),
                              ("low disk", sum(r.low_disk for r in rows)),
                              ("deep outbox", sum(r.deep_outbox for r in rows))],
                             title="Kiosks by state", width=480, height=200)
    return render(request, "fleet.html", user, rows=rows, trouble=trouble, latest=latest, chart=chart,
                  stale_minutes=round(stale_after / 60))


def _version_guides(conn) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}
    for v, g, gv in conn.execute(sa.select(db.content_guides.c.content_version, db.content_guides.c.guide_id,
                                           db.content_guides.c.guide_version)):
        out.setdefault(v, {})[g] = gv
    return out


def version_diff(before: dict[str, int], after: dict[str, int]) -> dict[str, list]:
    return {"added": sorted(set(after) - set(before)), "removed": sorted(set(before) - set(after)),
            "changed": sorted((g, before[g], after[g]) for g in set(after) & set(before) if before[g] != after[g])}


@router.get("/library", response_class=HTMLResponse)
def library_page(request: Request, rolled_back: int | None = None, published: int | None = None) -> HTMLResponse:
    user = require_staff(request)
    with snapshot(_engine(request)) as conn:
        versions = conn.execute(sa.select(db.content_versions.c.version, db.content_versions.c.published_at,
                                          db.content_versions.c.published_by, db.content_versions.c.note,
                                          db.content_versions.c.rollback_of)
                                .order_by(db.content_versions.c.version.desc())).all()
        guides = _version_guides(conn)
    items = []
    for v in versions:
        previous = max((p for p in guides if p < v.version), default=None)
        items.append({"v": v, "count": len(guides.get(v.version, {})),
                      "diff": version_diff(guides.get(previous, {}), guides.get(v.version, {})),
                      "previous": previous})
    latest = versions[0].version if versions else None
    # Built here from two numbers, so a crafted link cannot put words of its own on the page.
    done = (f"Content version {rolled_back} was published again as version {published}."
            if rolled_back and published else None)
    chart = charts.bar_chart([(f"v{it['v'].version}", len(it["diff"]["added"]) + len(it["diff"]["changed"])
                               + len(it["diff"]["removed"])) for it in reversed(items)],
                             title="Guides added, changed or removed per version", width=480, height=200)
    return render(request, "library.html", user, items=items, latest=latest, done=done, chart=chart)


@router.post("/library/{version}/rollback")
def rollback(request: Request, version: int, csrf: str = Form("")) -> Response:
    user = require_staff(request)
    check_csrf(request, csrf)
    try:
        result = publish.rollback(_engine(request), version, by=user)
    except LibraryInvalid as exc:
        raise HTTPException(404, str(exc)) from None
    return RedirectResponse(f"/dashboard/library?rolled_back={version}&published={result.content_version}",
                            status_code=303)

