"""The feedback page and its CSV export."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from server import charts, stats
from server.dashboard.filters import filter_choices, read_filters
from server.dashboard.format import when
from server.dashboard.render import engine_of, render, snapshot
from server.deps import StaffDep

PAGE_SIZE = 50
router = APIRouter(prefix="/dashboard", include_in_schema=False)


@router.get("/feedback", response_class=HTMLResponse)
def feedback_page(request: Request, user: StaffDep, page: int = 1) -> HTMLResponse:
    form = read_filters(request)
    page = max(1, page)
    with snapshot(engine_of(request)) as conn:
        total, rows = stats.feedback_page(conn, form.filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        histogram = stats.rating_histogram(conn, form.filters)
        choices = filter_choices(conn)
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
def feedback_csv(request: Request, _staff: StaffDep) -> StreamingResponse:
    form = read_filters(request)
    engine = engine_of(request)

    def rows():
        buf = io.StringIO()
        out = csv.writer(buf)
        out.writerow(["time_utc", *stats.FEEDBACK_COLUMNS[1:]])
        with snapshot(engine) as conn:
            result = conn.execute(stats.feedback_query(form.filters).execution_options(yield_per=5000))
            for part in result.partitions():
                out.writerows([when(row[0]), *(csv_cell(v) for v in row[1:])] for row in part)
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    name = f"feedback-{form.filters.start}-{form.filters.end}.csv"
    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"',
                                      "Cache-Control": "no-store"})
