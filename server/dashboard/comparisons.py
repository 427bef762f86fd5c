"""The pages that say whether a change helped, read from the comparison summaries (server.compare):
the guide page's "Did it help?" section (two versions of the guide, or two rollout groups over the
same days, picked in a plain GET form) and "Where customers need a person" across all guides.
Both count whole days of the page's period on the site's clocks (server setting time_zone: the
summaries' days are the site's days, server/summary.py) and every site and language (the summaries
are kept per day, guide, version, group and step only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from server import charts, compare
from server.dashboard.filters import FilterForm, read_filters
from server.dashboard.render import engine_of, render, snapshot
from server.deps import StaffDep
from server.params import MAX_INT, query_whole

router = APIRouter(prefix="/dashboard", include_in_schema=False)
VERDICT_CLASS = {compare.BETTER: "better", compare.WORSE: "worse", compare.NOT_ENOUGH: "wait",
                 compare.SAME: "same", compare.MORE: "same", compare.FEWER: "same"}


def _value(f: compare.Figure, side: str) -> str:
    value, interval = getattr(f, side), getattr(f, f"{side}_interval")
    if value is None:
        return "–"
    if f.key == "rating":
        text = f"{value:.2f} ★"
        return text + (f" ({interval[0]:.2f}–{interval[1]:.2f})" if interval else "")
    count, of = getattr(f, f"{side}_count"), getattr(f, f"{side}_of")
    text = f"{100 * value:.1f}% ({count} of {of})"
    return text + (f", {100 * interval[0]:.1f}–{100 * interval[1]:.1f}%" if interval else "")


def _difference(f: compare.Figure) -> str:
    if f.difference is None:
        return "–"
    if f.key == "rating":
        lo, hi = f.difference_interval or (f.difference, f.difference)
        return f"{f.difference:+.2f} ★ ({lo:+.2f} to {hi:+.2f})"
    lo, hi = f.difference_interval
    return f"{100 * f.difference:+.1f} points ({100 * lo:+.1f} to {100 * hi:+.1f})"


def _rows(figures: list[compare.Figure]) -> list[dict[str, Any]]:
    return [{"key": f.key, "name": f.name, "a": _value(f, "a"), "b": _value(f, "b"), "difference": _difference(f),
             "verdict": f.verdict, "class": VERDICT_CLASS[f.verdict], "more": f.more_needed, "sentence": f.sentence}
            for f in figures]


def did_it_help(conn, request: Request, guide_id: str, form: FilterForm) -> dict[str, Any]:
    """The section's context: what can be picked, what was, and the comparison (None when there is
    not two of anything to compare)."""
    p = request.query_params
    effects = compare.Effects.of(request.app.state.ctx.config)
    start, end = form.filters.start, form.filters.end
    versions = compare.guide_versions_seen(conn, guide_id)
    groups = compare.groups_seen(conn, guide_id)
    mode = "groups" if p.get("compare") == "groups" else "versions"
    out: dict[str, Any] = {"versions": versions, "groups": groups, "mode": mode, "result": None}
    if mode == "versions":
        b = query_whole(p, "b", 1, MAX_INT)
        a = query_whole(p, "a", 1, MAX_INT)
        b = b if b in versions else (versions[-1] if versions else None)
        a = a if a in versions else next((v for v in reversed(versions) if v != b), None)
        out.update(a=a, b=b)
        if a is not None and b is not None and a != b:
            out["result"] = compare.compare_versions(conn, guide_id, a, b, effects, since=start, until=end)
    else:
        g1, g2 = p.get("g1"), p.get("g2")
        g2 = g2 if g2 in groups else (groups[-1] if groups else None)
        g1 = g1 if g1 in groups else next((g for g in groups if g != g2), None)
        out.update(g1=g1, g2=g2)
        if g1 is not None and g2 is not None and g1 != g2:
            out["result"] = compare.compare_groups(conn, guide_id, g1, g2, since=start, until=end, effects=effects)
    if out["result"] is not None:
        out["figures"] = _rows(out["result"].figures)
        # steps nobody walked away from on either side (the outcome steps, mostly) are left out of
        # the table, but not out of the correction: it is over every step compared
        out["steps"] = _rows([f for f in out["result"].steps if f.a_count or f.b_count])
        out["steps_compared"] = len(out["result"].steps)
    out["effects"] = effects
    return out


@router.get("/people", response_class=HTMLResponse)
def people_page(request: Request, user: StaffDep) -> HTMLResponse:
    form = read_filters(request)
    minutes = request.app.state.ctx.config.staff_minutes_per_escalation
    with snapshot(engine_of(request)) as conn:
        need = compare.need_a_person(conn, form.filters.start, form.filters.end, minutes, zone=form.filters.zone)
    chart = charts.bar_chart([(f"{s.guide}/{s.step}", s.lost) for s in need.steps[:12]],
                             title="Sessions that asked for a person or walked away, by step", width=900, height=260)
    return render(request, "people.html", user, need=need, form=form, chart=chart)
