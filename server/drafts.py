"""The content studio's drafts (docs/studio.md): a change set with one owner, based on a content
version, holding the guides it changes (a document in the library format, as a guide file's YAML
reads) and the ones it deletes. Kiosks never see a draft; publishing one goes through
server.publish.publish_library, the one publish path.

Every save is a revision. Writers name the revision they started from (If-Match); a write on an
older one is refused with the revisions it missed (StaleDraft), so nobody overwrites what someone
else just typed. Undo reverts the writer's latest revision that is not undone yet.

Validation is contract.validation's, the same as `kiosk import` and `publish`: live, one guide
against the set of guide ids (check_guide); in full, every guide of the draft (check_draft), before
submit and approval.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from contract import translations
from contract.canonical import canonical_json
from contract.guides import DEFAULT_CATEGORY, Choice, Guide, Library, LibrarySettings, Problem, Step, pick
from contract.library_writer import step_order
from contract.validation import check_guide_documents
from server import db, publish

OPEN, SUBMITTED, SCHEDULED, PUBLISHED, DISCARDED = "open", "submitted", "scheduled", "published", "discarded"
EDITABLE = (OPEN,)


class DraftError(Exception):
    """Something that cannot be done with a draft, in a sentence (HTTP 409, or 404 when missing)."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


class StaleDraft(DraftError):
    """A write named an older revision than the draft's: `changes` are the revisions it missed."""

    def __init__(self, revision: int, changes: list[dict[str, Any]]):
        who = ", ".join(sorted({c["by"] for c in changes})) or "someone"
        what = "; ".join(f"{c['by']}: {c['summary']}" for c in changes[-5:])
        super().__init__(f"This draft changed since you opened it ({who}): {what}. Reload to see it.", 412)
        self.revision, self.changes = revision, changes


@dataclass
class Draft:
    id: int
    owner: str
    name: str
    base_version: int | None
    state: str
    target_group: str | None
    revision: int
    created_at: float
    updated_at: float
    submitted_at: float | None
    decided_by: str | None
    published_version: int | None
    publish_at: float | None = None  # approved for this time (scheduled): publish_due publishes it then
    publish_note: str | None = None
    library_settings: str | None = None  # canonical JSON of the _library.yaml it publishes; None: its base's

    @property
    def editable(self) -> bool:
        return self.state in EDITABLE


@dataclass
class Entry:
    """One guide as the draft has it."""

    guide_id: str
    document: dict[str, Any] | None  # the library-format mapping; None: deleted in the draft
    images: dict[str, str] = field(default_factory=dict)  # image path -> sha256 (already in the images table)
    changed: bool = False  # the draft changes or deletes it
    published: dict[str, Any] | None = None  # the base version's document, when it has the guide


def document_of(guide: Guide) -> dict[str, Any]:
    """A published guide as the library-format mapping a guide file's YAML would read as, its
    steps in the order an export writes them (as a customer meets them), not by id."""
    doc = guide.to_dict()
    doc.pop("images")
    doc["steps"] = {sid: doc["steps"][sid] for sid in step_order(doc)}
    return doc


def _row(row) -> Draft:
    return Draft(**{k: row._mapping[k] for k in Draft.__dataclass_fields__})


def get(conn: Connection, draft_id: int) -> Draft:
    row = conn.execute(sa.select(db.drafts).where(db.drafts.c.id == draft_id)).first()
    if row is None:
        raise DraftError(f"There is no draft {draft_id}.", 404)
    return _row(row)


def list_drafts(conn: Connection) -> list[Draft]:
    rows = conn.execute(sa.select(db.drafts).where(db.drafts.c.state != DISCARDED)
                        .order_by(db.drafts.c.updated_at.desc())).all()
    return [_row(r) for r in rows]


def create(engine: Engine, owner: str, name: str) -> int:
    """A new, empty draft based on the latest content version."""
    now = time.time()
    with db.write(engine) as conn:
        base = publish.latest_content_version(conn)
        return conn.execute(db.drafts.insert().values(
            owner=owner, name=(name.strip() or f"Draft by {owner}")[:200], base_version=base, state=OPEN,
            revision=0, created_at=now, updated_at=now).returning(db.drafts.c.id)).scalar_one()


# --- what the draft holds ------------------------------------------------------------------------


# A published content version never changes, so its guide ids are read once per process: the live
# check of every edit needs the set of 2,000 ids, not 2,000 rows each time.
_IDS: dict[tuple[str, int], tuple[str, ...]] = {}


def _published_ids(conn: Connection, version: int | None) -> tuple[str, ...]:
    if version is None:
        return ()
    key = (str(conn.engine.url), version)
    if key not in _IDS:
        if len(_IDS) > 64:
            _IDS.clear()
        _IDS[key] = tuple(conn.execute(sa.select(db.content_guides.c.guide_id)
                                       .where(db.content_guides.c.content_version == version)).scalars())
    return _IDS[key]


def published_documents(conn: Connection, version: int | None) -> dict[str, tuple[dict, dict[str, str]]]:
    """Every guide of content version `version`: id -> (library-format document, image map)."""
    if version is None:
        return {}
    rows = conn.execute(sa.select(db.guide_versions.c.guide_id, db.guide_versions.c.document).select_from(
        db.content_guides.join(db.guide_versions, sa.and_(
            db.content_guides.c.guide_id == db.guide_versions.c.guide_id,
            db.content_guides.c.guide_version == db.guide_versions.c.version)))
        .where(db.content_guides.c.content_version == version)).all()
    out = {}
    for gid, doc in rows:
        guide = Guide.from_dict(json.loads(bytes(doc)))
        out[gid] = (document_of(guide), dict(guide.images))
    return out


def _published_doc(conn: Connection, version: int | None, guide_id: str) -> tuple[dict | None, dict[str, str]]:
    """(library-format document, image map) of the guide in content version `version`."""
    if version is None:
        return None, {}
    doc = conn.execute(sa.select(db.guide_versions.c.document).select_from(db.content_guides.join(
        db.guide_versions, sa.and_(db.content_guides.c.guide_id == db.guide_versions.c.guide_id,
                                   db.content_guides.c.guide_version == db.guide_versions.c.version)))
        .where(db.content_guides.c.content_version == version, db.content_guides.c.guide_id == guide_id)).scalar()
    if doc is None:
        return None, {}
    guide = Guide.from_dict(json.loads(bytes(doc)))
    return document_of(guide), dict(guide.images)


def changed_guides(conn: Connection, draft_id: int) -> dict[str, dict | None]:
    """guide id -> the stored entry ({"guide": doc, "images": {...}}) or None (deleted)."""
    rows = conn.execute(sa.select(db.draft_guides.c.guide_id, db.draft_guides.c.document)
                        .where(db.draft_guides.c.draft_id == draft_id)).all()
    return {r.guide_id: (json.loads(r.document) if r.document is not None else None) for r in rows}


def guide_ids(conn: Connection, draft: Draft) -> list[str]:
    """Every guide id of the library the draft would publish, sorted."""
    ids = set(_published_ids(conn, draft.base_version))
    for gid, stored in changed_guides(conn, draft.id).items():
        if stored is None:
            ids.discard(gid)
        else:
            ids.add(gid)
    return sorted(ids)


def entry(conn: Connection, draft: Draft, guide_id: str) -> Entry | None:
    """The guide as the draft has it; None when neither the draft nor its base has it."""
    published, images = _published_doc(conn, draft.base_version, guide_id)
    row = conn.execute(sa.select(db.draft_guides.c.document).where(
        db.draft_guides.c.draft_id == draft.id, db.draft_guides.c.guide_id == guide_id)).first()
    if row is None:
        return Entry(guide_id, published, images, False, published) if published is not None else None
    if row.document is None:
        return Entry(guide_id, None, images, True, published)
    stored = json.loads(row.document)
    return Entry(guide_id, stored["guide"], stored.get("images", {}), True, published)


# --- writing --------------------------------------------------------------------------------------


def changes_since(conn: Connection, draft_id: int, revision: int) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(db.draft_revisions.c.revision, db.draft_revisions.c.by, db.draft_revisions.c.guide_id,
                                  db.draft_revisions.c.summary, db.draft_revisions.c.at)
                        .where(db.draft_revisions.c.draft_id == draft_id, db.draft_revisions.c.revision > revision)
                        .order_by(db.draft_revisions.c.revision)).all()
    return [{"revision": r.revision, "by": r.by, "guide": r.guide_id, "summary": r.summary, "at": r.at} for r in rows]


def _next_revision(conn: Connection, draft: Draft, if_match: int, states: tuple[str, ...] = EDITABLE) -> int:
    """Take the next revision number, only if the writer saw the latest (compare and set)."""
    if draft.state not in states:
        raise DraftError(f"Draft {draft.id} is {draft.state}; it can no longer be changed.")
    d = db.drafts
    done = conn.execute(d.update().where(d.c.id == draft.id, d.c.revision == if_match)
                        .values(revision=if_match + 1, updated_at=time.time()))
    if done.rowcount != 1:
        current = conn.execute(sa.select(d.c.revision).where(d.c.id == draft.id)).scalar_one()
        raise StaleDraft(current, changes_since(conn, draft.id, if_match))
    return if_match + 1


def _store(conn: Connection, draft_id: int, guide_id: str, stored: dict | None, absent: bool, by: str) -> None:
    """Put the guide's state in the draft: `absent` (as in the base again), deleted (None) or a document."""
    t = db.draft_guides
    conn.execute(t.delete().where(t.c.draft_id == draft_id, t.c.guide_id == guide_id))
    if not absent:
        conn.execute(t.insert().values(draft_id=draft_id, guide_id=guide_id, changed_by=by, changed_at=time.time(),
                                       document=None if stored is None else json.dumps(stored, ensure_ascii=False)))


def save_guide(engine: Engine, draft_id: int, guide_id: str, document: dict[str, Any] | None, by: str,
               if_match: int, summary: str, images: dict[str, str] | None = None,
               states: tuple[str, ...] = EDITABLE) -> int:
    """Set the guide's document in the draft (None: delete it); returns the new revision.
    `states`: the draft states it may be written in (a submitted draft only by its merge)."""
    return save_guides(engine, draft_id, [GuideChange(guide_id, document, summary, images)], by, if_match, states)


@dataclass(frozen=True)
class GuideChange:
    """One guide's new document in a draft (None: deleted), what changed in words, and its image
    map (None: the one it has)."""

    guide_id: str
    document: dict[str, Any] | None
    summary: str
    images: dict[str, str] | None = None


def save_guides(engine: Engine, draft_id: int, changes: list[GuideChange], by: str, if_match: int,
                states: tuple[str, ...] = EDITABLE) -> int:
    """Several guides' changes in one transaction, a revision each (Undo takes them back one at a
    time): all are saved or, when any fails, none. Returns the last revision."""
    revision = if_match
    with db.write(engine) as conn:
        db.lock(conn, f"draft-{draft_id}")
        draft = get(conn, draft_id)
        for change in changes:
            revision = _save_in(conn, draft, change, by, revision, states)
    return revision


def _save_in(conn: Connection, draft: Draft, change: GuideChange, by: str, if_match: int,
             states: tuple[str, ...]) -> int:
    before = conn.execute(sa.select(db.draft_guides.c.document).where(
        db.draft_guides.c.draft_id == draft.id, db.draft_guides.c.guide_id == change.guide_id)).first()
    revision = _next_revision(conn, draft, if_match, states)
    images = change.images
    if images is None:
        known = entry(conn, draft, change.guide_id)
        images = known.images if known else {}
    stored = None if change.document is None else {"guide": change.document, "images": images}
    _store(conn, draft.id, change.guide_id, stored, False, by)
    kind = "base" if before is None else "deleted" if before.document is None else "document"
    conn.execute(db.draft_revisions.insert().values(
        draft_id=draft.id, revision=revision, guide_id=change.guide_id, summary=change.summary[:500],
        before_kind=kind, before=before.document if before is not None else None, by=by, at=time.time()))
    return revision


def undo(engine: Engine, draft_id: int, by: str, if_match: int) -> tuple[int, str] | None:
    """Revert `by`'s latest revision not yet undone; (new revision, what was undone), or None."""
    r = db.draft_revisions
    with db.write(engine) as conn:
        db.lock(conn, f"draft-{draft_id}")
        draft = get(conn, draft_id)
        last = conn.execute(sa.select(r).where(r.c.draft_id == draft_id, r.c.by == by, r.c.undoes.is_(None),
                                               r.c.undone == sa.false())
                            .order_by(r.c.revision.desc()).limit(1)).first()
        if last is None:
            return None
        now_row = conn.execute(sa.select(db.draft_guides.c.document).where(
            db.draft_guides.c.draft_id == draft_id, db.draft_guides.c.guide_id == last.guide_id)).first()
        revision = _next_revision(conn, draft, if_match)
        stored = json.loads(last.before) if last.before_kind == "document" else None
        _store(conn, draft_id, last.guide_id, stored, last.before_kind == "base", by)
        conn.execute(r.update().where(r.c.draft_id == draft_id, r.c.revision == last.revision).values(undone=True))
        kind = "base" if now_row is None else "deleted" if now_row.document is None else "document"
        conn.execute(r.insert().values(draft_id=draft_id, revision=revision, guide_id=last.guide_id,
                                       summary=f"undid: {last.summary}"[:500], before_kind=kind,
                                       before=now_row.document if now_row is not None else None,
                                       undoes=last.revision, by=by, at=time.time()))
        return revision, last.summary


def authors(conn: Connection, draft: Draft) -> set[str]:
    """Everyone who wrote any of the draft: the owner and every reviser."""
    return {draft.owner, *conn.execute(sa.select(db.draft_revisions.c.by).distinct()
                                       .where(db.draft_revisions.c.draft_id == draft.id)).scalars()}


# --- validation (contract.validation, the same rules as kiosk import and publish) ------------------


class _Images:
    """The image lookup the contract's parser asks for a draft guide's image paths: the guide's own
    map (path -> sha256 of an image in the images table, checked when it was published)."""

    def __init__(self, conn: Connection, with_bytes: bool):
        self.conn, self.with_bytes, self.maps = conn, with_bytes, {}

    def lookup_for(self, images: dict[str, str]):
        def lookup(rel: str) -> tuple[str, bytes] | str:
            digest = images.get(rel)
            if digest is None:
                return "is not one of the library's images (image upload comes later: docs/studio.md)"
            data = b""
            if self.with_bytes:
                data = self.conn.execute(sa.select(db.images.c.data).where(db.images.c.sha256 == digest)).scalar()
                if data is None:
                    return "is missing from the server's images"
            return digest, bytes(data)
        return lookup


def check_guide(conn: Connection, draft: Draft, guide_id: str, ids: list[str] | None = None) -> list[Problem]:
    """The live check after an edit: this guide alone, its jumps against the draft's guide ids."""
    found = entry(conn, draft, guide_id)
    if found is None or found.document is None:
        return []
    ids = guide_ids(conn, draft) if ids is None else ids
    lookup = _Images(conn, with_bytes=False).lookup_for(found.images)
    _, problems = check_guide_documents({f"{guide_id}.yaml": found.document}, set(ids), lookup)
    return problems


def check_draft(conn: Connection, draft: Draft) -> tuple[Library | None, list[Problem]]:
    """The whole library the draft would publish, judged in full (jumps and loops across guides
    too); the Library, images and all, when it is sound. Image paths are read against every
    guide's map together, as in a library folder, where images/x.png is one file for all guides."""
    docs, merged = {}, {}
    published = published_documents(conn, draft.base_version)
    changed = changed_guides(conn, draft.id)
    for gid in guide_ids(conn, draft):
        stored = changed.get(gid)
        doc, images = (stored["guide"], stored.get("images", {})) if stored else published[gid]
        docs[f"{gid}.yaml"] = doc
        merged.update(images)
    lookup = _Images(conn, with_bytes=True).lookup_for(merged)
    guides, problems = check_guide_documents(docs, {name.removesuffix(".yaml") for name in docs}, lookup)
    if problems:
        return None, problems
    blobs = {}
    for guide in guides.values():
        for digest in guide.images.values():
            blobs[digest] = bytes(conn.execute(sa.select(db.images.c.data).where(db.images.c.sha256 == digest))
                                  .scalar_one())
    return Library(guides, blobs, settings=settings_of(conn, draft)), []


def base_settings(conn: Connection, draft: Draft) -> LibrarySettings:
    """The `_library.yaml` settings of the draft's base version: a draft changes guides only, so
    what it publishes keeps the library's synonyms as they were."""
    return version_settings(conn, draft.base_version)


def version_settings(conn: Connection, version: int | None) -> LibrarySettings:
    """The `_library.yaml` settings content version `version` was published with."""
    if version is None:
        return LibrarySettings()
    stored = conn.execute(sa.select(db.content_versions.c.library_settings)
                          .where(db.content_versions.c.version == version)).scalar()
    return LibrarySettings.from_dict(json.loads(stored)) if stored else LibrarySettings()


SETTINGS = "_library.yaml"  # the name a settings revision carries in place of a guide id


def settings_of(conn: Connection, draft: Draft) -> LibrarySettings:
    """The `_library.yaml` settings the draft publishes: its own when it changed them, else its base's."""
    if draft.library_settings is not None:
        return LibrarySettings.from_dict(json.loads(draft.library_settings))
    return base_settings(conn, draft)


def save_settings(engine: Engine, draft_id: int, settings: LibrarySettings, by: str, if_match: int,
                  summary: str) -> int:
    """Set the library settings the draft publishes (already checked by contract.library_settings);
    a revision of its own, which undo does not take back (it takes back guides)."""
    with db.write(engine) as conn:
        db.lock(conn, f"draft-{draft_id}")
        draft = get(conn, draft_id)
        revision = _next_revision(conn, draft, if_match)
        conn.execute(db.drafts.update().where(db.drafts.c.id == draft_id).values(
            library_settings=canonical_json(settings.to_dict()).decode()))
        conn.execute(db.draft_revisions.insert().values(
            draft_id=draft_id, revision=revision, guide_id=SETTINGS, summary=summary[:500], before_kind="settings",
            before=draft.library_settings, undone=True, by=by, at=time.time()))
        return revision


def export_documents(conn: Connection, draft: Draft) -> tuple[list[dict[str, Any]], list[Problem]]:
    """The draft's guides as canonical documents (what server.export writes) when it is sound;
    else the library-format documents with their image maps, and the problems."""
    library, problems = check_draft(conn, draft)
    if library is not None:
        return [g.to_dict() for _, g in sorted(library.guides.items())], []
    out = []
    for gid in guide_ids(conn, draft):
        found = entry(conn, draft, gid)
        out.append({**found.document, "images": {k: v for k, v in found.images.items()}})
    return out, problems


def problems_by_step(problems: list[Problem]) -> dict[tuple[str, str | None], list[str]]:
    """(guide id, step or None) -> the problems' sentences, for showing each on its step."""
    out: dict[tuple[str, str | None], list[str]] = {}
    for p in problems:
        out.setdefault((p.file.removesuffix(".yaml"), p.step), []).append(p.message)
    return out


# --- the diff against what is published, in plain words -----------------------------------------


def _quote(text: str, n: int = 240) -> str:
    return f"“{text if len(text) <= n else text[:n - 1] + '…'}”"


def _texts(what: str, before: dict | None, after: dict | None) -> list[str]:
    before, after, out = before or {}, after or {}, []
    for lang in sorted(set(before) | set(after)):
        if lang not in after:
            out.append(f"{what} ({lang}) removed")
        elif lang not in before:
            out.append(f"{what} ({lang}) added: {_quote(after[lang])}")
        elif before[lang] != after[lang]:
            out.append(f"{what} ({lang}) changed from {_quote(before[lang])} to {_quote(after[lang])}")
    return out


def _target(choice: dict) -> str:
    return f"guide '{choice['guide']}'" if choice.get("guide") else f"step '{choice.get('next')}'"


def step_diff(before: dict | None, after: dict | None) -> list[str]:
    """What changed in one step, sentence by sentence."""
    if before is None:
        return ["added"]
    if after is None:
        return ["deleted"]
    out = _texts("text", before.get("text"), after.get("text"))
    if before.get("image") != after.get("image"):
        out.append(f"image now {after.get('image') or 'none'} (was {before.get('image') or 'none'})")
    out += _texts("what the image shows", before.get("image_alt"), after.get("image_alt"))
    if before.get("end") != after.get("end"):
        out.append(f"outcome now {after.get('end') or 'none: it asks a question'} (was {before.get('end') or 'none'})")
    old, new = before.get("choices") or [], after.get("choices") or []
    for n in range(max(len(old), len(new))):
        if n >= len(new):
            out.append(f"answer {n + 1} removed")
        elif n >= len(old):
            out.append(f"answer {n + 1} added, leading to {_target(new[n])}")
        else:
            out.extend(_texts(f"answer {n + 1} label", old[n].get("label"), new[n].get("label")))
            if _target(old[n]) != _target(new[n]):
                out.append(f"answer {n + 1} now leads to {_target(new[n])} (was {_target(old[n])})")
    return out


def guide_diff(before: dict | None, after: dict | None) -> dict[str, Any]:
    """{"state": added|deleted|changed|same, "guide": [sentences], "steps": {step: [sentences]}}."""
    if before is None and after is None:
        return {"state": "same", "guide": [], "steps": {}}
    if before is None:
        lang = after.get("language") or "en"
        steps = {sid: [f"added: {_quote(pick(step.get('text') or {'': ''}, lang, lang))}"
                       + "".join(f"; answer {n} to {_target(c)}" for n, c in enumerate(step.get("choices") or [], 1))
                       + (f"; outcome {step['end']}" if step.get("end") else "")]
                 for sid, step in (after.get("steps") or {}).items()}
        said = f"a new guide: {_quote(title_of(after, str(after.get('id'))))}, in {', '.join(languages_of(after))}"
        return {"state": "added", "guide": [said], "steps": steps}
    if after is None:
        return {"state": "deleted", "guide": ["deleted: kiosks will no longer offer it"], "steps": {}}
    lines = _texts("title", before.get("title"), after.get("title"))
    lines += _texts("category", before.get("category"), after.get("category"))
    lines += _texts("where a person can help", before.get("help"), after.get("help"))
    if before.get("icon") != after.get("icon"):
        lines.append(f"icon now {after.get('icon') or 'none'} (was {before.get('icon') or 'none'})")
    if before.get("start") != after.get("start"):
        lines.append(f"starts now at step '{after.get('start')}' (was '{before.get('start')}')")
    old, new = before.get("steps") or {}, after.get("steps") or {}
    steps = {}
    for sid in [*old, *(s for s in new if s not in old)]:
        said = step_diff(old.get(sid), new.get(sid))
        if said:
            steps[sid] = said
    state = "changed" if lines or steps or before != after else "same"
    return {"state": state, "guide": lines, "steps": steps}


def _settings_list_diff(what: str, before: list[dict], after: list[dict], text: str) -> list[str]:
    """A `_library.yaml` list (categories, help places), entry by entry, in words."""
    out = []
    for n in range(max(len(before), len(after))):
        old, new = (before[n] if n < len(before) else None), (after[n] if n < len(after) else None)
        if old == new:
            continue
        if new is None:
            out.append(f"{what} {n + 1} removed")
            continue
        shown = f"{what} {n + 1} ({_quote(pick(new[text], 'en', next(iter(new[text]))))})"
        if old is None:
            out.append(f"{shown} added" + "".join(f", {k} {new[k]}" for k in ("icon", "site", "guide") if new.get(k)))
            continue
        out += [f"{shown}: {line}" for line in _texts(text, old.get(text), new.get(text))]
        out += [f"{shown}: {k} now {new.get(k) or 'none'} (was {old.get(k) or 'none'})"
                for k in ("icon", "site", "guide") if old.get(k) != new.get(k)]
    return out


def draft_diff(conn: Connection, draft: Draft) -> dict[str, dict[str, Any]]:
    """Every guide the draft changes, against the latest published version (what kiosks would
    stop showing), guide id -> guide_diff."""
    latest = publish.latest_content_version(conn)
    out = {}
    for gid, stored in sorted(changed_guides(conn, draft.id).items()):
        published, _ = _published_doc(conn, latest, gid)
        diff = guide_diff(published, stored["guide"] if stored else None)
        if diff["state"] != "same":
            out[gid] = diff
    if draft.library_settings is not None:
        now = conn.execute(sa.select(db.content_versions.c.library_settings)
                           .where(db.content_versions.c.version == latest)).scalar() if latest else None
        before, after = json.loads(now) if now else {}, json.loads(draft.library_settings)
        lines = [f"synonyms ({lang}): {len(after.get('synonyms', {}).get(lang, []))} group(s), were "
                 f"{len(before.get('synonyms', {}).get(lang, []))}"
                 for lang in sorted(set(before.get("synonyms", {})) | set(after.get("synonyms", {})))
                 if before.get("synonyms", {}).get(lang) != after.get("synonyms", {}).get(lang)]
        lines += _settings_list_diff("category", before.get("categories") or [], after.get("categories") or [],
                                     "title")
        lines += _settings_list_diff("help place", before.get("help") or [], after.get("help") or [], "text")
        if lines:
            out[SETTINGS] = {"state": "changed", "guide": lines, "steps": {}}
    return out


def conflicts(conn: Connection, draft: Draft) -> list[str]:
    """When the draft's base is no longer the latest version: the steps changed both in the draft and
    in what was published since, as sentences ("lost-bag, step 'tag'")."""
    latest = publish.latest_content_version(conn)
    out = []
    for gid, stored in sorted(changed_guides(conn, draft.id).items()):
        base, _ = _published_doc(conn, draft.base_version, gid)
        now, _ = _published_doc(conn, latest, gid)
        mine = stored["guide"] if stored else None
        if base == now:
            continue
        theirs_steps = set(guide_diff(base, now)["steps"]) if base and now else {"(the whole guide)"}
        mine_steps = set(guide_diff(base, mine)["steps"]) if base and mine else {"(the whole guide)"}
        for sid in sorted(theirs_steps & mine_steps) or (["(the guide's title or start)"]
                                                           if guide_diff(base, now)["guide"] else []):
            out.append(f"{gid}, step '{sid}'" if not sid.startswith("(") else f"{gid} {sid}")
    return out


# --- review ---------------------------------------------------------------------------------------


def add_comment(engine: Engine, draft_id: int, author: str, body: str, kind: str = "comment",
                guide_id: str | None = None, step_id: str | None = None) -> None:
    with db.write(engine) as conn:
        get(conn, draft_id)
        conn.execute(db.draft_comments.insert().values(draft_id=draft_id, author=author, body=body[:4000], kind=kind,
                                                       guide_id=guide_id, step_id=step_id, created_at=time.time()))


def comments(conn: Connection, draft_id: int) -> list[Any]:
    c = db.draft_comments
    return conn.execute(sa.select(c).where(c.c.draft_id == draft_id).order_by(c.c.created_at, c.c.id)).all()


def submit(engine: Engine, draft_id: int, by: str, target_group: str | None, note: str = "") -> list[Problem]:
    """Hand the draft to the publishers; refused (the problems returned) while any problem remains."""
    with db.read(engine) as conn:
        draft = get(conn, draft_id)
        if not draft.editable:
            raise DraftError(f"Draft {draft_id} is {draft.state}; only an open draft can be submitted.")
        if not changed_guides(conn, draft_id) and draft.library_settings is None:
            raise DraftError("This draft changes nothing yet.")
        if target_group is not None and not publish.group_version(conn, target_group)[0]:
            raise DraftError(f"There is no rollout group '{target_group}'.", 404)
        _, problems = check_draft(conn, draft)
    if problems:
        return problems
    with db.write(engine) as conn:
        d = db.drafts
        conn.execute(d.update().where(d.c.id == draft_id).values(state=SUBMITTED, target_group=target_group,
                                                                 submitted_at=time.time(), updated_at=time.time()))
    add_comment(engine, draft_id, by, note or "Submitted for review.", "submitted")
    return []


def send_back(engine: Engine, draft_id: int, by: str, note: str) -> None:
    """Back to its author, open for editing; a scheduled one is no longer scheduled."""
    with db.write(engine) as conn:
        draft = get(conn, draft_id)
        if draft.state not in (SUBMITTED, SCHEDULED):
            raise DraftError(f"Draft {draft_id} is {draft.state}, not waiting for review.")
        d = db.drafts
        conn.execute(d.update().where(d.c.id == draft_id).values(state=OPEN, decided_by=by, publish_at=None,
                                                                 publish_note=None, updated_at=time.time()))
    add_comment(engine, draft_id, by, note or "Sent back for changes.", "returned")


def _approvable(conn: Connection, draft: Draft, by: str, two_people: bool,
                states: tuple[str, ...] = (SUBMITTED,)) -> Library:
    """The library the draft publishes, once every rule of approval holds; DraftError saying which
    does not: the reviewer wrote any of it (two_people), it has problems, or something was
    published since its base (with the steps changed on both sides)."""
    if draft.state not in states:
        raise DraftError(f"Draft {draft.id} is {draft.state}, not waiting for review.")
    if two_people and by in authors(conn, draft):
        raise DraftError("Two people for every change: you wrote part of this draft, so another publisher "
                         "must approve it.", 403)
    latest = publish.latest_content_version(conn)
    if latest != draft.base_version:
        both = conflicts(conn, draft)
        listed = "; ".join(both) if both else "no step was changed on both sides"
        raise DraftError(f"Content version {latest} was published after this draft was started (on version "
                         f"{draft.base_version}). Changed on both sides: {listed}. Approval waits until the "
                         "draft is brought up to date.")
    library, problems = check_draft(conn, draft)
    if problems or library is None:
        raise DraftError(f"The draft has {len(problems)} problem(s); fix them first.")
    return library


def _publish(engine: Engine, draft: Draft, library: Library, by: str, note: str) -> publish.PublishResult:
    text = f"draft {draft.id} ({draft.name}), by {draft.owner}, approved by {by}" + (f": {note}" if note else "")
    try:
        result = publish.publish_library(engine, library, by=by, note=text[:500], to=draft.target_group)
    except publish.RolloutError as exc:  # its group was removed since it was submitted
        raise DraftError(f"{exc}; send the draft back so its author chooses another group.", 404) from None
    with db.write(engine) as conn:
        d = db.drafts
        conn.execute(d.update().where(d.c.id == draft.id).values(
            state=PUBLISHED, decided_by=by, published_version=result.content_version, updated_at=time.time()))
    add_comment(engine, draft.id, by, note or f"Approved: published as content version {result.content_version}.",
                "approved")
    return result


def approve(engine: Engine, draft_id: int, by: str, note: str, two_people: bool) -> publish.PublishResult:
    """Publish the draft (server.publish.publish_library) with the reviewer's note, once every rule
    of approval holds (_approvable)."""
    with db.read(engine) as conn:
        draft = get(conn, draft_id)
        library = _approvable(conn, draft, by, two_people)
    return _publish(engine, draft, library, by, note)


def schedule(engine: Engine, draft_id: int, by: str, note: str, two_people: bool, at: float,
             now: float | None = None) -> None:
    """Approve the draft now to go live at `at` (scheduled publishing): every rule of approval is
    checked now, and again when publish_due publishes it."""
    now = time.time() if now is None else now
    if at <= now:
        raise DraftError("A scheduled time must lie ahead; to publish now, approve without a time.", 422)
    with db.read(engine) as conn:
        _approvable(conn, get(conn, draft_id), by, two_people)
    with db.write(engine) as conn:
        d = db.drafts
        done = conn.execute(d.update().where(d.c.id == draft_id, d.c.state == SUBMITTED).values(
            state=SCHEDULED, decided_by=by, publish_at=at, publish_note=note[:400], updated_at=now))
        if done.rowcount != 1:
            raise DraftError(f"Draft {draft_id} is no longer waiting for review.")
    add_comment(engine, draft_id, by, f"Approved to go live at {publish._iso(at)} (UTC)" + (f": {note}" if note else "."),
                "scheduled")


def publish_due(engine: Engine, config: Any = None, now: float | None = None) -> list[int]:
    """Publish every scheduled draft whose time has come, as the publisher who approved it (the
    alert round's hook, so one process does it). One that can no longer be approved (something
    was published since, a problem appeared) goes back to waiting for review with a comment
    saying why. Returns the content versions published."""
    now = time.time() if now is None else now
    with db.read(engine) as conn:
        due = [_row(r) for r in conn.execute(sa.select(db.drafts).where(
            db.drafts.c.state == SCHEDULED, db.drafts.c.publish_at <= now).order_by(db.drafts.c.publish_at))]
    published = []
    for draft in due:
        with db.write(engine) as conn:  # claim it: another process's round finds it no longer scheduled
            d = db.drafts
            claimed = conn.execute(d.update().where(d.c.id == draft.id, d.c.state == SCHEDULED)
                                   .values(state=SUBMITTED, updated_at=now)).rowcount == 1
        if not claimed:
            continue
        try:
            with db.read(engine) as conn:
                library = _approvable(conn, get(conn, draft.id), draft.decided_by or "", two_people=False)
            published.append(_publish(engine, draft, library, draft.decided_by or "", draft.publish_note or "")
                             .content_version)
        except DraftError as exc:
            add_comment(engine, draft.id, draft.decided_by or "", f"Not published at its scheduled time: {exc}",
                        "returned")
    return published


def bring_up_to_date(engine: Engine, draft_id: int, by: str) -> int:
    """Base the draft on the latest content version when none of the guides it changes was changed
    there since its base: what was published since then is kept, the draft's own changes too.
    Refused, naming the guides, when a guide was changed on both sides (resolving that step by step
    is not built yet). Returns the new base version."""
    with db.write(engine) as conn:
        db.lock(conn, f"draft-{draft_id}")
        draft = get(conn, draft_id)
        if draft.state not in (OPEN, SUBMITTED):
            raise DraftError(f"Draft {draft_id} is {draft.state}.")
        latest = publish.latest_content_version(conn)
        both = [gid for gid in sorted(changed_guides(conn, draft_id))
                if _published_doc(conn, draft.base_version, gid)[0] != _published_doc(conn, latest, gid)[0]]
        if both:
            raise DraftError("These guides were changed both in this draft and in what was published since: "
                             f"{', '.join(both)}. Resolve them step by step on the draft's 'Resolve' page.")
        d = db.drafts
        conn.execute(d.update().where(d.c.id == draft_id).values(base_version=latest, updated_at=time.time()))
    add_comment(engine, draft_id, by, f"Brought up to date: now based on content version {latest}.", "comment")
    return latest


def rebase(engine: Engine, draft_id: int, by: str, version: int | None, said: str) -> None:
    """Base the draft on `version` (after its guides were merged with it: server.studio.merge)."""
    with db.write(engine) as conn:
        d = db.drafts
        conn.execute(d.update().where(d.c.id == draft_id, d.c.state.in_((OPEN, SUBMITTED)))
                     .values(base_version=version, updated_at=time.time()))
    add_comment(engine, draft_id, by, said, "comment")


def as_guide(doc: dict[str, Any]) -> Guide:
    """A draft's document as the contract's Guide, however unfinished it is (a step with no text
    yet, an answer with no target), for what reads only ids, texts and links: the tree the pages
    draw, and the translation counts of contract/translations.py. A blank text is no text (the
    editor drops them as it saves; a document from elsewhere may still hold one); no category is
    the format's default, as the contract's parser reads it."""
    def texts(value: Any) -> dict[str, str]:
        return {lang: t for lang, t in value.items() if isinstance(t, str) and t.strip()} if isinstance(value, dict) else {}

    steps = {}
    for sid, step in (doc.get("steps") or {}).items():
        step = step if isinstance(step, dict) else {}
        choices = tuple(Choice(texts(c.get("label")), c.get("next"), c.get("guide"))
                        for c in step.get("choices") or [] if isinstance(c, dict))
        steps[sid] = Step(sid, texts(step.get("text")), step.get("image"), choices, step.get("end"))
    return Guide(str(doc.get("id")), doc.get("language") or "en", texts(doc.get("title")),
                 texts(doc.get("category")) or dict(DEFAULT_CATEGORY), {}, str(doc.get("start") or ""), steps)


def languages_of(doc: dict[str, Any]) -> list[str]:
    """The guide's languages, its default first: every language any of its texts has."""
    default = doc.get("language") or "en"
    langs = {lang for ref in translations.guide_texts(as_guide(doc)) for lang in ref.text}
    langs.discard(default)
    return [default, *sorted(langs)]


def missing_translations(doc: dict[str, Any], languages: list[str] | None = None) -> dict[str, int]:
    """Per language of the guide (or each of `languages`), how many of its texts have none in it:
    contract/translations.py's counting, the one the publish report and translation files use."""
    coverage = translations.guide_coverage(as_guide(doc), languages or languages_of(doc))
    return {lang: total - translated for lang, (translated, total) in coverage.items()}


def library_missing(docs: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Per language of a library of documents, how many of its texts have none in it."""
    library = Library({gid: as_guide(doc) for gid, doc in docs.items()}, {})
    return {c.lang: len(c.missing) for c in translations.library_coverage(library)}


def title_of(doc: dict[str, Any] | None, fallback: str) -> str:
    if not doc or not isinstance(doc.get("title"), dict) or not doc["title"]:
        return fallback
    return pick(doc["title"], doc.get("language") or "en", doc.get("language") or "en")
