"""The studio's pages under /studio: drafts, a draft's guides, the guide editor (the tree the Guides
page draws, one step's texts in every language side by side), and review. Server-rendered like the
dashboard; every form works without JavaScript, and /studio/static/studio.js, where it runs, saves
as you type through the JSON API (server.studio.api) and shows the live check's problems."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import APIRouter, File, Form, HTTPException, Path, Query, Request, UploadFile
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from contract.guides import LANGUAGE
from contract.icons import ICONS
from contract.images import ImageRefused
from contract.library_settings import parse_settings
from contract.limits import MAX_IMAGE_BYTES, MAX_IMAGE_SIDE
from server import auth, charts, db, drafts, groups, i18n, mobile, stats
from server.content import image_response
from server.dashboard import usage
from server.dashboard.render import SERVER_DIR, engine_of, render, zone_of
from server.deps import EditorDep, PublisherDep, StaffDep
from server.params import MAX_INT
from server.studio import edits, history, library_edits, merge, preview, translations
from server.studio import images as studio_images
from server.studio.api import save_edit
from server.translation_files import TranslationFileError

router = APIRouter(prefix="/studio", include_in_schema=False)
DraftId = Annotated[int, Path(ge=1, le=MAX_INT)]
GuideId = Annotated[str, Path(max_length=80, pattern=r"^[a-z0-9][a-z0-9-]*$")]


def _refused(exc: drafts.DraftError | edits.EditRefused) -> HTTPException:
    status = exc.status if isinstance(exc, drafts.DraftError) else 422
    return HTTPException(status, str(exc))


def _role(request: Request, user: str) -> str:
    return auth.staff_role(engine_of(request), user) or "viewer"


def _by_form(request: Request, user: str, draft_id: int, guide_id: str, work: Callable[[], Any],
             then: str) -> Response:
    """A form's change of a draft: `work` done, then `then` (303); a stale revision answers with the
    page saying who changed what (412), a refusal with the page saying why."""
    try:
        work()
    except drafts.StaleDraft as exc:
        resp = render(request, "studio_stale.html", user, draft_id=draft_id, guide_id=guide_id, exc=exc)
        resp.status_code = 412
        return resp
    except (drafts.DraftError, edits.EditRefused) as exc:
        raise _refused(exc) from None
    return RedirectResponse(then, status_code=303)


async def refused_page(request: Request, exc) -> Response:
    """A studio page's refusal (a draft that is not there, an edit that means nothing, approval
    that must wait) as a page saying why; everywhere else FastAPI's own reply stands."""
    path = request.url.path
    if not path.startswith("/studio") or path.startswith("/studio/api"):
        return await http_exception_handler(request, exc)
    session = request.cookies.get(auth.COOKIE_NAME, "")
    user = auth.session_user(engine_of(request), session) if session else None
    resp = render(request, "studio_refused.html", user, message=exc.detail, status=exc.status_code)
    resp.status_code = exc.status_code
    return resp


@router.get("/static/studio.js")
def script() -> FileResponse:
    return FileResponse(SERVER_DIR / "static" / "studio.js", media_type="text/javascript",
                        headers={"Cache-Control": "max-age=3600"})


@router.get("/static/kiosk-preview.css")
def kiosk_preview_css() -> Response:
    return Response(preview.kiosk_css(), media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@router.get("", response_class=HTMLResponse)
def studio_home(request: Request, user: StaffDep) -> HTMLResponse:
    engine = engine_of(request)
    with db.read(engine) as conn:
        listed = drafts.list_drafts(conn)
        latest = drafts.publish.latest_content_version(conn)
        docs = {gid: doc for gid, (doc, _) in sorted(drafts.published_documents(conn, latest).items())}
    # The library's languages: a guide with none of its texts in a language counts all of them missing there.
    totals = drafts.library_missing(docs)
    guides = [{"id": gid, "title": drafts.title_of(doc, gid), "missing": drafts.missing_translations(doc)}
              for gid, doc in docs.items()]
    return render(request, "studio_home.html", user, drafts=listed, guides=guides, totals=totals, latest=latest,
                  role=_role(request, user))


@router.post("/drafts")
def new_draft(request: Request, user: EditorDep, name: Annotated[str, Form(max_length=200)] = "") -> Response:
    draft_id = drafts.create(engine_of(request), user, name)
    return RedirectResponse(f"/studio/drafts/{draft_id}", status_code=303)


def _draft_view(conn, draft: drafts.Draft) -> dict[str, Any]:
    ids = drafts.guide_ids(conn, draft)
    changed = drafts.changed_guides(conn, draft.id)
    # Guides the draft does not change are checked too when they jump to one it deletes.
    deleted = {gid for gid, stored in changed.items() if stored is None}
    published = drafts.published_documents(conn, draft.base_version) if deleted else {}
    jumping = {gid for gid, (doc, _) in published.items()
               if gid not in changed and any(c.get("guide") in deleted for step in doc["steps"].values()
                                             for c in step.get("choices") or [])}
    rows, problems = [], {}
    for gid in sorted(set(ids) | set(changed)):
        found = drafts.entry(conn, draft, gid)
        doc = found.document if found else None
        if gid in changed or gid in jumping:
            problems[gid] = drafts.check_guide(conn, draft, gid, ids) if doc else []
        rows.append({"id": gid, "title": drafts.title_of(doc or (found.published if found else None), gid),
                     "changed": gid in changed, "deleted": doc is None,
                     "missing": drafts.missing_translations(doc) if doc else {},
                     "problems": len(problems.get(gid, [])), "checked": gid in problems})
    return {"rows": rows, "problems": problems, "ids": ids}


@router.get("/drafts/{draft_id}", response_class=HTMLResponse)
def draft_page(request: Request, user: StaffDep, draft_id: DraftId, done: str | None = None) -> HTMLResponse:
    engine = engine_of(request)
    try:
        with db.read(engine) as conn:
            draft = drafts.get(conn, draft_id)
            view = _draft_view(conn, draft)
            diff = drafts.draft_diff(conn, draft)
            notes = drafts.comments(conn, draft_id)
            latest = drafts.publish.latest_content_version(conn)
            both = drafts.conflicts(conn, draft) if latest != draft.base_version else []
            group_names = [g.name for g in groups.list_groups(conn)]
            wrote = drafts.authors(conn, draft)
    except drafts.DraftError as exc:
        raise _refused(exc) from None
    two_people = request.app.state.ctx.config.review_two_people
    messages = {"submitted": "Submitted for review. A publisher will see it on this page.",
                "returned": "Sent back to its author.", "commented": "Comment added.",
                "updated": "Brought up to date with the latest content version.",
                "scheduled": "Approved: it goes live at the time shown, published by the server (no one needs to be here).",
                "synonyms": "The library's search synonyms are saved in this draft.",
                "categories": "The library's categories are saved in this draft.",
                "translated": "The translations are imported into this draft: 'What changes for kiosks' lists them.",
                "help-places": "Where a person can help is saved in this draft.",
                "replaced": "Replaced in every guide listed under 'What changes for kiosks'; Undo takes it back a guide at a time.", "undone": "Undone.", "nothing": "Nothing of yours to undo.",
                "published": f"Approved and published as content version {draft.published_version}; kiosks "
                             "receive it at their next sync."}
    return render(request, "studio_draft.html", user, draft=draft, diff=diff, notes=notes, latest=latest,
                  conflicts=both, groups=group_names, role=_role(request, user), done=messages.get(done or ""),
                  own_work=user in wrote and two_people, **view)


@router.post("/drafts/{draft_id}/guides")
def new_guide(request: Request, user: EditorDep, draft_id: DraftId, revision: Annotated[int, Form()],
              guide_id: Annotated[str, Form(max_length=80)], title: Annotated[str, Form(max_length=300)] = "",
              language: Annotated[str, Form(max_length=16)] = "en",
              copy_of: Annotated[str, Form(max_length=80)] = "") -> Response:
    """A guide from scratch (a title and one empty step), or a copy of one the draft has."""
    engine = engine_of(request)
    try:
        with db.read(engine) as conn:
            draft = drafts.get(conn, draft_id)
            if guide_id in drafts.guide_ids(conn, draft):
                raise edits.EditRefused(f"The library already has a guide '{guide_id}'.")
            source = drafts.entry(conn, draft, copy_of) if copy_of else None
        if copy_of and (source is None or source.document is None):
            raise edits.EditRefused(f"There is no guide '{copy_of}' to copy.")
        if source is not None:
            doc, images, said = edits.copy_guide(source.document, guide_id), source.images, f"copied from {copy_of}"
            if title.strip():
                doc["title"] = {doc.get("language") or "en": title.strip()}
        else:
            doc, images, said = edits.blank_guide(guide_id, title, language.strip() or "en"), {}, "a new guide"
        drafts.save_guide(engine, draft_id, guide_id, doc, user, revision, f"{guide_id}: {said}", images=images)
    except (drafts.DraftError, edits.EditRefused) as exc:
        raise _refused(exc) from None
    return RedirectResponse(f"/studio/drafts/{draft_id}/guides/{guide_id}", status_code=303)


def tree_of(doc: dict[str, Any], draft_id: int, problems: dict) -> Any:
    """The guide as the Guides page draws it (its own builder, usage.guide_tree, and
    server.charts.tree_chart), without the visitor counts: each box a link to edit its step, the
    ones with a problem outlined red (the page's script redraws the outline after each save)."""
    guide = drafts.as_guide(doc)
    nodes, edges, _ = usage.guide_tree(guide, stats.GuideFlow([]), guide.language)
    for node in nodes:
        if not node.external:
            node.notes, node.warn = [], bool(problems.get(node.id))
            node.title = node.title or "(no text yet)"
            node.href = f"/studio/drafts/{draft_id}/guides/{guide.id}?step={node.id}#step"
    start = guide.start if guide.start in guide.steps else next(iter(guide.steps), "")
    return charts.tree_chart(nodes, edges, start, title=drafts.title_of(doc, guide.id), counts=False)


@router.get("/drafts/{draft_id}/guides/{guide_id}", response_class=HTMLResponse)
def guide_page(request: Request, user: StaffDep, draft_id: DraftId, guide_id: GuideId,
               step: Annotated[str | None, Query(max_length=80)] = None,
               lang: Annotated[str | None, Query(max_length=16)] = None) -> HTMLResponse:
    engine = engine_of(request)
    try:
        with db.read(engine) as conn:
            draft = drafts.get(conn, draft_id)
            found = drafts.entry(conn, draft, guide_id)
            if found is None or found.document is None:
                raise drafts.DraftError(f"Draft {draft_id} has no guide '{guide_id}'.", 404)
            ids = drafts.guide_ids(conn, draft)
            problems = drafts.problems_by_step(drafts.check_guide(conn, draft, guide_id, ids))
            library_images = studio_images.library_images(conn, draft)
            leading = library_edits.jumps_in_draft(conn, draft, guide_id)
            walked = step_figures(conn, request, draft, guide_id, step) if step else None
    except drafts.DraftError as exc:
        raise _refused(exc) from None
    doc = found.document
    languages = drafts.languages_of(doc)
    if lang and LANGUAGE.match(lang) and lang not in languages:
        languages.append(lang)  # a language being added: its fields show empty, marked missing
    step_problems = {s: m for (g, s), m in problems.items() if g == guide_id}
    steps = doc.get("steps") or {}
    selected = step if step in steps else None
    return render(request, "studio_guide.html", user, scripts=True, draft=draft, guide_id=guide_id, doc=doc,
                  steps=steps, selected=selected, languages=languages, problems=step_problems,
                  tree=tree_of(doc, draft_id, step_problems), other_guides=[g for g in ids if g != guide_id],
                  role=_role(request, user), missing=drafts.missing_translations(doc), lang_param=lang or "",
                  library_images=library_images, jumps_here=leading,
                  image_sha=found.images.get(steps[selected].get("image") or "") if selected else None,
                  step_stats=walked, max_side=MAX_IMAGE_SIDE, max_mb=MAX_IMAGE_BYTES // 1_000_000,
                  icons=sorted(ICONS))


STATS_DAYS = 30
Orientation = Annotated[str, Query(pattern="^(portrait|landscape)$")]


def _preview_source(request: Request, draft_id: int, guide_id: str):
    with db.read(engine_of(request)) as conn:
        draft = drafts.get(conn, draft_id)
        found = drafts.entry(conn, draft, guide_id)
    if found is None or found.document is None:
        raise drafts.DraftError(f"Draft {draft_id} has no guide '{guide_id}'.", 404)
    return draft, found


@router.get("/drafts/{draft_id}/guides/{guide_id}/preview", response_class=HTMLResponse)
def preview_page(request: Request, user: StaffDep, draft_id: DraftId, guide_id: GuideId,
                 step: Annotated[str | None, Query(max_length=80)] = None,
                 lang: Annotated[str | None, Query(max_length=16)] = None,
                 orientation: Orientation = "landscape", contrast: Annotated[str, Query(max_length=1)] = "") -> HTMLResponse:
    """One step as a kiosk (approximately: server.studio.preview) and as a phone show it."""
    try:
        draft, found = _preview_source(request, draft_id, guide_id)
    except drafts.DraftError as exc:
        raise _refused(exc) from None
    doc = found.document
    steps = doc.get("steps") or {}
    step = step if step in steps else (doc.get("start") if doc.get("start") in steps else next(iter(steps), ""))
    languages = drafts.languages_of(doc)
    lang = lang if lang in languages else languages[0]
    high = contrast == "1"
    base = f"/studio/drafts/{draft_id}/guides/{guide_id}"
    view = preview.step_view(doc, step, lang, lambda target: f"{base}/preview?{preview.query(target, lang, orientation, high)}")
    image = found.images.get((steps.get(step) or {}).get("image") or "")
    phone_w, phone_h = preview.PHONE[orientation]
    return render(request, "studio_preview.html", user, frames=True, draft=draft, guide_id=guide_id, step=step,
                  steps=list(steps), lang=lang, languages=languages, orientation=orientation, contrast=high,
                  view=view, image=image, bar=preview.BAR, base=base, phone_w=phone_w, phone_h=phone_h,
                  phone_src=f"{base}/phone?{preview.query(step, lang, orientation)}",
                  direction=i18n.direction(lang))


@router.get("/drafts/{draft_id}/guides/{guide_id}/phone", response_class=HTMLResponse)
def phone_preview(request: Request, user: StaffDep, draft_id: DraftId, guide_id: GuideId,
                  step: Annotated[str, Query(max_length=80)] = "", lang: Annotated[str, Query(max_length=16)] = "en",
                  orientation: Orientation = "portrait") -> HTMLResponse:
    """The mobile continue page's own template with the draft's step, for the preview's frame:
    its answers lead to the next step's preview; no feedback form (nothing is recorded)."""
    try:
        _, found = _preview_source(request, draft_id, guide_id)
    except drafts.DraftError as exc:
        raise _refused(exc) from None
    doc = found.document
    steps = doc.get("steps") or {}
    step = step if step in steps else doc.get("start") or ""
    languages = drafts.languages_of(doc)
    lang = lang if lang in languages else languages[0]
    base = f"/studio/drafts/{draft_id}/guides/{guide_id}/phone"
    view = preview.step_view(doc, step, lang, lambda target: f"{base}?{preview.query(target, lang, orientation)}")
    image = found.images.get((steps.get(step) or {}).get("image") or "")
    s = i18n.strings(i18n.ui_language(lang))
    html = mobile.templates.get_template("step.html").render(
        lang=lang, dir=i18n.direction(lang), s=s, title=view["title"], text=view["text"],
        image=f"/studio/images/{image}" if image else None, image_alt=view["alt"], history=[],
        choices=[(c["label"], c["href"] or "#") for c in view["choices"]], outcome=view["end"],
        languages=[(code, i18n.LANGUAGE_NAMES.get(code, code), f"{base}?{preview.query(step, code, orientation)}")
                   for code in languages if code != lang],
        feedback_url=None, start_url=f"{base}?{preview.query(doc.get('start') or '', lang, orientation)}")
    return HTMLResponse(html, headers={"Content-Security-Policy": mobile.CSP.replace("frame-ancestors 'none'",
                                                                                     "frame-ancestors 'self'"),
                                       "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


def step_figures(conn, request: Request, draft: drafts.Draft, guide_id: str, step: str) -> dict[str, int] | None:
    """The step's visitors and walk-aways (its idle timeouts) in the last 30 days, on the guide's
    version in the draft's base, read by the Guides page's own reader (server.stats.guide_flow).
    None when nobody saw it."""
    version = conn.execute(sa.select(db.content_guides.c.guide_version).where(
        db.content_guides.c.content_version == draft.base_version,
        db.content_guides.c.guide_id == guide_id)).scalar() if draft.base_version is not None else None
    if version is None:
        return None
    today = datetime.datetime.now(zone_of(request)).date()
    f = stats.Filters(start=today - datetime.timedelta(days=STATS_DAYS - 1), end=today, zone=zone_of(request))
    flow = stats.guide_flow(conn, f, guide_id, version)
    visitors = flow.views.get(step, 0)
    if not visitors:
        return None
    return {"visitors": visitors, "walked": flow.leaves.get(step, {}).get("idle_timeout", 0)}


def _texts_from(form: FormData, prefix: str) -> dict[str, str]:
    return {key[len(prefix):]: str(value) for key, value in form.multi_items()
            if key.startswith(prefix) and LANGUAGE.match(key[len(prefix):])}


def op_from_form(form: FormData) -> dict[str, Any]:
    """The edit a page's form asks for, as the JSON API receives it (server.studio.edits)."""
    op = str(form.get("op") or "")
    step = str(form.get("step") or "")
    if op == "set_step":
        choices = []
        for n in range(int(str(form.get("choices") or "0"))):
            label = _texts_from(form, f"c{n}-label-")
            target = str(form.get(f"c{n}-target") or "")
            if form.get(f"c{n}-delete") or (not any(v.strip() for v in label.values()) and not target):
                continue
            kind, _, where = target.partition(":")
            choices.append({"label": label, "guide" if kind == "guide" else "next": where})
        return {"op": op, "step": step, "text": _texts_from(form, "text-"), "end": str(form.get("end") or "") or None,
                "choices": choices, "image": str(form.get("image") or "") or None,
                "image_alt": _texts_from(form, "alt-")}
    if op == "set_guide":
        return {"op": op, "title": _texts_from(form, "title-"), "category": _texts_from(form, "category-"),
                "help": _texts_from(form, "help-"), "start": str(form.get("start") or ""),
                **({"icon": str(form.get("icon") or "")} if "icon" in form else {})}
    if op in ("add_step", "delete_step"):
        return {"op": op, "step": step}
    if op == "move_step":
        return {"op": op, "step": step, "by": -1 if form.get("by") == "up" else 1}
    raise edits.EditRefused(f"Unknown edit '{op}'.")


@router.post("/drafts/{draft_id}/guides/{guide_id}/edit")
async def edit_guide(request: Request, user: EditorDep, draft_id: DraftId, guide_id: GuideId) -> Response:
    """The forms' way to edit (without JavaScript): the same edit as the API's, then the page again."""
    form = await request.form()
    try:
        op = op_from_form(form)
    except edits.EditRefused as exc:
        raise _refused(exc) from None
    step = op.get("step") if op["op"] not in ("delete_step",) else None
    base = f"/studio/drafts/{draft_id}/guides/{guide_id}"
    return _by_form(request, user, draft_id, guide_id,
                    lambda: save_edit(request, user, draft_id, guide_id, op, int(str(form.get("revision") or "-1"))),
                    f"{base}?{urlencode({'step': step})}#step" if step else base)


@router.post("/drafts/{draft_id}/guides/{guide_id}/image")
async def upload_image(request: Request, user: EditorDep, draft_id: DraftId, guide_id: GuideId,
                       revision: Annotated[int, Form()], step: Annotated[str, Form(max_length=80)],
                       image: Annotated[UploadFile, File()]) -> Response:
    """A PNG or JPEG for one step: checked as a library's images are (server.studio.images), stored
    by its bytes, and named by the step, as one edit of the draft. A refusal names the file and why."""
    data = await image.read(MAX_IMAGE_BYTES + 1)

    def work() -> None:
        try:
            path, sha = studio_images.store_upload(engine_of(request), image.filename or "", data)
        except ImageRefused as exc:
            raise HTTPException(422, f"The picture was not used: {exc}.") from None
        save_edit(request, user, draft_id, guide_id, {"op": "set_image", "step": step, "image": path}, revision,
                  uploaded={path: sha})

    return _by_form(request, user, draft_id, guide_id, work,
                    f"/studio/drafts/{draft_id}/guides/{guide_id}?{urlencode({'step': step})}#step")


@router.get("/icons/{name}.png")
def icon(user: StaffDep, name: Annotated[str, Path(max_length=40)]) -> Response:
    """The kiosk's own pictogram for an icon name, for the studio's icon picker."""
    found = studio_images.icon_file(name)
    if found is None:
        raise HTTPException(404, f"There is no icon '{name[:40]}'.")
    return FileResponse(found, media_type="image/png", headers={"Cache-Control": "max-age=86400"})


@router.get("/images/{sha256}")
def image(request: Request, user: StaffDep, sha256: Annotated[str, Path(max_length=64)]) -> Response:
    """An image of the server's store, for the editor (an upload not published yet included)."""
    return image_response(request, sha256)


@router.post("/drafts/{draft_id}/delete-guide", response_class=HTMLResponse)
def delete_guide(request: Request, user: EditorDep, draft_id: DraftId, revision: Annotated[int, Form()],
                 guide_id: Annotated[str, Form(max_length=80)],
                 jumps: Annotated[str, Form(pattern="^(|keep|repoint)$")] = "",
                 repoint_to: Annotated[str, Form(max_length=80)] = "") -> Response:
    """Delete (archive: older content versions keep it, and a rollback brings it back) a guide in
    the draft. When answers of other guides lead to it, a page lists them first: point them at
    another guide, or keep them (each is then a problem on its step until it is fixed)."""
    engine = engine_of(request)
    try:
        with db.read(engine) as conn:
            draft = drafts.get(conn, draft_id)
            leading = library_edits.jumps_in_draft(conn, draft, guide_id)
            others = [g for g in drafts.guide_ids(conn, draft) if g != guide_id]
        if leading and not jumps:
            return render(request, "studio_delete.html", user, draft=draft, guide_id=guide_id, jumps=leading,
                          others=others)
        library_edits.delete_guide(engine, draft_id, guide_id, user, revision,
                                   repoint_to=repoint_to if jumps == "repoint" else None)
    except (drafts.DraftError, edits.EditRefused) as exc:
        raise _refused(exc) from None
    return RedirectResponse(f"/studio/drafts/{draft_id}", status_code=303)


@router.get("/drafts/{draft_id}/translations")
def translations_file(request: Request, user: StaffDep, draft_id: DraftId,
                      lang: Annotated[str, Query(max_length=16, pattern=LANGUAGE.pattern)]) -> Response:
    """One language of the draft's library as a gettext PO file for translators."""
    try:
        with db.read(engine_of(request)) as conn:
            data = translations.export_language(conn, drafts.get(conn, draft_id), lang)
    except drafts.DraftError as exc:
        raise _refused(exc) from None
    except TranslationFileError as exc:
        raise HTTPException(422, str(exc)) from None
    return Response(data, media_type="text/x-gettext-translation; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="draft-{draft_id}-{lang}.po"'})


@router.post("/drafts/{draft_id}/translations")
async def import_translations(request: Request, user: EditorDep, draft_id: DraftId, revision: Annotated[int, Form()],
                              po: Annotated[UploadFile, File()]) -> Response:
    """A translated PO file back into the draft: all of it, or nothing when a message does not fit."""
    data = await po.read(studio_images.UPLOAD_BODY)

    def work() -> None:
        try:
            translations.import_language(engine_of(request), draft_id, data, (po.filename or "the file")[:80], user,
                                         revision)
        except TranslationFileError as exc:
            raise HTTPException(422, str(exc)) from None

    return _by_form(request, user, draft_id, "", work, f"/studio/drafts/{draft_id}?done=translated")


@router.get("/drafts/{draft_id}/guides/{guide_id}/history", response_class=HTMLResponse)
def step_history(request: Request, user: StaffDep, draft_id: DraftId, guide_id: GuideId,
                 step: Annotated[str, Query(max_length=80)]) -> HTMLResponse:
    """Who changed the step, what and when: published versions and every draft's revisions."""
    try:
        with db.read(engine_of(request)) as conn:
            draft = drafts.get(conn, draft_id)
            changes = history.step_history(conn, guide_id, step)
    except drafts.DraftError as exc:
        raise _refused(exc) from None
    return render(request, "studio_history.html", user, draft=draft, guide_id=guide_id, step=step, changes=changes)


@router.post("/drafts/{draft_id}/guides/{guide_id}/rename")
def rename_guide(request: Request, user: EditorDep, draft_id: DraftId, guide_id: GuideId,
                 revision: Annotated[int, Form()], new_id: Annotated[str, Form(max_length=80)]) -> Response:
    """The guide under a new id; every answer that led to it leads to it there."""
    try:
        library_edits.rename_guide(engine_of(request), draft_id, guide_id, new_id.strip(), user, revision)
    except (drafts.DraftError, edits.EditRefused) as exc:
        raise _refused(exc) from None
    return RedirectResponse(f"/studio/drafts/{draft_id}/guides/{new_id.strip()}", status_code=303)


@router.get("/drafts/{draft_id}/replace", response_class=HTMLResponse)
def replace_page(request: Request, user: StaffDep, draft_id: DraftId,
                 find: Annotated[str, Query(max_length=library_edits.MAX_FIND)] = "",
                 replace: Annotated[str, Query(max_length=library_edits.MAX_FIND)] = "",
                 lang: Annotated[str, Query(max_length=16)] = "") -> HTMLResponse:
    """Find and replace across every guide of the draft's library: first the texts it would change."""
    try:
        with db.read(engine_of(request)) as conn:
            draft = drafts.get(conn, draft_id)
            docs = library_edits.documents(conn, draft) if find else {}
    except drafts.DraftError as exc:
        raise _refused(exc) from None
    matches = library_edits.find_replace(docs, find, replace, lang or None)[1] if find else []
    languages = sorted({code for doc, _ in docs.values() for code in drafts.languages_of(doc)})
    return render(request, "studio_replace.html", user, draft=draft, find=find, replace=replace, lang=lang,
                  matches=matches[:library_edits.SHOWN_MATCHES], total=len(matches), languages=languages,
                  role=_role(request, user))


@router.post("/drafts/{draft_id}/replace")
def replace_apply(request: Request, user: EditorDep, draft_id: DraftId, revision: Annotated[int, Form()],
                  find: Annotated[str, Form(max_length=library_edits.MAX_FIND)],
                  replace: Annotated[str, Form(max_length=library_edits.MAX_FIND)] = "",
                  lang: Annotated[str, Form(max_length=16)] = "") -> Response:
    try:
        library_edits.replace_everywhere(engine_of(request), draft_id, find, replace, lang or None, user, revision)
    except (drafts.DraftError, edits.EditRefused) as exc:
        raise _refused(exc) from None
    return RedirectResponse(f"/studio/drafts/{draft_id}?done=replaced", status_code=303)


@router.post("/drafts/{draft_id}/undo")
def undo(request: Request, user: EditorDep, draft_id: DraftId, revision: Annotated[int, Form()],
         back: Annotated[str, Form(max_length=300)] = "") -> Response:
    try:
        done = drafts.undo(engine_of(request), draft_id, user, revision)
    except drafts.DraftError as exc:
        raise _refused(exc) from None
    if back.startswith(f"/studio/drafts/{draft_id}/guides/") and "//" not in back:
        return RedirectResponse(back, status_code=303)
    return RedirectResponse(f"/studio/drafts/{draft_id}?done={'undone' if done else 'nothing'}", status_code=303)


# --- review ---------------------------------------------------------------------------------------


@router.post("/drafts/{draft_id}/submit")
def submit(request: Request, user: EditorDep, draft_id: DraftId, group: Annotated[str, Form(max_length=80)] = "",
           note: Annotated[str, Form(max_length=2000)] = "") -> Response:
    try:
        problems = drafts.submit(engine_of(request), draft_id, user, group or None, note.strip())
    except drafts.DraftError as exc:
        raise _refused(exc) from None
    if problems:
        raise HTTPException(409, f"The draft has {len(problems)} problem(s); each is shown on its step. "
                                 "Fix them, then submit.")
    return RedirectResponse(f"/studio/drafts/{draft_id}?done=submitted", status_code=303)


@router.post("/drafts/{draft_id}/comment")
def comment(request: Request, user: EditorDep, draft_id: DraftId,
            body: Annotated[str, Form(min_length=1, max_length=4000)]) -> Response:
    try:
        drafts.add_comment(engine_of(request), draft_id, user, body.strip())
    except drafts.DraftError as exc:
        raise _refused(exc) from None
    return RedirectResponse(f"/studio/drafts/{draft_id}?done=commented#review", status_code=303)


@router.post("/drafts/{draft_id}/approve")
def approve(request: Request, user: PublisherDep, draft_id: DraftId,
            note: Annotated[str, Form(max_length=400)] = "",
            publish_at: Annotated[str, Form(max_length=40)] = "") -> Response:
    """Approve and publish now, or (with a time, in the site's time zone) approve now to go live then."""
    two_people = request.app.state.ctx.config.review_two_people
    try:
        if publish_at.strip():
            try:
                local = datetime.datetime.fromisoformat(publish_at.strip())
            except ValueError:
                raise HTTPException(422, f"'{publish_at[:40]}' is not a date and time like 2026-12-24T18:00.") from None
            at = (local if local.tzinfo else local.replace(tzinfo=zone_of(request))).timestamp()
            drafts.schedule(engine_of(request), draft_id, user, note.strip(), two_people=two_people, at=at)
            return RedirectResponse(f"/studio/drafts/{draft_id}?done=scheduled", status_code=303)
        drafts.approve(engine_of(request), draft_id, user, note.strip(), two_people=two_people)
    except drafts.DraftError as exc:
        raise _refused(exc) from None
    return RedirectResponse(f"/studio/drafts/{draft_id}?done=published", status_code=303)


@router.get("/drafts/{draft_id}/synonyms", response_class=HTMLResponse)
def synonyms_page(request: Request, user: StaffDep, draft_id: DraftId) -> HTMLResponse:
    """The library's search synonyms (`_library.yaml`) the draft publishes, one group a line."""
    draft, settings, languages, _ = _settings_of(request, draft_id)
    languages = sorted({*settings.synonyms, *languages})
    texts = {lang: "\n".join(", ".join(group) for group in settings.synonyms.get(lang, ())) for lang in languages}
    return render(request, "studio_synonyms.html", user, draft=draft, texts=texts, role=_role(request, user))


def _settings_of(request: Request, draft_id: int):
    """(draft, the `_library.yaml` settings it publishes, the library's languages, its guide ids)."""
    try:
        with db.read(engine_of(request)) as conn:
            draft = drafts.get(conn, draft_id)
            settings = drafts.settings_of(conn, draft)
            published = drafts.published_documents(conn, draft.base_version)
            ids = drafts.guide_ids(conn, draft)
    except drafts.DraftError as exc:
        raise _refused(exc) from None
    languages = sorted(drafts.library_missing({gid: doc for gid, (doc, _) in published.items()}))
    return draft, settings, languages, ids


@router.get("/drafts/{draft_id}/settings", response_class=HTMLResponse)
def settings_page(request: Request, user: StaffDep, draft_id: DraftId) -> HTMLResponse:
    """The library's categories (a title per language and an icon, for the home screen's tiles) and
    where a person can help (per site, per guide), from `_library.yaml`, as the draft publishes them."""
    draft, settings, languages, ids = _settings_of(request, draft_id)
    langs = {*languages, *(lang for c in settings.categories for lang in c.title),
             *(lang for p in settings.help for lang in p.text)}
    languages = sorted(langs, key=lambda lang: (lang != "en", lang))
    return render(request, "studio_settings.html", user, draft=draft, categories=settings.categories,
                  places=settings.help, languages=languages, guides=ids, icons=sorted(ICONS),
                  role=_role(request, user))


def _rows(form: FormData, prefix: str) -> list[tuple[int, dict[str, str]]]:
    """(row number, its texts per language) of a settings form's rows not deleted or left empty."""
    out = []
    for n in range(min(int(str(form.get(f"{prefix}-rows") or "0")), 1000)):
        texts = {lang: text.strip() for lang, text in _texts_from(form, f"{prefix}{n}-text-").items() if text.strip()}
        if texts and not form.get(f"{prefix}{n}-delete"):
            out.append((n, texts))
    return out


# A settings form's list -> (its fields' prefix, the _library.yaml setting, the entry's text field,
# its other fields, in words for the revision)
_SETTING_LISTS = {"categories": ("cat", "categories", "title", ("icon",), "categories"),
                  "help-places": ("place", "help", "text", ("site", "guide"), "where a person can help")}


async def _save_list(request: Request, user: str, draft_id: int, which: str) -> Response:
    prefix, part, text_field, others, words = _SETTING_LISTS[which]
    form = await request.form()
    entries = [{text_field: text, **{key: value for key in others
                                     if (value := str(form.get(f"{prefix}{n}-{key}") or "").strip())}}
               for n, text in _rows(form, prefix)]
    return _save_setting(request, user, draft_id, form, part, entries,
                         f"_library.yaml: {words}, {len(entries)}", which)


@router.post("/drafts/{draft_id}/categories")
async def save_categories(request: Request, user: EditorDep, draft_id: DraftId) -> Response:
    return await _save_list(request, user, draft_id, "categories")


@router.post("/drafts/{draft_id}/help-places")
async def save_help_places(request: Request, user: EditorDep, draft_id: DraftId) -> Response:
    return await _save_list(request, user, draft_id, "help-places")


@router.post("/drafts/{draft_id}/synonyms")
async def save_synonyms(request: Request, user: EditorDep, draft_id: DraftId) -> Response:
    """Checked by the contract's own reader of `_library.yaml`, as `kiosk import` and publish check it."""
    form = await request.form()
    synonyms = {}
    for key, value in form.multi_items():
        lang = key.removeprefix("syn-")
        if key.startswith("syn-") and LANGUAGE.match(lang):
            groups = [[t.strip() for t in line.split(",") if t.strip()] for line in str(value).splitlines()]
            if groups := [g for g in groups if g]:
                synonyms[lang] = groups
    groups = sum(len(g) for g in synonyms.values())
    return _save_setting(request, user, draft_id, form, "synonyms", synonyms,
                         f"_library.yaml: synonyms, {groups} group(s)", "synonyms")


def _save_setting(request: Request, user: str, draft_id: int, form: FormData, part: str, value: Any, said: str,
                  done: str) -> Response:
    """One part of the draft's `_library.yaml` replaced, checked by the contract's own reader (as
    `kiosk import` and publish check it); the settings' other parts stay as they are."""
    engine = engine_of(request)

    def work() -> None:
        with db.read(engine) as conn:
            current = drafts.settings_of(conn, drafts.get(conn, draft_id))
        problems: list = []
        settings = parse_settings({**current.to_dict(), part: value}, drafts.SETTINGS, problems)
        if problems:
            raise HTTPException(422, f"The {part} were not saved: " + "; ".join(str(p) for p in problems[:10]))
        drafts.save_settings(engine, draft_id, settings, user, int(str(form.get("revision") or "-1")), said)

    return _by_form(request, user, draft_id, "", work, f"/studio/drafts/{draft_id}?done={done}")


@router.get("/drafts/{draft_id}/resolve", response_class=HTMLResponse)
def resolve_page(request: Request, user: StaffDep, draft_id: DraftId) -> HTMLResponse:
    """The three-way merge of a draft whose base is no longer the latest version, guide by guide."""
    try:
        with db.read(engine_of(request)) as conn:
            draft = drafts.get(conn, draft_id)
            latest, merges = merge.draft_merges(conn, draft)
    except drafts.DraftError as exc:
        raise _refused(exc) from None
    return render(request, "studio_resolve.html", user, draft=draft, latest=latest, merges=merges,
                  role=_role(request, user))


@router.post("/drafts/{draft_id}/resolve")
async def resolve(request: Request, user: EditorDep, draft_id: DraftId) -> Response:
    form = await request.form()
    answers: dict[str, dict[str, str]] = {}
    for name, value in form.multi_items():
        if name.startswith("r|") and name.count("|") == 2:
            _, gid, key = name.split("|")
            answers.setdefault(gid, {})[key] = str(value)
    return _by_form(request, user, draft_id, "",
                    lambda: merge.resolve(engine_of(request), draft_id, user, int(str(form.get("revision") or "-1")),
                                          answers), f"/studio/drafts/{draft_id}?done=updated")


@router.post("/drafts/{draft_id}/update")
def bring_up_to_date(request: Request, user: EditorDep, draft_id: DraftId) -> Response:
    try:
        drafts.bring_up_to_date(engine_of(request), draft_id, user)
    except drafts.DraftError as exc:
        raise _refused(exc) from None
    return RedirectResponse(f"/studio/drafts/{draft_id}?done=updated", status_code=303)


@router.post("/drafts/{draft_id}/send-back")
def send_back(request: Request, user: PublisherDep, draft_id: DraftId,
              note: Annotated[str, Form(max_length=2000)] = "") -> Response:
    try:
        drafts.send_back(engine_of(request), draft_id, user, note.strip())
    except drafts.DraftError as exc:
        raise _refused(exc) from None
    return RedirectResponse(f"/studio/drafts/{draft_id}?done=returned", status_code=303)
