"""`kiosk-server export`: published content (or a studio draft) written back as a library folder in
the documented format, so the files and the server never diverge (issue 14, "The library
round-trips").

Reading the content out of the database is here; laying it out as files is
contract/library_writer.py. Every export reads the folder it wrote back with the validator that
`publish` and `kiosk import` run and compares the content digest (contract/digest.py) with what
it meant to write: a folder that would publish as other content is an error, never a file left
for staff to find out about.

    export_version(engine, folder, version=None, force=False)   # a published content version
    export_documents(engine, folder, documents, image_sha256s=None, settings=None,
                     force=False, check=True)                   # any guide documents (a draft)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from contract.digest import content_digest, library_digest
from contract.guides import Guide, LibraryInvalid, LibrarySettings
from contract.library_writer import ExportError, WrittenLibrary, write_library
from contract.validation import load_library
from server import db

__all__ = ["ExportError", "Exported", "export_documents", "export_version", "version_contents",
           "version_to_export"]


@dataclass
class Exported:
    """What an export wrote: the content version (None for documents that are not one, such as a
    draft), the content digest of the folder, and its files."""

    version: int | None
    digest: str
    written: WrittenLibrary

    def summary(self) -> str:
        what = f"content version {self.version}" if self.version is not None else "the guides"
        return (f"Exported {what} to {self.written.folder}: {self.written.summary()}; content digest "
                f"{self.digest[:16]} (the folder reads back as the same content)")


def version_to_export(engine: Engine, version: int | None = None) -> int:
    """`version` when it exists; without it, the version the default group's kiosks receive."""
    with db.read(engine) as conn:
        if version is None:
            version = conn.execute(sa.select(db.rollout_groups.c.content_version)
                                   .where(db.rollout_groups.c.name == db.DEFAULT_GROUP)).scalar()
            if version is None:
                raise ExportError("nothing has been published yet; there is no content version to export")
            return version
        found = conn.execute(sa.select(db.content_versions.c.version)
                             .where(db.content_versions.c.version == version)).first()
    if found is None:
        raise ExportError(f"there is no content version {version}")
    return version


def version_contents(engine: Engine, version: int) -> tuple[list[dict[str, Any]], dict[str, bytes], dict[str, Any]]:
    """(guide documents, image sha256 -> bytes, `_library.yaml` settings document or {}) of a
    published content version, as stored."""
    cv, cg, gv = db.content_versions, db.content_guides, db.guide_versions
    with db.read(engine) as conn:
        settings = conn.execute(sa.select(cv.c.library_settings).where(cv.c.version == version)).scalar()
        rows = conn.execute(
            sa.select(gv.c.document).select_from(cg.join(gv, sa.and_(cg.c.guide_id == gv.c.guide_id,
                                                                     cg.c.guide_version == gv.c.version)))
            .where(cg.c.content_version == version).order_by(cg.c.guide_id)).scalars().all()
        documents = [json.loads(bytes(doc)) for doc in rows]
        images = _image_bytes(conn, {d for doc in documents for d in (doc.get("images") or {}).values()})
    return documents, images, json.loads(settings) if settings else {}


def _image_bytes(conn, wanted: set[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    ordered = sorted(wanted)
    for start in range(0, len(ordered), 500):  # bounded IN lists
        chunk = ordered[start:start + 500]
        found |= {r.sha256: bytes(r.data) for r in conn.execute(
            sa.select(db.images.c.sha256, db.images.c.data).where(db.images.c.sha256.in_(chunk)))}
    return found


def export_documents(engine: Engine, folder: str | Path, documents: Iterable[Mapping[str, Any]],
                     image_sha256s: Iterable[str] | None = None, settings: Mapping[str, Any] | None = None,
                     *, force: bool = False, check: bool = True, version: int | None = None) -> Exported:
    """Write guide documents (canonical, as Guide.to_dict() gives them; a studio draft's too) as a
    library folder, with the images they name read from the server's image store.

    `image_sha256s`: the images to read (default: those the documents name); each must be in the
    `images` table. `settings`: the `_library.yaml` settings document, if any. `force`: replace
    the guide files and images of a folder that is not empty. `check`: read the folder back with
    the library validator and require the same content digest (turn it off for content that is
    not valid yet, such as a draft with problems). Raises ExportError with a sentence."""
    documents = [dict(doc) for doc in documents]
    wanted = set(image_sha256s) if image_sha256s is not None else \
        {d for doc in documents for d in (doc.get("images") or {}).values()}
    with db.read(engine) as conn:
        images = _image_bytes(conn, wanted)
    return _export(folder, documents, images, dict(settings or {}), force=force, check=check, version=version)


def _export(folder: str | Path, documents: list[dict[str, Any]], images: Mapping[str, bytes],
            settings: dict[str, Any], *, force: bool, check: bool, version: int | None) -> Exported:
    written = write_library(folder, documents, images, settings, force=force)
    digest = _digest_of(documents, settings)
    if check:
        try:
            read_back = library_digest(load_library(written.folder))
        except LibraryInvalid as exc:
            raise ExportError(f"the folder written to {written.folder} does not read back as a valid library:\n"
                              f"{exc.report()}") from exc
        if read_back != digest:
            raise ExportError(f"the folder written to {written.folder} reads back as other content (digest "
                              f"{read_back[:16]}, not {digest[:16]}); please report this")
    return Exported(version, digest, written)


def export_version(engine: Engine, folder: str | Path, version: int | None = None, *,
                   force: bool = False) -> Exported:
    """Write published content version `version` (default: the default group's) as a library
    folder; see export_documents."""
    version = version_to_export(engine, version)
    documents, images, settings = version_contents(engine, version)
    return _export(folder, documents, images, settings, force=force, check=True, version=version)


def _digest_of(documents: list[dict[str, Any]], settings: Mapping[str, Any]) -> str:
    guides = {doc["id"]: Guide.from_dict(doc) for doc in documents}
    return content_digest({gid: g.sha256 for gid, g in guides.items()},
                          {d for g in guides.values() for d in g.images.values()},
                          LibrarySettings.from_dict(settings).sha256)
