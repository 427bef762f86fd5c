"""Staff publishing over HTTP: upload a library, list content versions, roll back."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from contract.guides import LibraryInvalid
from server import db, publish
from server.deps import ContextDep, PublisherDep, StaffDep
from server.ingest import MAX_INT
from server.routes import API, clean_text

log = logging.getLogger("kiosk-server")
router = APIRouter(prefix=API, tags=["staff"])
PUBLISH_PATH = f"{API}/publish"


class RollbackRequest(BaseModel):
    version: Annotated[int, Field(ge=1, le=MAX_INT)]


@router.post("/publish", responses={422: {"description": "the library is invalid: every problem is listed"},
                                   404: {"description": "there is no such rollout group"}})
def publish_upload(ctx: ContextDep, staff: PublisherDep,
                   library: Annotated[UploadFile, File(description="a .zip or .tar.gz library")],
                   note: Annotated[str | None, Form(max_length=500)] = None,
                   to: Annotated[str | None, Form(max_length=80, description="only this rollout group")] = None) -> Any:
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
            result = publish.publish_path(ctx.engine, path, by=staff, note=clean_text(note, 500), to=to or None)
        except publish.RolloutError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=404)
        except LibraryInvalid as exc:
            problems = [{**p.as_dict(), "text": str(p)} for p in exc.problems]
            return JSONResponse({"detail": f"the library has {len(problems)} problem(s); nothing was published",
                                 "problems": problems}, status_code=422)
    log.info("staff %s published content version %s", staff, result.content_version)
    return result.as_dict()


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
