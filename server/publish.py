"""Publishing: a validated library becomes a new content version; old versions stay for rollback
and for mobile pages that name an older guide version.

The library is judged by contract.bundle.open_library, the same validator the kiosk runs, so what
the server accepts a kiosk accepts too. A guide's version moves only when its canonical bytes
(sha256) changed, so kiosks re-download only what really changed. The library's `_library.yaml`
settings are kept with the version and carried in its signed manifest (its "library" entry).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from contract.bundle import open_library
from contract.canonical import canonical_json
from contract.digest import library_digest
from contract.guides import Guide, Library, LibraryInvalid, Problem, image_kind
from contract.images import fit_for_panel
from contract.validation import library_from_documents
from server import db


class RolloutError(Exception):
    """A publish, promote, rollback or group change that cannot be done, in a sentence."""


@dataclass
class PublishResult:
    content_version: int
    guides: dict[str, int]  # guide id -> version in this content version
    changed: list[str] = field(default_factory=list)  # guides with a new version (against the base)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    to: str | None = None  # the one group it was published to; None: every group
    base_version: int | None = None  # for a staged version: the version its group had
    superseded: dict[str, int] = field(default_factory=dict)  # group -> staged version it replaced
    digest: str = ""  # the content digest (contract/digest.py), as export and `kiosk status` show it
    resized: tuple[int, int, int] = (0, 0, 0)  # images made smaller for the panel, their bytes before and after
    synonym_groups: int = 0  # of its _library.yaml, carried to the kiosks in the manifest

    def summary(self) -> str:
        moved = ", ".join(f"{g} v{self.guides[g]}" for g in self.changed) or "none"
        text = (f"Published content version {self.content_version}: {len(self.guides)} guide(s); "
                f"new versions: {moved}")
        if self.removed:
            text += f"; removed: {', '.join(self.removed)}"
        if self.synonym_groups:
            text += f"; _library.yaml: {self.synonym_groups} synonym group(s)"
        if self.resized[0]:
            count, before, after = self.resized
            text += (f"; {count} image(s) larger than the panel needs made smaller "
                     f"({before / 1e6:.1f} MB -> {after / 1e6:.1f} MB)")
        if self.digest:
            text += f"; content digest {self.digest[:16]}"
        if self.to is not None:
            base = f"version {self.base_version}" if self.base_version is not None else "nothing"
            text += (f". Only group '{self.to}' receives it (staged on {base}); widen it with "
                     f"`kiosk-server promote {self.content_version}`")
        for group, staged in sorted(self.superseded.items()):
            text += (f". Group '{group}' was on staged version {staged}; it receives this version too, and "
                     f"version {staged} can no longer be promoted")
        return text

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"content_version": self.content_version, "guides": self.guides,
                               "changed": self.changed, "added": self.added, "removed": self.removed}
        if self.to is not None:
            out |= {"to": self.to, "base_version": self.base_version}
        if self.superseded:
            out["superseded"] = self.superseded
        if self.digest:
            out["digest"] = self.digest
        return out


def validate(path: str | Path) -> Library:
    """Load and validate a library folder or bundle; raises LibraryInvalid with every problem."""
    return open_library(path)


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def latest_content_version(conn: Connection) -> int | None:
    return conn.execute(sa.select(sa.func.max(db.content_versions.c.version))).scalar()


def group_version(conn: Connection, group: str) -> tuple[bool, int | None]:
    """(whether the group exists, the content version meant for its kiosks)."""
    row = conn.execute(sa.select(db.rollout_groups.c.content_version)
                       .where(db.rollout_groups.c.name == group)).first()
    return (row is not None, row.content_version if row else None)


def require_group(conn: Connection, group: str) -> int | None:
    """The content version meant for the group's kiosks; RolloutError when there is no such group."""
    exists, version = group_version(conn, group)
    if not exists:
        raise RolloutError(f"there is no group '{group}' (add it with `kiosk-server group add {group}`)")
    return version


def lineage(conn: Connection, version: int) -> list[int]:
    """The versions `version` was built on, nearest first (its base, its base's base, ...)."""
    cv = db.content_versions
    chain: list[int] = []
    current: int | None = version
    while current is not None:
        current = conn.execute(sa.select(cv.c.base_version).where(cv.c.version == current)).scalar()
        if current is None or current in chain:
            break
        chain.append(current)
    return chain


def open_stages(conn: Connection) -> dict[str, int]:
    """Groups on an open stage (group -> version): a version published to one group that some other
    group has neither got nor built on."""
    groups = dict(conn.execute(sa.select(db.rollout_groups.c.name, db.rollout_groups.c.content_version)).all())
    versions = {v for v in groups.values() if v is not None}
    staged = set(conn.execute(sa.select(db.content_versions.c.version).where(
        db.content_versions.c.version.in_(versions), db.content_versions.c.staged_to.is_not(None))).scalars())
    chains = {v: {v, *lineage(conn, v)} for v in versions}
    return {name: v for name, v in groups.items()
            if v in staged and any(v not in chains.get(other, ()) for other in groups.values())}


def fit_images(library: Library) -> tuple[Library, tuple[int, int, int]]:
    """The library with every image longer than the panel needs (contract.theme.PANEL_IMAGE_SIDE)
    re-encoded to it, and the guides naming it pointed at the new bytes; (count, bytes before,
    after). Images within it stay byte for byte, so publishing an export again changes nothing.
    One image is decoded at a time; each is at most MAX_IMAGE_SIDE a side (checked on the way in)."""
    replaced: dict[str, str] = {}
    images: dict[str, bytes] = {}
    before = after = 0
    for digest, data in library.images.items():
        fitted = fit_for_panel(data)
        if fitted is data:
            images[digest] = data
            continue
        new = hashlib.sha256(fitted).hexdigest()
        replaced[digest], images[new] = new, fitted
        before, after = before + len(data), after + len(fitted)
    if not replaced:
        return library, (0, 0, 0)
    guides = {gid: dataclasses.replace(g, images={p: replaced.get(d, d) for p, d in g.images.items()})
              if any(d in replaced for d in g.images.values()) else g for gid, g in library.guides.items()}
    return dataclasses.replace(library, guides=guides, images=images), (len(replaced), before, after)


def publish_library(engine: Engine, library: Library, by: str, note: str | None = None,
                    rollback_of: int | None = None, to: str | None = None) -> PublishResult:
    """Store `library` (already validated) as a new content version, in one transaction; its
    images larger than the panel needs are made smaller first (fit_images), for metered links.

    `to`: only that group's kiosks receive it (a stage, based on the group's version); without it
    every group does, which supersedes any open stage (the staged version, no longer any group's
    base, can then not be promoted)."""
    library, resized = fit_images(library)  # before the publish lock: a big photo takes ~0.1 s
    now = time.time()
    with db.write(engine) as conn:
        db.lock(conn, "publish")
        previous = latest_content_version(conn)
        base = None
        if to is not None:
            base = require_group(conn, to)
        compared = base if to is not None else previous
        before: dict[str, int] = {}
        if compared is not None:
            before = dict(conn.execute(
                sa.select(db.content_guides.c.guide_id, db.content_guides.c.guide_version)
                .where(db.content_guides.c.content_version == compared)).all())
        version = (previous or 0) + 1
        result = PublishResult(version, {}, to=to, base_version=base, digest=library_digest(library),
                               synonym_groups=library.settings.synonym_groups, resized=resized)
        manifest_guides: dict[str, Any] = {}
        manifest_images: dict[str, Any] = {}
        for gid in sorted(library.guides):
            guide = library.guides[gid]
            body = guide.canonical_json()
            sha = hashlib.sha256(body).hexdigest()
            last = conn.execute(
                sa.select(db.guide_versions.c.version, db.guide_versions.c.sha256)
                .where(db.guide_versions.c.guide_id == gid)
                .order_by(db.guide_versions.c.version.desc()).limit(1)).first()
            if last is not None and last.sha256 == sha:
                gver = last.version
            else:
                gver = (last.version if last else 0) + 1
                conn.execute(db.guide_versions.insert().values(
                    guide_id=gid, version=gver, sha256=sha, size=len(body), document=body, created_at=now))
            if gid not in before:
                result.added.append(gid)
            if before.get(gid) != gver:
                result.changed.append(gid)
            result.guides[gid] = gver
            manifest_guides[gid] = {"version": gver, "sha256": sha, "size": len(body)}
            for digest in guide.images.values():
                data = library.images[digest]
                manifest_images[digest] = {"size": len(data), "type": image_kind(data)}
        for digest, info in manifest_images.items():
            conn.execute(db.insert_ignore(conn, db.images, ["sha256"]).values(
                sha256=digest, kind=info["type"], size=info["size"], data=library.images[digest], created_at=now))
        mark_published(conn, list(manifest_images), now)
        result.removed = sorted(set(before) - set(library.guides))
        manifest = {"content_version": version, "published_at": _iso(now), "guides": manifest_guides,
                    "images": manifest_images}
        settings = library.settings.to_dict()
        if settings:
            # Signed with the rest; left out when the library has none, so such a manifest keeps
            # the bytes (and signature) it had before settings travelled.
            manifest["library"] = settings
        conn.execute(db.content_versions.insert().values(
            version=version, published_at=now, published_by=by[:120], note=note, rollback_of=rollback_of,
            manifest_json=canonical_json(manifest).decode(), base_version=base, staged_to=to,
            library_settings=canonical_json(settings).decode() if settings else None))
        groups = db.rollout_groups
        if to is None:
            result.superseded = open_stages(conn)
        conn.execute(groups.update().where(groups.c.name == to if to is not None else sa.true())
                     .values(content_version=version, changed_at=now))
        if result.guides:
            conn.execute(db.content_guides.insert(), [
                {"content_version": version, "guide_id": gid, "guide_version": gver}
                for gid, gver in result.guides.items()])
        return result


def publish_path(engine: Engine, path: str | Path, by: str, note: str | None = None,
                 to: str | None = None) -> PublishResult:
    """Validate then publish; an invalid library raises LibraryInvalid and publishes nothing."""
    return publish_library(engine, validate(path), by, note, to=to)


def mark_published(conn, digests: list[str], now: float) -> None:
    """The images are in a published content version from now on (the phone pages may serve them)."""
    for start in range(0, len(digests), 500):  # bounded IN lists
        conn.execute(db.images.update().where(db.images.c.sha256.in_(digests[start:start + 500]),
                                              db.images.c.published_at.is_(None)).values(published_at=now))


def library_of_version(engine: Engine, content_version: int) -> Library:
    """The library as it was published in `content_version`, checked again like a kiosk would."""
    with db.read(engine) as conn:
        exists = conn.execute(sa.select(db.content_versions.c.version, db.content_versions.c.library_settings)
                              .where(db.content_versions.c.version == content_version)).first()
        if exists is None:
            raise LibraryInvalid([Problem(f"content version {content_version}", "does not exist")])
        docs = guide_documents(conn, content_version)
        wanted = {d for doc in docs for d in doc.get("images", {}).values()}
        blobs = {}
        if wanted:
            blobs = {r.sha256: bytes(r.data) for r in conn.execute(
                sa.select(db.images.c.sha256, db.images.c.data).where(db.images.c.sha256.in_(wanted)))}
    settings = json.loads(exists.library_settings) if exists.library_settings else None
    return library_from_documents(docs, blobs, settings)


def published_guides(conn: Connection, content_version: int) -> list[Guide]:
    """The guides of a content version as published (no images, not checked again): for pages that
    only read their texts, such as the language counts of the Guides page."""
    return [Guide.from_dict(doc) for doc in guide_documents(conn, content_version)]


def guide_documents(conn: Connection, content_version: int) -> list[dict]:
    """The canonical documents of a content version's guides, as stored at publish."""
    gv, cg = db.guide_versions, db.content_guides
    rows = conn.execute(
        sa.select(gv.c.document)
        .select_from(cg.join(gv, sa.and_(cg.c.guide_id == gv.c.guide_id, cg.c.guide_version == gv.c.version)))
        .where(cg.c.content_version == content_version)).scalars()
    return [json.loads(bytes(doc)) for doc in rows]


def rollback(engine: Engine, content_version: int, by: str) -> PublishResult:
    """Publish an earlier content version's guides (and its `_library.yaml` settings) again, as a
    new content version."""
    library = library_of_version(engine, content_version)
    return publish_library(engine, library, by, note=f"rollback to content version {content_version}",
                           rollback_of=content_version)


def guide_document(engine: Engine, guide_id: str, version: int) -> bytes | None:
    with db.read(engine) as conn:
        doc = conn.execute(sa.select(db.guide_versions.c.document).where(
            db.guide_versions.c.guide_id == guide_id, db.guide_versions.c.version == version)).scalar()
    return bytes(doc) if doc is not None else None


def load_guide(engine: Engine, guide_id: str, version: int) -> Guide | None:
    doc = guide_document(engine, guide_id, version)
    return Guide.from_dict(json.loads(doc)) if doc is not None else None


def current_guide_version(engine: Engine, guide_id: str) -> int | None:
    """The guide's version in the latest content version, else its newest stored version."""
    with db.read(engine) as conn:
        latest = latest_content_version(conn)
        ver = None
        if latest is not None:
            ver = conn.execute(sa.select(db.content_guides.c.guide_version).where(
                db.content_guides.c.content_version == latest, db.content_guides.c.guide_id == guide_id)).scalar()
        if ver is None:
            ver = conn.execute(sa.select(sa.func.max(db.guide_versions.c.version))
                               .where(db.guide_versions.c.guide_id == guide_id)).scalar()
    return ver
