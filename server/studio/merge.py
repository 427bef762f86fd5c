"""Three-way resolution of a draft whose base is no longer the latest content version
(docs/studio.md, "Published since this draft was started").

For each guide changed both in the draft (mine) and in what was published since (theirs), against
the draft's base: each guide field and each step that only one side changed takes that side's; one
both sides changed the same way is taken once; one they changed differently is a conflict, which
the publisher or editor resolves on the page, mine or theirs. Once every conflict has an answer
the merged guides are saved in the draft (one revision each) and the draft is based on the latest
version, so it can be approved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection, Engine

from server import db, drafts, publish
from server.studio.edits import EditRefused

GUIDE_KEYS = ("language", "title", "category", "keywords", "help", "start")
WHOLE = "*"  # the whole guide: added, or deleted, on one side at least


@dataclass
class Conflict:
    key: str  # a step id, "guide:title" ..., or WHOLE
    label: str
    mine: list[str]
    theirs: list[str]


@dataclass
class GuideMerge:
    guide_id: str
    conflicts: list[Conflict] = field(default_factory=list)
    merged_automatically: list[str] = field(default_factory=list)
    base: dict | None = None
    theirs: dict | None = None
    mine: dict | None = None
    images: dict[str, str] = field(default_factory=dict)


def _pick(b: Any, t: Any, m: Any) -> tuple[Any, bool]:
    """(the merged value, whether it is a conflict)."""
    if m == b or m == t:
        return t, False
    if t == b:
        return m, False
    return m, True


def _said(before: Any, after: Any, key: str) -> list[str]:
    if key.startswith("guide:"):
        return [f"{key[6:]} now {after!r}" if after is not None else f"{key[6:]} removed"] if before != after else []
    return drafts.step_diff(before, after) or (["unchanged"] if before == after else ["changed"])


def guide_merge(guide_id: str, base: dict | None, theirs: dict | None, mine: dict | None) -> GuideMerge:
    out = GuideMerge(guide_id, base=base, theirs=theirs, mine=mine)
    if base is None or theirs is None or mine is None:
        if theirs != mine:
            out.conflicts.append(Conflict(WHOLE, "the whole guide",
                                          ["deleted"] if mine is None else ["added or kept: " + drafts.title_of(mine, guide_id)],
                                          ["deleted"] if theirs is None else ["added or kept: " + drafts.title_of(theirs, guide_id)]))
        return out
    for key in GUIDE_KEYS:
        b, t, m = base.get(key), theirs.get(key), mine.get(key)
        _, conflict = _pick(b, t, m)
        if conflict:
            out.conflicts.append(Conflict(f"guide:{key}", f"the guide's {key}", _said(b, m, f"guide:{key}"),
                                          _said(b, t, f"guide:{key}")))
        elif t != m:
            out.merged_automatically.append(f"the guide's {key}")
    bs, ts, ms = base.get("steps") or {}, theirs.get("steps") or {}, mine.get("steps") or {}
    for sid in [*ts, *(s for s in ms if s not in ts), *(s for s in bs if s not in ts and s not in ms)]:
        b, t, m = bs.get(sid), ts.get(sid), ms.get(sid)
        _, conflict = _pick(b, t, m)
        if conflict:
            out.conflicts.append(Conflict(sid, f"step '{sid}'", drafts.step_diff(b, m), drafts.step_diff(b, t)))
        elif t != m:
            out.merged_automatically.append(f"step '{sid}'")
    return out


def merged(gm: GuideMerge, answers: dict[str, str]) -> dict | None:
    """The guide after resolution: each conflict as `answers` says ("mine" or "theirs")."""
    if WHOLE in {c.key for c in gm.conflicts}:
        return gm.mine if answers.get(WHOLE) == "mine" else gm.theirs
    if gm.base is None or gm.theirs is None or gm.mine is None:
        return gm.theirs
    conflicted = {c.key for c in gm.conflicts}
    doc: dict[str, Any] = {"id": gm.guide_id}
    for key in GUIDE_KEYS:
        b, t, m = gm.base.get(key), gm.theirs.get(key), gm.mine.get(key)
        value = (m if answers.get(f"guide:{key}") == "mine" else t) if f"guide:{key}" in conflicted else _pick(b, t, m)[0]
        if value is not None:
            doc[key] = value
    bs, ts, ms = gm.base.get("steps") or {}, gm.theirs.get("steps") or {}, gm.mine.get("steps") or {}
    steps = {}
    for sid in [*ts, *(s for s in ms if s not in ts)]:
        b, t, m = bs.get(sid), ts.get(sid), ms.get(sid)
        value = (m if answers.get(sid) == "mine" else t) if sid in conflicted else _pick(b, t, m)[0]
        if value is not None:
            steps[sid] = value
    doc["steps"] = steps
    return doc


def draft_merges(conn: Connection, draft: drafts.Draft) -> tuple[int | None, list[GuideMerge]]:
    """(the latest content version, a GuideMerge for each guide the draft changes that was changed
    in what was published since the draft's base)."""
    latest = publish.latest_content_version(conn)
    out = []
    if latest == draft.base_version:
        return latest, out
    now_docs = drafts.published_documents(conn, latest)
    for gid, stored in sorted(drafts.changed_guides(conn, draft.id).items()):
        found = drafts.entry(conn, draft, gid)
        base = found.published if found else None
        theirs, their_images = now_docs.get(gid, (None, {}))
        if base == theirs:
            continue
        gm = guide_merge(gid, base, theirs, stored["guide"] if stored else None)
        gm.images = {**their_images, **((stored or {}).get("images") or {})}
        out.append(gm)
    return latest, out


def resolve(engine: Engine, draft_id: int, by: str, if_match: int, answers: dict[str, dict[str, str]]) -> int:
    """Save each merged guide in the draft and base the draft on the latest version. `answers`:
    guide id -> {conflict key: "mine" | "theirs"}; every conflict needs one."""
    with db.read(engine) as conn:
        draft = drafts.get(conn, draft_id)
        latest, merges = draft_merges(conn, draft)
    missing = [f"{gm.guide_id}: {c.label}" for gm in merges for c in gm.conflicts
               if answers.get(gm.guide_id, {}).get(c.key) not in ("mine", "theirs")]
    if missing:
        raise EditRefused(f"Choose mine or theirs for every conflict first ({'; '.join(missing[:5])}).")
    changes = []
    for gm in merges:
        doc = merged(gm, answers.get(gm.guide_id, {}))
        named = {s.get("image") for s in ((doc or {}).get("steps") or {}).values() if isinstance(s, dict)}
        changes.append(drafts.GuideChange(gm.guide_id, doc, f"{gm.guide_id}: merged with content version {latest}",
                                          {p: d for p, d in gm.images.items() if p in named}))
    revision = drafts.save_guides(engine, draft_id, changes, by, if_match, states=(drafts.OPEN, drafts.SUBMITTED))
    drafts.rebase(engine, draft_id, by, latest, f"Resolved against content version {latest}: now based on it.")
    return revision
