"""The studio's edits that reach across the guides of a draft's library (docs/studio.md): the jumps
that lead to a guide, renaming a guide (its jumps follow it), deleting one with its jumps pointed
elsewhere, and find and replace in every text (a desk moving from belt 4 to belt 6).

Each edit is one transaction (server.drafts.save_guides): a rename and the jumps that follow it
are saved together or not at all. Each changed guide is one revision of the draft, so the live
check judges every one of them and Undo takes them back one at a time.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Engine

from contract.guides import GUIDE_ID
from server import db, drafts
from server.studio.edits import EditRefused

MAX_FIND = 200  # characters of a text to find
SHOWN_MATCHES = 200  # matches listed before the rest are counted


@dataclass(frozen=True)
class Jump:
    guide: str
    step: str
    answer: int  # 1-based, as the editor numbers answers


def documents(conn: Connection, draft: drafts.Draft) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
    """Every guide of the library the draft would publish: id -> (document, image map)."""
    out = {gid: pair for gid, pair in drafts.published_documents(conn, draft.base_version).items()}
    for gid, stored in drafts.changed_guides(conn, draft.id).items():
        if stored is None:
            out.pop(gid, None)
        else:
            out[gid] = (stored["guide"], stored.get("images") or {})
    return dict(sorted(out.items()))


# A published content version never changes: the jumps between its guides are read once per process.
_PUBLISHED_JUMPS: dict[tuple[str, int], list[tuple[Jump, str]]] = {}


def _all_jumps(docs: dict[str, tuple[dict, dict]]) -> list[tuple[Jump, str]]:
    """Every answer that leads to another guide, with that guide's id."""
    return [(Jump(gid, sid, n), c["guide"]) for gid, (doc, _) in docs.items()
            for sid, step in (doc.get("steps") or {}).items() if isinstance(step, dict)
            for n, c in enumerate(step.get("choices") or [], 1) if isinstance(c, dict) and c.get("guide")]


def jumps_in_draft(conn: Connection, draft: drafts.Draft, target: str) -> list[Jump]:
    """The answers in the draft's library that lead to guide `target`: the base version's (read
    once), except in the guides the draft changes, whose own are read from the draft."""
    changed = drafts.changed_guides(conn, draft.id)
    published: list[tuple[Jump, str]] = []
    if draft.base_version is not None:
        key = (str(conn.engine.url), draft.base_version)
        if key not in _PUBLISHED_JUMPS:
            if len(_PUBLISHED_JUMPS) > 64:
                _PUBLISHED_JUMPS.clear()
            _PUBLISHED_JUMPS[key] = _all_jumps(drafts.published_documents(conn, draft.base_version))
        published = _PUBLISHED_JUMPS[key]
    mine = _all_jumps({gid: (stored["guide"], {}) for gid, stored in changed.items() if stored is not None})
    found = [j for j, to in published if to == target and j.guide not in changed and j.guide != target]
    found += [j for j, to in mine if to == target and j.guide != target]
    return sorted(found, key=lambda j: (j.guide, j.step, j.answer))


def jumps_to(docs: dict[str, tuple[dict, dict]], target: str) -> list[Jump]:
    """The answers, in other guides, that lead to guide `target`."""
    return [j for j, to in _all_jumps(docs) if to == target and j.guide != target]


def _repointed(doc: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for step in (doc.get("steps") or {}).values():
        for c in step.get("choices") or []:
            if isinstance(c, dict) and c.get("guide") == old:
                c["guide"] = new
    return doc


def rename_guide(engine: Engine, draft_id: int, old: str, new: str, by: str, if_match: int) -> int:
    """The guide under a new id, every jump to it following it; the old id deleted. Returns the
    draft's revision after the last save."""
    if not GUIDE_ID.match(new or ""):
        raise EditRefused("A guide id is lower-case letters, digits and dashes, starting with a letter or digit.")
    with db.read(engine) as conn:
        draft = drafts.get(conn, draft_id)
        docs = documents(conn, draft)
    if old not in docs:
        raise EditRefused(f"The library has no guide '{old}' to rename.")
    if new in docs:
        raise EditRefused(f"The library already has a guide '{new}'.")
    doc, images = docs[old]
    changes = [drafts.GuideChange(new, {**_repointed(doc, old, new), "id": new}, f"{new}: renamed from {old}", images)]
    changes += [drafts.GuideChange(g, _repointed(docs[g][0], old, new), f"{g}: its jumps to {old} now lead to {new}")
                for g in sorted({j.guide for j in jumps_to(docs, old)})]
    changes.append(drafts.GuideChange(old, None, f"{old}: renamed to {new}"))
    return drafts.save_guides(engine, draft_id, changes, by, if_match)


def delete_guide(engine: Engine, draft_id: int, guide_id: str, by: str, if_match: int,
                 repoint_to: str | None = None) -> int:
    """Delete the guide in the draft; with `repoint_to`, every jump to it leads to that guide first.
    Without it, jumps left pointing at it are problems the live check shows on their steps."""
    with db.read(engine) as conn:
        draft = drafts.get(conn, draft_id)
        docs = documents(conn, draft) if repoint_to else {}
    changes = []
    if repoint_to:
        if repoint_to == guide_id or repoint_to not in docs:
            raise EditRefused(f"There is no other guide '{repoint_to}' for its jumps to lead to.")
        changes = [drafts.GuideChange(g, _repointed(docs[g][0], guide_id, repoint_to),
                                      f"{g}: its jumps to {guide_id} now lead to {repoint_to}")
                   for g in sorted({j.guide for j in jumps_to(docs, guide_id)})]
    changes.append(drafts.GuideChange(guide_id, None, f"{guide_id}: deleted the guide"))
    return drafts.save_guides(engine, draft_id, changes, by, if_match)


# --- find and replace ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    guide: str
    where: str  # "title", "step 'report' text", "step 'tag' answer 2" ...
    lang: str
    before: str
    after: str


def _texts_of(doc: dict[str, Any]):
    """(where, the per-language mapping) of every text a customer reads in the guide."""
    for key in ("title", "category", "help"):
        if isinstance(doc.get(key), dict):
            yield key, doc[key]
    for sid, step in (doc.get("steps") or {}).items():
        if not isinstance(step, dict):
            continue
        for key, what in (("text", "text"), ("image_alt", "image words")):
            if isinstance(step.get(key), dict):
                yield f"step '{sid}' {what}", step[key]
        for n, c in enumerate(step.get("choices") or [], 1):
            if isinstance(c, dict) and isinstance(c.get("label"), dict):
                yield f"step '{sid}' answer {n}", c["label"]


def find_replace(docs: dict[str, tuple[dict, dict]], find: str, replace: str,
                 lang: str | None = None) -> tuple[dict[str, dict[str, Any]], list[Match]]:
    """(guide id -> its changed document, every match) for replacing `find` (exact, case as
    typed) by `replace` in each text, in one language or all."""
    if not find or len(find) > MAX_FIND:
        raise EditRefused(f"Type the words to find (at most {MAX_FIND} characters).")
    changed, matches = {}, []
    for gid, (doc, _) in docs.items():
        new = copy.deepcopy(doc)
        for where, texts in _texts_of(new):
            for code, text in list(texts.items()):
                if (lang and code != lang) or not isinstance(text, str) or find not in text:
                    continue
                texts[code] = text.replace(find, replace)
                matches.append(Match(gid, where, code, text, texts[code]))
        if new != doc:
            changed[gid] = new
    return changed, matches


def replace_everywhere(engine: Engine, draft_id: int, find: str, replace: str, lang: str | None, by: str,
                       if_match: int) -> tuple[int, list[Match]]:
    """Apply find_replace to the draft, one revision per changed guide."""
    with db.read(engine) as conn:
        docs = documents(conn, drafts.get(conn, draft_id))
    changed, matches = find_replace(docs, find, replace, lang)
    if not changed:
        raise EditRefused(f"No text {'in ' + lang + ' ' if lang else ''}contains “{find}”.")
    said = {gid: sum(1 for m in matches if m.guide == gid) for gid in changed}
    revision = drafts.save_guides(engine, draft_id, [
        drafts.GuideChange(gid, doc, f"{gid}: replaced “{find}” by “{replace}” ({said[gid]} text(s))")
        for gid, doc in changed.items()], by, if_match)
    return revision, matches
