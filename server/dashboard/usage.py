"""The pages about what customers do: overview, guides (list and one guide as its decision tree)
and search."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from contract.guides import Library, pick
from contract.translations import LanguageCoverage, guide_coverage, library_coverage
from server import charts, db, publish, search_preview, stats
from server.dashboard import comparisons
from server.dashboard.filters import filter_choices, read_filters
from server.dashboard.render import engine_of, render, snapshot, zone_of
from server.deps import StaffDep
from server.params import MAX_INT, whole

router = APIRouter(prefix="/dashboard", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def overview_page(request: Request, user: StaffDep) -> HTMLResponse:
    form = read_filters(request)
    with snapshot(engine_of(request)) as conn:
        o = stats.overview(conn, form.filters)
        choices = filter_choices(conn)
    label_every = max(1, len(o.per_day) // 15)
    day_chart = charts.bar_chart([(d.strftime("%m-%d"), n) for d, n in o.per_day], title="Sessions per day",
                                 label_every=label_every)
    hour_chart = charts.bar_chart([(f"{h:02d}", n) for h, n in enumerate(o.per_hour)],
                                  title=f"Sessions by hour of day ({zone_of(request)})", label_every=2)
    return render(request, "overview.html", user, o=o, form=form, choices=choices,
                  day_chart=day_chart, hour_chart=hour_chart)


@dataclass(frozen=True)
class Languages:
    """The published library's languages: each one's coverage, and per guide its texts in each."""
    coverage: list[LanguageCoverage]
    per_guide: dict[str, dict[str, tuple[int, int]]]  # guide -> lang -> (translated, texts)


def published_languages(conn) -> Languages | None:
    latest = publish.latest_content_version(conn)
    if latest is None:
        return None
    library = Library({g.id: g for g in publish.published_guides(conn, latest)}, {})
    coverage = library_coverage(library)
    langs = [c.lang for c in coverage]
    return Languages(coverage, {gid: guide_coverage(g, langs) for gid, g in library.guides.items()})


@router.get("/guides", response_class=HTMLResponse)
def guides_page(request: Request, user: StaffDep) -> HTMLResponse:
    form = read_filters(request)
    with snapshot(engine_of(request)) as conn:
        rows = stats.guides_table(conn, form.filters)
        choices = filter_choices(conn)
        languages = published_languages(conn)
    chart = charts.bar_chart([(r.guide, round(100 * (r.resolution_rate or 0), 1)) for r in rows],
                             title="Resolved, % of sessions that opened the guide", width=900, height=240)
    return render(request, "guides.html", user, rows=rows, form=form, choices=choices, chart=chart,
                  languages=languages)


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
def guide_page(request: Request, user: StaffDep, guide_id: str,
               version: Annotated[int | None, Query(ge=1, le=MAX_INT), whole(1, MAX_INT, "the version")] = None,
               ) -> HTMLResponse:
    form = read_filters(request)
    engine = engine_of(request)
    with snapshot(engine) as conn:
        known = list(conn.execute(sa.select(db.guide_versions.c.version).where(
            db.guide_versions.c.guide_id == guide_id).order_by(db.guide_versions.c.version)).scalars())
        choices = filter_choices(conn)
    if not known:
        raise HTTPException(404, f"There is no guide '{guide_id}'.")
    version = version if version in known else known[-1]
    guide = publish.load_guide(engine, guide_id, version)
    with snapshot(engine) as conn:
        flow = stats.guide_flow(conn, form.filters, guide_id, version)
        help_ = comparisons.did_it_help(conn, request, guide_id, form)
    nodes, edges, title = guide_tree(guide, flow, form.filters.lang or "en")
    tree = charts.tree_chart(nodes, edges, guide.start, title=f"{title} {version}")
    rate_chart = charts.bar_chart(
        [(f"v{r.version}", round(100 * (r.resolution_rate or 0), 1)) for r in flow.versions],
        title="Resolved, % of sessions, per version", width=360, height=200)
    return render(request, "guide.html", user, guide=guide, guide_id=guide_id, version=version, versions=known,
                  flow=flow, tree=tree, rate_chart=rate_chart, form=form, choices=choices, help=help_,
                  title=pick(guide.title, "en", guide.language))


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, user: StaffDep) -> HTMLResponse:
    form = read_filters(request)
    with snapshot(engine_of(request)) as conn:
        top = stats.top_queries(conn, form.filters, no_results=False)
        missing = stats.top_queries(conn, form.filters, no_results=True)
        gaps = stats.no_result_queries(conn, form.filters)
        found_now = search_preview.today(engine_of(request), conn, [(q, lang) for q, lang, _ in gaps])
        total, none = stats.search_totals(conn, form.filters)
        choices = filter_choices(conn)
    chart = charts.bar_chart(top[:12], title="Top queries", width=760, height=220)
    missing_chart = charts.bar_chart(missing[:12], title="Queries with no results", width=760, height=220)
    return render(request, "search.html", user, top=top, gaps=gaps, found_now=found_now, total=total,
                  no_hits=none, chart=chart, missing_chart=missing_chart, form=form, choices=choices)
