"""Translation files in the studio: one language of the library a draft would publish as a gettext
PO file for translators, and a translated file imported back into the draft, with the same rules
as `kiosk-server translations export|import` (server/translation_files.py, which both use): every
message must fit the draft's texts or nothing is imported, a fuzzy or empty message leaves the
text as it is, untouched texts are kept. The changes are one transaction, a revision per guide.
"""

from __future__ import annotations

import copy
import dataclasses
import io
from typing import Any

from sqlalchemy.engine import Connection, Engine

from contract.guides import Library
from contract.translations import TextRef
from server import db, drafts
from server.studio.library_edits import documents
from server.translation_files import ImportResult, catalog_of, match_catalog, po_bytes, read_catalog


def _library(docs: dict[str, tuple[dict[str, Any], dict[str, str]]]) -> Library:
    return Library({gid: dataclasses.replace(drafts.as_guide(doc), source=f"{gid}.yaml")
                    for gid, (doc, _) in docs.items()}, {})


def export_language(conn: Connection, draft: drafts.Draft, lang: str) -> bytes:
    """The PO file of `lang` for the draft's library (TranslationFileError for a language Babel
    does not know)."""
    return po_bytes(catalog_of(_library(documents(conn, draft)), lang))


def _put(doc: dict[str, Any], ref: TextRef, lang: str, value: str) -> None:
    if ref.step is None:
        doc.setdefault(ref.field, {})[lang] = value
        return
    step = doc["steps"][ref.step]
    if ref.field == "text":
        step.setdefault("text", {})[lang] = value
    else:  # "choice N", counted from 1
        step["choices"][int(ref.field.removeprefix("choice ")) - 1].setdefault("label", {})[lang] = value


def import_language(engine: Engine, draft_id: int, data: bytes, name: str, by: str,
                    if_match: int) -> tuple[ImportResult, int]:
    """The translations of a PO file written into the draft; (what was imported, the revision)."""
    catalog = read_catalog(io.BytesIO(data), name)
    with db.read(engine) as conn:
        docs = documents(conn, drafts.get(conn, draft_id))
    result, found = match_catalog(_library(docs), catalog, name, "this draft's guides")
    changed: dict[str, dict[str, Any]] = {}
    for gid, ref, value in found:
        _put(changed.setdefault(gid, copy.deepcopy(docs[gid][0])), ref, result.lang, value)
    said = {gid: sum(1 for g, _, _ in found if g == gid) for gid in changed}
    revision = drafts.save_guides(engine, draft_id, [
        drafts.GuideChange(gid, doc, f"{gid}: {said[gid]} {result.lang} translation(s) from {name[:80]}")
        for gid, doc in sorted(changed.items())], by, if_match) if changed else if_match
    return result, revision
