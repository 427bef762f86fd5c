"""The Library page: content versions, what each changed, and rolling back to one."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from contract.guides import LibraryInvalid
from server import charts, db, publish
from server.dashboard.render import engine_of, render, snapshot
from server.deps import PublisherDep, StaffDep
from server.params import MAX_INT, whole

router = APIRouter(prefix="/dashboard", include_in_schema=False)
Version = Annotated[int, Query(ge=1, le=MAX_INT), whole(1, MAX_INT, "the content version")]


def _version_guides(conn) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}
    for v, g, gv in conn.execute(sa.select(db.content_guides.c.content_version, db.content_guides.c.guide_id,
                                           db.content_guides.c.guide_version)):
        out.setdefault(v, {})[g] = gv
    return out


def version_diff(before: dict[str, int], after: dict[str, int]) -> dict[str, list]:
    return {"added": sorted(set(after) - set(before)), "removed": sorted(set(before) - set(after)),
            "changed": sorted((g, before[g], after[g]) for g in set(after) & set(before) if before[g] != after[g])}


def settings_change(before: str | None, after: str | None) -> str | None:
    """How a version's `_library.yaml` differs from the one before (canonical JSON, so equal text is
    equal settings): "added", "changed", "removed", or None."""
    if before == after:
        return None
    return "added" if before is None else "removed" if after is None else "changed"


@router.get("/library", response_class=HTMLResponse)
def library_page(request: Request, user: StaffDep, rolled_back: Version | None = None,
                 published: Version | None = None) -> HTMLResponse:
    with snapshot(engine_of(request)) as conn:
        versions = conn.execute(sa.select(db.content_versions.c.version, db.content_versions.c.published_at,
                                          db.content_versions.c.published_by, db.content_versions.c.note,
                                          db.content_versions.c.rollback_of, db.content_versions.c.staged_to,
                                          db.content_versions.c.base_version,
                                          db.content_versions.c.library_settings)
                                .order_by(db.content_versions.c.version.desc())).all()
        guides = _version_guides(conn)
        held: dict[int, list[str]] = {}
        for name, version in conn.execute(sa.select(db.rollout_groups.c.name, db.rollout_groups.c.content_version)
                                          .order_by(db.rollout_groups.c.name)):
            held.setdefault(version, []).append(name)
    items = []
    settings = {v.version: v.library_settings for v in versions}
    for v in versions:
        previous = max((p for p in guides if p < v.version), default=None)
        items.append({"v": v, "count": len(guides.get(v.version, {})),
                      "diff": version_diff(guides.get(previous, {}), guides.get(v.version, {})),
                      "settings": settings_change(settings.get(previous), v.library_settings),
                      "previous": previous, "groups": held.get(v.version, [])})
    latest = versions[0].version if versions else None
    # Built here from two numbers, so a crafted link cannot put words of its own on the page.
    done = (f"Content version {rolled_back} was published again as version {published}."
            if rolled_back and published else None)
    chart = charts.bar_chart([(f"v{it['v'].version}", len(it["diff"]["added"]) + len(it["diff"]["changed"])
                               + len(it["diff"]["removed"])) for it in reversed(items)],
                             title="Guides added, changed or removed per version", width=480, height=200)
    return render(request, "library.html", user, items=items, latest=latest, done=done, chart=chart,
                  groups=sum(map(len, held.values())))


@router.post("/library/{version}/rollback")
def rollback(request: Request, user: PublisherDep,
             version: Annotated[int, Path(ge=1, le=MAX_INT), whole(1, MAX_INT)]) -> Response:
    # StaffDep has checked the form's CSRF token and its origin (server.csrf).
    try:
        result = publish.rollback(engine_of(request), version, by=user)
    except LibraryInvalid as exc:
        raise HTTPException(404, str(exc)) from None
    return RedirectResponse(f"/dashboard/library?rolled_back={version}&published={result.content_version}",
                            status_code=303)
