"""A library uploaded over HTTP while two people must see every change (`review_two_people`,
docs/studio.md): instead of a content version it becomes a studio draft of the uploader's, based
on the latest content version and holding exactly what the upload changes there (its new and
changed guides, the guides it no longer has, its `_library.yaml` settings, its images stored but
not public), submitted for review with the upload's note and rollout group. Approving the draft
publishes the very library that was uploaded: the same content digest (contract/digest.py).

The upload is judged by the same validator as a direct publish (server.publish.validate) before
any of this; the draft is made with server.drafts' own writers (create, save_guides,
save_settings, submit), so it reads, diffs, exports and approves as any other draft.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Connection, Engine

from contract.digest import library_digest
from contract.guides import Library, Problem
from server import db, drafts, publish
from server.studio.images import store_checked


@dataclass
class UploadDraft:
    """What became of an upload: `draft_id` None when it is what content version `base_version`
    already is (nothing to review); else the draft and what it changes."""

    draft_id: int | None
    base_version: int | None
    digest: str
    changed: list[str] = field(default_factory=list)  # guides added or changed
    removed: list[str] = field(default_factory=list)
    settings: bool = False  # its _library.yaml differs from the base's
    problems: list[Problem] = field(default_factory=list)  # submit refused: the draft stays open


def _changes(conn: Connection, version: int | None, library: Library,
             name: str) -> tuple[list[drafts.GuideChange], bool]:
    """What the library changes against content version `version`: a GuideChange per guide it
    adds, changes (text or image map) or no longer has; and whether its settings differ."""
    published = drafts.published_documents(conn, version)
    out = []
    for gid, guide in sorted(library.guides.items()):
        mine = (drafts.document_of(guide), dict(guide.images))
        if published.get(gid) != mine:
            verb = "changed" if gid in published else "added"
            out.append(drafts.GuideChange(gid, mine[0], f"{gid}: {verb} by the uploaded library {name}", mine[1]))
    out += [drafts.GuideChange(gid, None, f"{gid}: not in the uploaded library {name}")
            for gid in sorted(set(published) - set(library.guides))]
    return out, drafts.version_settings(conn, version).to_dict() != library.settings.to_dict()


def draft_from_library(engine: Engine, library: Library, by: str, name: str, note: str | None,
                       to: str | None) -> UploadDraft:
    """The validated `library` as a draft owned by `by`, submitted for review to group `to` (None:
    every group) with `note`. RolloutError for a group that does not exist, before anything is
    stored; an upload identical to the latest content version makes no draft."""
    digest = library_digest(library)
    with db.read(engine) as conn:
        if to is not None:
            publish.require_group(conn, to)
        latest = publish.latest_content_version(conn)
        changes, settings = _changes(conn, latest, library, name)
    if not changes and not settings:
        return UploadDraft(None, latest, digest)
    with db.write(engine) as conn:  # before the guides name them; not public until published
        store_checked(conn, library.images)
    draft_id = drafts.create(engine, by, f"Uploaded library {name}")
    with db.read(engine) as conn:
        draft = drafts.get(conn, draft_id)
        if draft.base_version != latest:  # published meanwhile: what the upload changes there
            changes, settings = _changes(conn, draft.base_version, library, name)
    if not changes and not settings:  # someone published this very library meanwhile
        with db.write(engine) as conn:
            conn.execute(db.drafts.update().where(db.drafts.c.id == draft_id).values(state=drafts.DISCARDED))
        return UploadDraft(None, draft.base_version, digest)
    revision = drafts.save_guides(engine, draft_id, changes, by, draft.revision) if changes else draft.revision
    if settings:
        drafts.save_settings(engine, draft_id, library.settings, by, revision,
                             f"_library.yaml: as in the uploaded library {name}")
    result = UploadDraft(draft_id, draft.base_version, digest,
                         changed=[c.guide_id for c in changes if c.document is not None],
                         removed=[c.guide_id for c in changes if c.document is None], settings=settings)
    result.problems = drafts.submit(engine, draft_id, by, to, note or "")
    return result
