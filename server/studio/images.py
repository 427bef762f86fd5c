"""Images in the studio: an upload checked as a library's images are (contract.images: the header's
size first, then every pixel decoded, within MAX_IMAGE_SIDE and MAX_IMAGE_BYTES), stored
content-addressed in the server's images table, and the images a draft's library already has,
for picking one for a step.

A step names its image by a path, as a guide file does; the guide's image map (server.drafts
Entry.images) says which stored bytes that path is. An upload's path is made from its bytes
(images/<first 16 hex digits of its sha256>.png), so the same picture uploaded twice is one file
of the exported library, and two different pictures never share a path.
"""

from __future__ import annotations

import hashlib
import importlib.util
import time
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.engine import Connection, Engine

from contract.guides import image_kind
from contract.icons import ICONS
from contract.images import ImageRefused, check_image
from contract.limits import MAX_IMAGE_BYTES
from server import db, drafts

# A step's picture, and a translated PO file (a large library's is megabytes).
UPLOAD_PATH_PATTERN = r"^/studio/drafts/[^/]+/(guides/[^/]+/image|translations)$"
# The upload's whole body: the picture (or PO file) and a form's few fields around it.
UPLOAD_BODY = MAX_IMAGE_BYTES + 64 * 1024
_SUFFIX = {"png": "png", "jpeg": "jpg"}


def store_upload(engine: Engine, name: str, data: bytes) -> tuple[str, str]:
    """(path a step names it by, sha256) of an uploaded picture, stored once; ImageRefused, with
    the file's name in the sentence, when it is not a sound PNG or JPEG within the limits."""
    shown = (name or "the upload")[:80]
    if not data:
        raise ImageRefused(f"image '{shown}' is empty: choose a PNG or JPEG file")
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageRefused(f"image '{shown}' is larger than {MAX_IMAGE_BYTES // 1_000_000} MB")
    try:
        kind = check_image(data)
    except ImageRefused as exc:
        raise ImageRefused(f"image '{shown}' {exc}") from None
    sha = hashlib.sha256(data).hexdigest()
    with db.write(engine) as conn:
        store_checked(conn, {sha: data})
    return f"images/{sha[:16]}.{_SUFFIX[kind]}", sha


def store_checked(conn: Connection, images: Mapping[str, bytes]) -> None:
    """Images already checked (an upload above, or a validated library's: sha256 -> bytes) stored
    once each, by their bytes, as unpublished images: the phone pages and the kiosks' image route
    serve none of them until a content version with it is published (server.publish.mark_published)."""
    now = time.time()
    for sha, data in images.items():
        conn.execute(db.insert_ignore(conn, db.images, ["sha256"]).values(
            sha256=sha, kind=image_kind(data), size=len(data), data=data, created_at=now))


# A published content version never changes: its images are read once per process.
_PUBLISHED: dict[tuple[str, int], dict[str, str]] = {}


def _published_images(conn: Connection, version: int | None) -> dict[str, str]:
    if version is None:
        return {}
    key = (str(conn.engine.url), version)
    if key not in _PUBLISHED:
        if len(_PUBLISHED) > 64:
            _PUBLISHED.clear()
        found: dict[str, str] = {}
        for _, images in drafts.published_documents(conn, version).values():
            found.update(images)
        _PUBLISHED[key] = found
    return _PUBLISHED[key]


def library_images(conn: Connection, draft: drafts.Draft) -> dict[str, str]:
    """Every image the draft's library names (path -> sha256): the base version's guides' and the
    draft's own, the draft's winning where a path is in both."""
    out = dict(_published_images(conn, draft.base_version))
    for stored in drafts.changed_guides(conn, draft.id).values():
        if stored:
            out.update(stored.get("images") or {})
    return dict(sorted(out.items()))


def image_map(conn: Connection, draft: drafts.Draft, doc: dict, known: dict[str, str]) -> dict[str, str]:
    """The guide's image map after an edit: exactly the paths its steps name, each the bytes it
    had in this guide, else the library's image at that path (one picked from the library). The
    library is read only for a path the guide did not know, so an edit of text stays fast on a
    2,000-guide library. A path nobody knows is left out: the live check names it on its step."""
    named = sorted({s.get("image") for s in (doc.get("steps") or {}).values()
                    if isinstance(s, dict) and isinstance(s.get("image"), str)})
    library = library_images(conn, draft) if any(p not in known for p in named) else {}
    return {p: known.get(p) or library[p] for p in named if p in known or p in library}



def icon_file(name: str) -> Path | None:
    """The PNG the kiosk draws for icon `name` (screens/icons/, built from contract/icons.py by
    scripts/build-icons), or None. Found by the package's location without importing it: the
    server never imports screens/ (it imports Kivy)."""
    if name not in ICONS:
        return None
    spec = importlib.util.find_spec("screens")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "icons" / f"{name}.png"
        if path.is_file():
            return path
    return None
