"""The feedback page (each comment's triage: state, note, the fix's content version) and its CSV
export; "You said, we did" (comments acted on, with the change and its measured effect) and its CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from server import charts, compare, db, stats, triage
from server.dashboard.filters import filter_choices, read_filters
from server.dashboard.format import iso_time
from server.dashboard.render import engine_of, render, snapshot, zone_of
from server.deps import EditorDep, StaffDep
from server.params import MAX_INT, whole

PAGE_SIZE = 50
MAX_PAGE = 100_000  # 5 million feedback rows: beyond it, narrow the period
router = APIRouter(prefix="/dashboard", include_in_schema=False)


@router.get("/feedback", response_class=HTMLResponse)
def feedback_page(request: Request, user: StaffDep,
                  page: Annotated[int, Query(ge=1, le=MAX_PAGE), whole(1, MAX_PAGE, "'page'")] = 1,
                  state: Annotated[str | None, Query(max_length=16)] = None, done: bool = False) -> HTMLResponse:
    form = read_filters(request)
    state = state if state in triage.STATES else None
    if state:
        form.query["state"] = state
    with snapshot(engine_of(request)) as conn:
        total, rows = triage.feedback_rows(conn, form.filters, state=state, limit=PAGE_SIZE,
                                           offset=(page - 1) * PAGE_SIZE)
        histogram = stats.rating_histogram(conn, form.filters)
        choices = filter_choices(conn)
        versions = list(conn.execute(sa.select(db.content_versions.c.version)
                                     .order_by(db.content_versions.c.version.desc()).limit(50)).scalars())
    chart = charts.bar_chart([(f"{r}★", histogram.get(r, 0)) for r in range(1, 6)], title="Ratings",
                             width=360, height=200)
    pages = max(1, -(-total // PAGE_SIZE))
    return render(request, "feedback.html", user, rows=rows, total=total, page=page, pages=pages, chart=chart,
                  form=form, choices=choices, states=triage.STATES, state=state, versions=versions, done=done)


@router.post("/feedback/{event_id}/triage")
def triage_comment(request: Request, user: EditorDep, event_id: Annotated[int, Path(ge=1, le=2**62)],
                   state: Annotated[str, Form(max_length=16)], note: Annotated[str, Form(max_length=2000)] = "",
                   fix_version: Annotated[str, Form(max_length=12)] = "",
                   back: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """StaffDep has checked the form's CSRF token and origin (server.csrf). Who may triage is the
    staff roles' question (issue 14): today every staff login may."""
    version = int(fix_version) if fix_version.isdigit() and 0 < int(fix_version) <= MAX_INT else None
    try:
        triage.set_state(engine_of(request), event_id, state, user, note, version)
    except triage.TriageError as exc:
        raise HTTPException(400, str(exc)) from None
    # Back to the same filtered page: only its query string, rebuilt from its parts.
    query = urlencode([*parse_qsl(back)[:20], ("done", "1")])
    return RedirectResponse(f"/dashboard/feedback?{query}#comment-{event_id}", status_code=303)


@router.get("/you-said", response_class=HTMLResponse)
def you_said_page(request: Request, user: StaffDep) -> HTMLResponse:
    with snapshot(engine_of(request)) as conn:
        rows = triage.you_said(conn, effects=compare.Effects.of(request.app.state.ctx.config))
    return render(request, "you_said.html", user, rows=rows)


@router.get("/you-said.csv")
def you_said_csv(request: Request, _staff: StaffDep) -> Response:
    zone = zone_of(request)
    with snapshot(engine_of(request)) as conn:
        rows = triage.you_said(conn, limit=100_000, effects=compare.Effects.of(request.app.state.ctx.config))
    buf = io.StringIO()
    out = csv.writer(buf, quoting=csv.QUOTE_ALL)
    out.writerow(triage.YOU_SAID_COLUMNS)
    for item in rows:
        r, e = item.row, item.effect
        numbers = [e.guide_version, e.before_sessions, e.before_resolved, e.after_sessions, e.after_resolved,
                   "" if item.guide_unchanged else e.verdict] if e and e.guide_version is not None else [""] * 6
        out.writerow([iso_time(r.server_time, zone), r.guide or "", r.guide_version or "", csv_cell(r.comment or ""),
                      r.rating or "", csv_cell(r.note or ""), csv_cell(r.changed_by), iso_time(r.changed_at, zone),
                      r.fix_version or "", *numbers])
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="you-said-we-did.csv"',
                             "Cache-Control": "no-store"})


# Where a spreadsheet may start a new cell: the CSV's own comma, but also the ";", tab or "|" that
# a locale or an import dialog splits on (ignoring the quotes), and line breaks. Wherever a piece
# after such a split could start a formula (=, +, -, @, their full-width forms, or a tab or carriage
# return that some programs strip first; spaces before them are skipped by some), an apostrophe
# goes in front of it, so the text shows as text and nothing runs.
_FORMULA_START = re.compile(r"(^|[,;\t|\r\n])([ \u00a0]*)(?=[=+\-@\uff1d\uff0b\uff0d\uff20\t\r])")


def csv_cell(value: Any) -> Any:
    """A value as a spreadsheet may safely read it: no piece of it starts a formula."""
    if isinstance(value, str):
        return _FORMULA_START.sub(lambda m: f"{m.group(1)}{m.group(2)}'", value)
    return value


@router.get("/feedback.csv")
def feedback_csv(request: Request, _staff: StaffDep) -> StreamingResponse:
    form = read_filters(request)
    engine = engine_of(request)
    zone = zone_of(request)

    def rows():
        buf = io.StringIO()
        out = csv.writer(buf, quoting=csv.QUOTE_ALL)  # quoted, so a reader that honours quotes never splits a cell
        # the site's time with its UTC offset (ISO 8601: unambiguous on a DST change day), and the
        # same moment in UTC for programs that join it with other data
        out.writerow(["time", "time_utc", *stats.FEEDBACK_COLUMNS[1:]])
        with snapshot(engine) as conn:
            result = conn.execute(stats.feedback_query(form.filters).execution_options(yield_per=5000))
            for part in result.partitions():
                out.writerows([iso_time(row[0], zone), iso_time(row[0], UTC), *(csv_cell(v) for v in row[1:])]
                              for row in part)
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    name = f"feedback-{form.filters.start}-{form.filters.end}.csv"
    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"',
                                      "Cache-Control": "no-store"})
