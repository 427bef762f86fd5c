"""The studio's JSON API under /studio/api (docs/studio.md): the editor pages' autosave, usable by
scripts too. Every write names the draft revision it started from in If-Match; a stale one gets
412 with who changed what since. Each reply carries the draft's revision (also as ETag) and the
problems the live check found in the edited guide, each with its step."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Request
from fastapi.responses import JSONResponse

from server import db, drafts
from server.deps import EditorDep, StaffDep
from server.params import MAX_INT
from server.studio import edits, images

router = APIRouter(prefix="/studio/api", include_in_schema=False)
DraftId = Annotated[int, Path(ge=1, le=MAX_INT)]
GuideId = Annotated[str, Path(max_length=80, pattern=r"^[a-z0-9][a-z0-9-]*$")]


def _engine(request: Request):
    return request.app.state.ctx.engine


def revision_from(if_match: str | None) -> int:
    """The revision an If-Match header names ("7" or W/"7"); without one a write is refused (428)."""
    if if_match is None:
        raise drafts.DraftError("Send If-Match with the draft revision you started from.", 428)
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        raise drafts.DraftError("If-Match names a draft revision: a whole number in quotes.", 428)
    return int(value)


def _reply(body: dict[str, Any], revision: int, status: int = 200) -> JSONResponse:
    return JSONResponse({**body, "revision": revision}, status_code=status, headers={"ETag": f'"{revision}"'})


def error_reply(exc: drafts.DraftError) -> JSONResponse:
    body: dict[str, Any] = {"detail": str(exc)}
    if isinstance(exc, drafts.StaleDraft):
        body |= {"revision": exc.revision, "changes": exc.changes}
    return JSONResponse(body, status_code=exc.status)


def problems_json(problems) -> list[dict[str, Any]]:
    return [{"step": p.step, "message": p.message, "text": str(p)} for p in problems]


def checked(request: Request, draft_id: int, guide_id: str, revision: int, **extra: Any) -> JSONResponse:
    with db.read(_engine(request)) as conn:
        draft = drafts.get(conn, draft_id)
        problems = drafts.check_guide(conn, draft, guide_id)
    return _reply({"guide": guide_id, "problems": problems_json(problems), **extra}, revision)


@router.post("/drafts")
def new_draft(request: Request, user: EditorDep, name: Annotated[str, Body(embed=True, max_length=200)] = "") -> Any:
    draft_id = drafts.create(_engine(request), user, name)
    return _reply({"id": draft_id}, 0, 201)


@router.get("/drafts/{draft_id}")
def draft_state(request: Request, user: StaffDep, draft_id: DraftId) -> Any:
    try:
        with db.read(_engine(request)) as conn:
            draft = drafts.get(conn, draft_id)
            ids = drafts.guide_ids(conn, draft)
    except drafts.DraftError as exc:
        return error_reply(exc)
    return _reply({"id": draft.id, "owner": draft.owner, "state": draft.state, "base_version": draft.base_version,
                   "guides": ids}, draft.revision)


@router.get("/drafts/{draft_id}/guides/{guide_id}")
def guide_state(request: Request, user: StaffDep, draft_id: DraftId, guide_id: GuideId) -> Any:
    try:
        with db.read(_engine(request)) as conn:
            draft = drafts.get(conn, draft_id)
            found = drafts.entry(conn, draft, guide_id)
            if found is None:
                raise drafts.DraftError(f"Draft {draft_id} has no guide '{guide_id}'.", 404)
            problems = drafts.check_guide(conn, draft, guide_id)
    except drafts.DraftError as exc:
        return error_reply(exc)
    return _reply({"guide": guide_id, "document": found.document, "problems": problems_json(problems)},
                  draft.revision)


@router.post("/drafts/{draft_id}/guides/{guide_id}/edit")
def edit_guide(request: Request, user: EditorDep, draft_id: DraftId, guide_id: GuideId,
               op: Annotated[dict[str, Any], Body()],
               if_match: Annotated[str | None, Header()] = None) -> Any:
    """One edit (server.studio.edits.apply), saved as a new revision and checked at once."""
    try:
        revision = save_edit(request, user, draft_id, guide_id, op, revision_from(if_match))
    except drafts.DraftError as exc:
        return error_reply(exc)
    except edits.EditRefused as exc:
        return JSONResponse({"detail": str(exc)}, status_code=422)
    return checked(request, draft_id, guide_id, revision)


def save_edit(request: Request, user: str, draft_id: int, guide_id: str, op: dict[str, Any], if_match: int,
              uploaded: dict[str, str] | None = None) -> int:
    """Apply and save one edit; `uploaded`: an image just stored (path -> sha256) the edit names."""
    engine = _engine(request)
    with db.read(engine) as conn:
        draft = drafts.get(conn, draft_id)
        found = drafts.entry(conn, draft, guide_id)
        if found is None or found.document is None:
            raise drafts.DraftError(f"Draft {draft_id} has no guide '{guide_id}'.", 404)
        changed, said = edits.apply(found.document, op)
        image_map = images.image_map(conn, draft, changed, {**found.images, **(uploaded or {})})
    return drafts.save_guide(engine, draft_id, guide_id, changed, user, if_match, f"{guide_id}: {said}",
                             images=image_map)


@router.put("/drafts/{draft_id}/guides/{guide_id}")
def put_guide(request: Request, user: EditorDep, draft_id: DraftId, guide_id: GuideId,
              document: Annotated[dict[str, Any], Body(embed=True)],
              if_match: Annotated[str | None, Header()] = None) -> Any:
    """Set the whole guide (a new one, or one replaced), as a guide file's YAML would read."""
    try:
        revision = drafts.save_guide(_engine(request), draft_id, guide_id, document, user, revision_from(if_match),
                                     f"{guide_id}: the whole guide")
    except drafts.DraftError as exc:
        return error_reply(exc)
    return checked(request, draft_id, guide_id, revision)


@router.delete("/drafts/{draft_id}/guides/{guide_id}")
def delete_guide(request: Request, user: EditorDep, draft_id: DraftId, guide_id: GuideId,
                 if_match: Annotated[str | None, Header()] = None) -> Any:
    try:
        revision = drafts.save_guide(_engine(request), draft_id, guide_id, None, user, revision_from(if_match),
                                     f"{guide_id}: deleted the guide")
    except drafts.DraftError as exc:
        return error_reply(exc)
    return _reply({"guide": guide_id, "deleted": True}, revision)


@router.post("/drafts/{draft_id}/undo")
def undo(request: Request, user: EditorDep, draft_id: DraftId,
         if_match: Annotated[str | None, Header()] = None) -> Any:
    try:
        done = drafts.undo(_engine(request), draft_id, user, revision_from(if_match))
    except drafts.DraftError as exc:
        return error_reply(exc)
    if done is None:
        return JSONResponse({"detail": "Nothing of yours to undo in this draft."}, status_code=409)
    return _reply({"undid": done[1]}, done[0])
