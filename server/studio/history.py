"""A step's history (docs/studio.md): who changed what in it, and when, from the guide's published
versions (each against the one before, as the content version that first carried it says who
published it) and from every draft's revisions (each revision's step against what it was before),
in the review's plain words (server.drafts.step_diff)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contract.guides import Guide
from server import db, drafts

MAX_ROWS = 300  # revisions read for one guide, newest first: a history page stays small


@dataclass(frozen=True)
class Change:
    at: float
    by: str
    where: str  # "published as guide version 3 (content version 7)" / "draft 4, revision 12"
    href: str | None
    said: list[str]


def _step(doc: dict | None, step_id: str) -> dict | None:
    return ((doc or {}).get("steps") or {}).get(step_id)


def published(conn: Connection, guide_id: str, step_id: str) -> list[Change]:
    gv, cg, cv = db.guide_versions, db.content_guides, db.content_versions
    first = (sa.select(cg.c.guide_version, sa.func.min(cg.c.content_version).label("cv"))
             .where(cg.c.guide_id == guide_id).group_by(cg.c.guide_version).subquery())
    rows = conn.execute(
        sa.select(gv.c.version, gv.c.document, gv.c.created_at, first.c.cv, cv.c.published_by)
        .select_from(gv.outerjoin(first, first.c.guide_version == gv.c.version).outerjoin(cv, cv.c.version == first.c.cv))
        .where(gv.c.guide_id == guide_id).order_by(gv.c.version.desc()).limit(MAX_ROWS)).all()
    out, docs = [], {r.version: drafts.document_of(Guide.from_dict(json.loads(bytes(r.document)))) for r in rows}
    for r in rows:
        before = _step(docs.get(r.version - 1), step_id) if r.version > 1 else None
        after = _step(docs[r.version], step_id)
        if r.version - 1 not in docs and r.version > 1:
            continue  # the one before is past the rows read
        said = drafts.step_diff(before, after) if before or after else []
        if said:
            where = f"published as guide version {r.version}" + (f" (content version {r.cv})" if r.cv else "")
            out.append(Change(r.created_at, r.published_by or "", where, None, said))
    return out


def _before(row, base: dict | None) -> dict | None:
    """The guide as it was before a draft revision: the document it kept, the base's, or none."""
    if row.before_kind == "document":
        return json.loads(row.before)["guide"]
    return base if row.before_kind == "base" else None


def in_drafts(conn: Connection, guide_id: str, step_id: str) -> list[Change]:
    r = db.draft_revisions
    rows = conn.execute(sa.select(r).where(r.c.guide_id == guide_id)
                        .order_by(r.c.draft_id, r.c.revision).limit(MAX_ROWS)).all()
    out: list[Change] = []
    by_draft: dict[int, list] = {}
    for row in rows:
        by_draft.setdefault(row.draft_id, []).append(row)
    for draft_id, revs in by_draft.items():
        draft = drafts.get(conn, draft_id)
        found = drafts.entry(conn, draft, guide_id)
        base = found.published if found else None
        for n, row in enumerate(revs):
            before = _before(row, base)
            after = _before(revs[n + 1], base) if n + 1 < len(revs) else (found.document if found else None)
            said = drafts.step_diff(_step(before, step_id), _step(after, step_id)) \
                if _step(before, step_id) or _step(after, step_id) else []
            if said:
                out.append(Change(row.at, row.by, f"draft {draft_id} ({draft.state}), revision {row.revision}",
                                  f"/studio/drafts/{draft_id}", said))
    return out


def step_history(conn: Connection, guide_id: str, step_id: str) -> list[Change]:
    """Every change to the step, newest first."""
    return sorted(published(conn, guide_id, step_id) + in_drafts(conn, guide_id, step_id), key=lambda c: -c.at)
