"""Translation files for translators: one language of a library folder as a gettext PO file
(Babel), and a translated PO file back into the folder (`kiosk-server translations export|import`).

Each text of a guide (contract.translations.guide_texts) is one message: its key as `msgctxt`
(`lost-baggage/belt/choice 2`), the text in the guide's own language as `msgid`, the existing
translation (or nothing) as `msgstr`, and comments telling the translator the guide's title and
the step's question. Any PO editor (Poedit, Weblate, Lokalize) can fill it in.

Import is all or nothing, and checked by the same validator as `kiosk-server validate`:
- a message whose `msgctxt` names no text of the library, or whose `msgid` is no longer the
  guide's text (the source was edited after the export), refuses the whole import, every such
  message listed: a translation of an old text must not land on a new one. Export again (the new
  file carries every translation the library has) and translate what changed.
- a message marked fuzzy (needs review) or left empty is not imported; the library's text stays.
- a guide file is written only when one of its texts changed, in the canonical YAML of
  contract.library_writer (its comments and layout are not kept); every other file is left as it
  was, byte for byte. The changed folder is validated as a whole before any file is replaced.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from babel import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.pofile import PoFileError, read_po, write_po

from contract.digest import library_digest
from contract.guides import Guide, Library, LibraryInvalid, Problem, Step, pick
from contract.library_writer import guide_yaml
from contract.translations import TextRef, guide_texts
from contract.validation import load_library

PROJECT = "guide kiosk library"


class TranslationFileError(Exception):
    """The file cannot be exported or imported, in a sentence (or several, one per message)."""

    def __init__(self, message: str, problems: list[str] | None = None):
        self.problems = problems or []
        super().__init__(message + "".join(f"\n  - {p}" for p in self.problems))


def _locale(lang: str) -> Locale:
    try:
        return Locale.parse(lang, sep="-")
    except (ValueError, UnknownLocaleError):
        raise TranslationFileError(f"'{lang}' is not a language a PO file can name (Babel knows no such "
                                   "locale)") from None


def _lang_of(catalog: Catalog) -> str | None:
    """The library's code for the PO file's Language header: `pt_BR` is `pt-BR`."""
    return str(catalog.locale).replace("_", "-") if catalog.locale else None


def _comments(guide: Guide, ref: TextRef) -> list[str]:
    """What the translator needs to see: which guide, which step, and the step's question when
    the text is an answer to it."""
    title = pick(guide.title, guide.language, guide.language)
    notes = [f"Guide: {title} ({guide.id})"]
    if ref.step:
        step = guide.steps[ref.step]
        kind = "outcome" if step.end else "question"
        notes.append(f"Step '{ref.step}' ({kind})")
        if ref.field.startswith("choice"):
            notes.append(f"An answer to: {pick(step.text, guide.language, guide.language)}")
    else:
        notes.append(f"The guide's {ref.field}")
    return notes


def catalog_of(library: Library, lang: str) -> Catalog:
    """The PO catalog of one language: every text of every guide not written in that language."""
    # The version names the library's content digest: which state of the library was translated.
    catalog = Catalog(locale=_locale(lang), project=PROJECT, version=f"digest {library_digest(library)[:16]}",
                      fuzzy=False,
                      header_comment=f"# Translations of a guide library into {lang}.\n"
                                     "# msgctxt names the text (guide/step/field); msgid is the guide's own "
                                     "language.\n# Import with: kiosk-server translations import LIBRARY FILE.po")
    for gid in sorted(library.guides):
        guide = library.guides[gid]
        if guide.language == lang:  # its texts in this language are the source, not translations
            continue
        for ref in guide_texts(guide):
            if guide.language not in ref.text:  # nothing to translate from yet (a studio draft's blank text)
                continue
            catalog.add(ref.text[guide.language], string=ref.text.get(lang, ""), context=ref.key,
                        auto_comments=_comments(guide, ref), locations=[(guide.source, None)])
    return catalog


def export_po(library: Library, lang: str, out: str | Path) -> Catalog:
    catalog = catalog_of(library, lang)
    Path(out).write_bytes(po_bytes(catalog))
    return catalog


@dataclass
class ImportResult:
    lang: str
    changed: dict[str, list[str]] = field(default_factory=dict)  # guide file -> keys of the texts changed
    unchanged: int = 0  # messages whose translation equals the library's
    empty: int = 0  # messages left untranslated: the library's text (if any) is kept
    fuzzy: list[str] = field(default_factory=list)  # keys marked fuzzy: not imported

    @property
    def imported(self) -> int:
        return sum(len(keys) for keys in self.changed.values())

    def summary(self) -> str:
        files = ", ".join(sorted(self.changed)) or "none"
        text = (f"Imported {self.imported} {self.lang} translation(s); guide files written: {files}. "
                f"{self.unchanged} unchanged, {self.empty} left untranslated")
        if self.fuzzy:
            text += f", {len(self.fuzzy)} marked fuzzy and not imported ({', '.join(self.fuzzy)})"
        return text + "."


def _read(po_file: str | Path) -> Catalog:
    try:
        with open(po_file, "rb") as fh:
            return read_catalog(fh, str(po_file))
    except OSError as exc:
        raise TranslationFileError(f"{po_file} cannot be read as a PO file: {exc}") from None


def read_catalog(fh: BinaryIO, name: str) -> Catalog:
    try:
        return read_po(fh, abort_invalid=True)
    except (PoFileError, ValueError, UnicodeDecodeError) as exc:
        raise TranslationFileError(f"{name} cannot be read as a PO file: {exc}") from None


def po_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=0, sort_output=False)
    return buffer.getvalue()


def _with_text(guide: Guide, ref: TextRef, lang: str, value: str) -> Guide:
    def put(text: dict[str, str]) -> dict[str, str]:
        return {**text, lang: value}

    if ref.step is None:
        return Guide(**{**guide.__dict__, ref.field: put(getattr(guide, ref.field))})
    step = guide.steps[ref.step]
    if ref.field == "text":
        new_step = Step(**{**step.__dict__, "text": put(step.text)})
    else:
        n = int(ref.field.removeprefix("choice ")) - 1
        choices = list(step.choices)
        choices[n] = type(choices[n])(**{**choices[n].__dict__, "label": put(choices[n].label)})
        new_step = Step(**{**step.__dict__, "choices": tuple(choices)})
    return Guide(**{**guide.__dict__, "steps": {**guide.steps, ref.step: new_step}})


def import_po(folder: str | Path, po_file: str | Path) -> ImportResult:
    """Write the translations of `po_file` into the library folder (see the module docstring).
    Raises TranslationFileError or LibraryInvalid, having changed nothing."""
    folder = Path(folder)
    catalog = _read(po_file)
    library = load_library(folder)
    result, found = match_catalog(library, catalog, str(po_file), f"the library in {folder}")
    guides = dict(library.guides)
    for gid, ref, value in found:
        guides[gid] = _with_text(guides[gid], ref, result.lang, value)
    if result.changed:
        _write_checked(folder, {g.source: g for gid, g in guides.items() if g.source in result.changed})
    return result


def match_catalog(library: Library, catalog: Catalog, name: str,
                  what: str) -> tuple[ImportResult, list[tuple[str, TextRef, str]]]:
    """(what the import does, (guide id, text, its new translation) of each text it changes) for a
    PO catalog against a library (a folder's, or a studio draft's). Raises TranslationFileError,
    every message that does not fit listed, when any does not: the import is all or nothing."""
    lang = _lang_of(catalog)
    if not lang:
        raise TranslationFileError(f"{name} has no Language header: it does not say which language it holds")
    refs = {ref.key: (gid, ref) for gid, g in library.guides.items() for ref in guide_texts(g)}
    result, refused, found = ImportResult(lang), [], []
    for message in catalog:
        if not message.id:  # the header
            continue
        key, source, value = message.context, message.id, message.string
        if not isinstance(source, str) or not isinstance(value, str):
            refused.append(f"{key}: plural forms are not texts of a guide")
            continue
        if key not in refs:
            refused.append(f"{key!r} names no text of this library (msgid {source!r})")
            continue
        gid, ref = refs[key]
        guide = library.guides[gid]
        if guide.language == lang:
            refused.append(f"{key}: guide '{gid}' is written in {lang}; its {lang} texts are the source")
            continue
        if ref.text.get(guide.language) != source:
            refused.append(f"{key}: the {guide.language} text changed since the export (now "
                           f"{ref.text.get(guide.language, '')!r}, the file translates {source!r})")
            continue
        if message.fuzzy:
            result.fuzzy.append(key)
        elif not value:
            result.empty += 1
        elif ref.text.get(lang) == value:
            result.unchanged += 1
        else:
            found.append((gid, ref, value))
            result.changed.setdefault(guide.source, []).append(key)
    if refused:
        raise TranslationFileError(f"Nothing was imported: {len(refused)} message(s) of {name} do not fit "
                                   f"{what}. Export again and translate what changed:", refused)
    return result, found


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _write_checked(folder: Path, changed: dict[str, Guide]) -> None:
    """Write the changed guide files into a copy of the folder (images hard-linked), validate the
    copy as `kiosk-server validate` would, and only then move each file into place."""
    with tempfile.TemporaryDirectory(prefix=".translations-", dir=folder.parent) as tmp:
        staged = Path(tmp) / folder.name
        shutil.copytree(folder, staged, copy_function=_link_or_copy, symlinks=True)
        for source, guide in changed.items():
            target = staged / source
            target.unlink()  # a hard link would carry the write into the original
            target.write_text(guide_yaml(guide.to_dict()), encoding="utf-8")
        try:
            load_library(staged)
        except LibraryInvalid as exc:
            raise LibraryInvalid([Problem(p.file, f"after the import: {p.message}", p.step, p.line)
                                  for p in exc.problems]) from None
        for source in changed:
            os.replace(staged / source, folder / source)
