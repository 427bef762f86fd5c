"""The one content digest (shared/DESIGN.md, "One content digest"): over the sorted guide ids
with the sha256 of each guide's canonical JSON, and the sorted image sha256s. Import, publish,
export and the tests all use this function, so two libraries with the same digest are the same
content wherever they were made."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from contract.canonical import canonical_json
from contract.guides import Library


def content_digest(guide_sha256s: Mapping[str, str], image_sha256s: Iterable[str],
                   settings_sha256: str | None = None) -> str:
    """sha256 (hex) of {"guides": {id: sha256}, "images": [sha256, ...]} in canonical JSON, with
    "library": the sha256 of the canonical `_library.yaml` settings when the library has any (a
    library without them keeps the digest it always had)."""
    doc: dict = {"guides": dict(guide_sha256s), "images": sorted(set(image_sha256s))}
    if settings_sha256 is not None:
        doc["library"] = settings_sha256
    return hashlib.sha256(canonical_json(doc)).hexdigest()


def library_digest(library: Library) -> str:
    return content_digest({gid: g.sha256 for gid, g in library.guides.items()}, library.images,
                          library.settings.sha256)


def manifest_digest(manifest: Mapping) -> str:
    """The digest of the content a signed manifest names: its guides' sha256s, its images and the
    sha256 of its `library` settings (the canonical form the manifest carries), so a kiosk can
    check a manifest it assembled from a delta against the digest the delta promised."""
    settings = manifest.get("library")
    return content_digest({gid: info["sha256"] for gid, info in (manifest.get("guides") or {}).items()},
                          manifest.get("images") or {},
                          hashlib.sha256(canonical_json(settings)).hexdigest() if settings else None)
