"""The feedback page and its CSV export."""

from __future__ import annotations

import csv
import io
import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from server import charts, stats
from server.dashboard.filters import filter_choices, read_filters
from server.dashboard.format import when
from server.dashboard.render import engine_of, render, snapshot
from server.deps import StaffDep
from server.params import whole

PAGE_SIZE = 50
MAX_PAGE = 100_000  # 5 million feedback rows: beyond it, narrow the period
router = APIRouter(prefix="/dashboard", include_in_schema=False)


@router.get("/feedback", response_class=HTMLResponse)
def feedback_page(request: Request, user: StaffDep,
                  page: Annotated[int, Query(ge=1, le=MAX_PAGE), whole(1, MAX_PAGE, "'page'")] = 1) -> HTMLResponse:
    form = read_filters(request)
    with snapshot(engine_of(request)) as conn:
        total, rows = stats.feedback_page(conn, form.filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        histogram = stats.rating_histogram(conn, form.filters)
        choices = filter_choices(conn)
    chart = charts.bar_chart([(f"{r}★", histogram.get(r, 0)) for r in range(1, 6)], title="Ratings",
                             width=360, height=200)
    pages = max(1, -(-total // PAGE_SIZE))
    return render(request, "feedback.html", user, rows=rows, total=total, page=page, pages=pages, chart=chart,
                  form=form, choices=choices)


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

    def rows():
        buf = io.StringIO()
        out = csv.writer(buf, quoting=csv.QUOTE_ALL)  # quoted, so a reader that honours quotes never splits a cell
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
