"""Staff publishing over HTTP: upload a library (published, or a draft for review while two people
must see every change), list content versions, roll back."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from contract.guides import Library, LibraryInvalid, Problem
from server import db, drafts, publish
from server.deps import Context, ContextDep, PublisherDep, StaffDep
from server.ingest import MAX_INT
from server.routes import API, clean_text
from server.studio import uploads

log = logging.getLogger("kiosk-server")
router = APIRouter(prefix=API, tags=["staff"])
PUBLISH_PATH = f"{API}/publish"


class RollbackRequest(BaseModel):
    version: Annotated[int, Field(ge=1, le=MAX_INT)]


@router.post("/publish", responses={
    200: {"description": "published (review_two_people off), or identical to the latest content version"},
    202: {"description": "review_two_people on: a submitted studio draft holds the upload's changes"},
    422: {"description": "the library is invalid: every problem is listed"},
    404: {"description": "there is no such rollout group"}})
def publish_upload(ctx: ContextDep, staff: PublisherDep,
                   library: Annotated[UploadFile, File(description="a .zip or .tar.gz library")],
                   note: Annotated[str | None, Form(max_length=500)] = None,
                   to: Annotated[str | None, Form(max_length=80, description="only this rollout group")] = None) -> Any:
    """Publish an uploaded library at once, or, while two people must see every change
    (`review_two_people`), make it a studio draft submitted for review (server.studio.uploads)."""
    note, to = clean_text(note, 500), to or None
    with tempfile.TemporaryDirectory(prefix="kiosk-upload-") as tmp:
        head = library.file.read(4)
        library.file.seek(0)
        name = (library.filename or "").lower()
        suffix = next((s for s in (".zip", ".tar.gz", ".tgz", ".tar") if name.endswith(s)), None)
        if suffix is None:
            suffix = ".zip" if head.startswith(b"PK") else ".tar.gz" if head.startswith(b"\x1f\x8b") else ".tar"
        path = Path(tmp) / f"library{suffix}"
        with path.open("wb") as out:
            while chunk := library.file.read(1 << 20):
                out.write(chunk)
        try:
            checked = publish.validate(path)
        except LibraryInvalid as exc:
            return _invalid(exc.problems, "nothing was published")
    try:
        if ctx.config.review_two_people:
            return _for_review(ctx, staff, checked, clean_text(library.filename, 80) or "upload", note, to)
        result = publish.publish_library(ctx.engine, checked, by=staff, note=note, to=to)
    except publish.RolloutError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=404)
    except drafts.DraftError as exc:  # its group was removed while the draft was being made
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)
    log.info("staff %s published content version %s", staff, result.content_version)
    return result.as_dict()


def _invalid(problems: list[Problem], said: str) -> JSONResponse:
    listed = [{**p.as_dict(), "text": str(p)} for p in problems]
    return JSONResponse({"detail": f"the library has {len(listed)} problem(s); {said}", "problems": listed},
                        status_code=422)


def _for_review(ctx: Context, staff: str, checked: Library, name: str, note: str | None,
                to: str | None) -> JSONResponse:
    made = uploads.draft_from_library(ctx.engine, checked, staff, name, note, to)
    if made.draft_id is None:
        return JSONResponse({"detail": f"The upload is identical to content version {made.base_version}: "
                                       "nothing to review, and no draft was made.",
                             "content_version": made.base_version, "digest": made.digest, "draft": None})
    path = f"/studio/drafts/{made.draft_id}"
    review = ctx.config.public_url.rstrip("/") + path if ctx.config.public_url else path
    if made.problems:  # the validator passed it above, so the draft's own check should too
        return _invalid(made.problems, f"draft {made.draft_id} holds it, open, at {review}")
    log.info("staff %s uploaded a library: draft %s waits for review", staff, made.draft_id)
    return JSONResponse({
        "detail": f"Nothing was published: two people must see every change (review_two_people), so draft "
                  f"{made.draft_id} holds this upload's changes, submitted for review. A second publisher must "
                  f"approve it at {review} before kiosks receive it.",
        "draft": made.draft_id, "state": drafts.SUBMITTED, "review": review, "base_version": made.base_version,
        "digest": made.digest, "changed": made.changed, "removed": made.removed,
        "library_settings": made.settings, "to": to}, status_code=202)


@router.get("/content/versions")
def content_version_list(ctx: ContextDep, staff: StaffDep) -> dict[str, Any]:
    cv = db.content_versions
    with db.read(ctx.engine) as conn:
        rows = conn.execute(sa.select(cv.c.version, cv.c.published_at, cv.c.published_by, cv.c.note,
                                      cv.c.rollback_of).order_by(cv.c.version.desc())).mappings().all()
    return {"versions": [dict(r) for r in rows]}


@router.post("/content/rollback")
def content_rollback(ctx: ContextDep, req: RollbackRequest, staff: PublisherDep) -> Any:
    try:
        result = publish.rollback(ctx.engine, req.version, by=staff)
    except LibraryInvalid as exc:
        return JSONResponse({"detail": "cannot roll back", "problems": [p.as_dict() for p in exc.problems]},
                            status_code=404)
    return result.as_dict()
