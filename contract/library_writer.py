"""Writing a library folder: canonical guide documents, their image bytes and the library settings
become the files staff edit (the format in README, "Writing a guide"), so that reading the folder
back gives the same content, the same digest (contract/digest.py).

    from contract.library_writer import write_library
    written = write_library(folder, documents, images, settings)

- `documents`: canonical guide documents, as `Guide.to_dict()` gives them (the server stores
  and serves these): `images` maps each relative image path the steps name to its sha256.
- `images`: sha256 -> bytes, at least every image the documents name.
- `settings`: the canonical `_library.yaml` document (`LibrarySettings.to_dict()`), or None / {}
  when the library has none (then no `_library.yaml` is written).

Each guide is written as one canonical YAML file, `<id>.yaml` at the folder's root, its images at
the relative paths its steps name. A guide whose image paths climb out of its folder (`../x.png`)
or would land on another guide's different image at the same path goes into a folder of its own
(`<id>/<id>.yaml`), so every path stays as written and the content is unchanged.

Canonical YAML: the same content always gives the same bytes. Keys in the documented order (id,
language, title, category, icon, help, keywords, start, steps; text, image, image_alt, choices,
end; label, next/guide; in `_library.yaml` synonyms, categories, help),
steps in the order a customer meets them (from `start`, breadth first), the guide's language first
in every text, block style with lists of words inline, one line per text, written by libyaml's
emitter (which writes characters beyond the Basic Multilingual Plane, such as emoji, as "\U0001F6BB"
escapes: YAML reads them back as the same character). Hand-written comments and layout are not
kept: the folder is made from the content, not from the files it came from.

This module only writes files; reading a version or a draft out of the server's database is
server/export.py.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from contract.library_settings import FILE_NAME as SETTINGS_FILE

GUIDE_ORDER = ("id", "language", "title", "category", "icon", "help", "keywords", "start", "steps")
STEP_ORDER = ("text", "image", "image_alt", "choices", "end")
CHOICE_ORDER = ("label", "next", "guide")
SETTINGS_ORDER = ("synonyms", "categories", "help")  # _library.yaml
CATEGORY_ORDER = ("title", "icon")
HELP_PLACE_ORDER = ("site", "guide", "text")
# What `force` clears from a folder before writing: what a library reader would read, or what a
# library holds. Anything else (README.md, .git, ...) is left as it is.
LIBRARY_SUFFIXES = (".yaml", ".yml", ".png", ".jpg", ".jpeg")


class ExportError(Exception):
    """The folder cannot be written as asked, in a sentence (a folder that is not empty, content
    that cannot be laid out as files)."""


@dataclass
class WrittenLibrary:
    """What write_library wrote, relative to `folder` (POSIX paths)."""

    folder: Path
    guide_files: dict[str, str] = field(default_factory=dict)  # guide id -> its file
    image_files: dict[str, str] = field(default_factory=dict)  # image file -> sha256
    settings_file: str | None = None  # "_library.yaml" when the library has settings

    def summary(self) -> str:
        text = f"{len(self.guide_files)} guide(s), {len(self.image_files)} image file(s)"
        if self.settings_file:
            text += f", {self.settings_file}"
        return text


# --- YAML ----------------------------------------------------------------------------------------


class _Words(list):
    """A list of words written inline, as README writes them: `[bag, luggage]`."""


# libyaml's emitter (PyYAML's wheels carry it, as the reader's fast path) is seven times faster
# than the pure-Python one, which writes the same layout: a 2,000-guide export takes seconds.
class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    """Block style (a list under a key starts at the key's indent); never an alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text_scalar(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # A text of several lines reads best as a literal block; the emitter falls back to quotes
    # whenever a block would not give the same text back.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text_scalar)
_Dumper.add_representer(_Words, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))


def _dump(doc: Any) -> str:
    # width: one line per text, so a diff shows the text that changed and nothing else
    return yaml.dump(doc, Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=False,
                     width=1 << 30, indent=2)


def _languages_first(mapping: Mapping[str, Any], language: str) -> list[str]:
    return sorted(mapping, key=lambda lang: (lang != language, lang))


def _text(text: Mapping[str, str], language: str) -> str | dict[str, str]:
    """A plain string when the text is in the guide's language only (README: a plain string is
    in the guide's `language`), else a mapping with that language first."""
    if list(text) == [language]:
        return text[language]
    return {lang: text[lang] for lang in _languages_first(text, language)}


def _step_order(doc: Mapping[str, Any]) -> list[str]:
    """Steps as a customer meets them: `start`, then breadth first along the choices; any step
    left (none in a valid guide) after, by id."""
    steps = doc["steps"]
    seen, order, queue = {doc["start"]}, [], deque([doc["start"]])
    while queue:
        sid = queue.popleft()
        if sid not in steps:
            continue
        order.append(sid)
        for choice in steps[sid].get("choices", []):
            nxt = choice.get("next")
            if nxt is not None and nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return order + sorted(set(steps) - set(order))


step_order = _step_order  # public: the studio lists a published guide's steps in this order too


def _keywords(keywords: Mapping[str, list[str]], language: str) -> _Words | dict[str, _Words]:
    if list(keywords) == [language]:
        return _Words(keywords[language])
    return {lang: _Words(keywords[lang]) for lang in _languages_first(keywords, language)}


def _choices(choices: list[Mapping[str, Any]], language: str) -> list[dict[str, Any]]:
    return [{key: (_text(choice[key], language) if key == "label" else choice[key])
             for key in CHOICE_ORDER if choice.get(key) is not None} for choice in choices]


def _as_is(value: Any, language: str) -> Any:
    return value


# How each field of a guide file and of a step is written; the fields are written in GUIDE_ORDER
# and STEP_ORDER, each left out when unset. tests/test_library_round_trip.py fails when the
# validator knows a field these do not write.
_GUIDE_VALUES = {"title": _text, "category": _text, "help": _text, "keywords": _keywords}
_STEP_VALUES = {"text": _text, "image_alt": _text, "choices": _choices}
_REQUIRED = {"id", "language", "title", "start", "steps", "text"}


def _fields(doc: Mapping[str, Any], order: tuple[str, ...], how: Mapping[str, Any], language: str) -> dict[str, Any]:
    return {key: how.get(key, _as_is)(doc[key], language) for key in order
            if key in doc and (doc[key] or key in _REQUIRED)}


def guide_yaml(doc: Mapping[str, Any]) -> str:
    """The canonical YAML file of one canonical guide document (see the module docstring)."""
    language = doc.get("language", "en")
    steps = {sid: _fields(doc["steps"][sid], STEP_ORDER, _STEP_VALUES, language) for sid in _step_order(doc)}
    out = _fields({**doc, "language": language, "steps": {}}, GUIDE_ORDER, _GUIDE_VALUES, language)
    out["steps"] = steps
    return _dump(out)


def settings_yaml(settings: Mapping[str, Any]) -> str:
    """The canonical `_library.yaml` of a canonical settings document (SETTINGS_ORDER)."""
    out: dict[str, Any] = {}
    synonyms = settings.get("synonyms") or {}
    if synonyms:
        out["synonyms"] = {lang: [_Words(group) for group in synonyms[lang]] for lang in sorted(synonyms)}
    if settings.get("categories"):
        out["categories"] = [{key: dict(c[key]) if key == "title" else c[key] for key in CATEGORY_ORDER if c.get(key)}
                             for c in settings["categories"]]
    if settings.get("help"):
        # text always as a mapping: a plain string in _library.yaml reads as English, whatever
        # language the guides are in
        out["help"] = [{key: dict(place[key]) if key == "text" else place[key]
                        for key in HELP_PLACE_ORDER if place.get(key)} for place in settings["help"]]
    return _dump(out)


# --- the folder ----------------------------------------------------------------------------------


def _climb(rel: str) -> int:
    """How many folders an image path climbs above its guide file's folder."""
    parts = posixpath.normpath(rel).split("/")
    up = 0
    while up < len(parts) and parts[up] == "..":
        up += 1
    return up


def _layout(documents: list[Mapping[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """(guide id -> its file, image file -> sha256): every guide at the root unless its images need
    a folder of its own (see the module docstring). Raises ExportError for content no folder
    can hold as written."""
    guide_files: dict[str, str] = {}
    image_files: dict[str, str] = {}
    for doc in sorted(documents, key=lambda d: d["id"]):
        gid, named = doc["id"], dict(doc.get("images") or {})
        for rel in named:
            if rel.startswith("/") or "\\" in rel or (len(rel) > 1 and rel[1] == ":"):
                raise ExportError(f"guide '{gid}' names image '{rel}' by a path that is not relative to its "
                                  "file; it cannot be written as a library folder")
        climb = max(map(_climb, named), default=0)
        candidates = ([] if climb else [""]) + ["/".join([gid] + ["_"] * max(climb - 1, 0))]
        for folder in candidates:
            placed = {posixpath.normpath(posixpath.join(folder, rel)): digest for rel, digest in named.items()}
            if all(image_files.get(p, d) == d for p, d in placed.items()):
                break
        else:
            raise ExportError(f"guide '{gid}' names images at paths other guides use for different images; "
                              "it cannot be written beside them")
        guide_file = posixpath.join(folder, f"{gid}.yaml") if folder else f"{gid}.yaml"
        guide_files[gid] = guide_file
        image_files.update(placed)
    taken = set(guide_files.values()) | {SETTINGS_FILE}
    clash = sorted(taken & set(image_files))
    if clash or any(p.endswith((".yaml", ".yml")) for p in image_files):
        bad = clash[0] if clash else next(p for p in image_files if p.endswith((".yaml", ".yml")))
        raise ExportError(f"an image is named '{bad}', a guide file's name; it cannot be written as a library "
                          "folder")
    return guide_files, image_files


def _clear(folder: Path) -> None:
    """Remove what a library holds (guide files, images) from `folder`, leaving hidden entries (.git)
    and other files alone, then the folders that became empty."""
    for current, dirs, names in os.walk(folder, topdown=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if not name.startswith(".") and name.lower().endswith(LIBRARY_SUFFIXES):
                os.unlink(Path(current) / name)
    for current, dirs, _ in sorted(os.walk(folder), key=lambda w: -len(w[0])):
        if Path(current) != folder and not Path(current).name.startswith(".") and not any(Path(current).iterdir()):
            os.rmdir(current)


def prepare_folder(folder: str | Path, force: bool = False) -> Path:
    """`folder` made ready to write a library into: created when missing; an existing one must be
    empty, unless `force`, which clears the library files in it (see _clear)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"{folder} is a file, not a folder")
    if folder.is_dir():
        entries = sorted(p.name for p in folder.iterdir())
        if entries and not force:
            shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
            raise ExportError(f"{folder} is not empty ({len(entries)} entries: {shown}); export into an empty "
                              "or new folder, or give --force to replace the guide files and images in it")
        if entries:
            _clear(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_library(folder: str | Path, documents: Iterable[Mapping[str, Any]], images: Mapping[str, bytes],
                  settings: Mapping[str, Any] | None = None, *, force: bool = False) -> WrittenLibrary:
    """Write a library folder (see the module docstring). `folder` is created when missing and must
    be empty, unless `force`: then the guide files and images in it are replaced and anything
    else (README.md, .git) is left. Raises ExportError, before writing anything, when the folder
    is not empty, an image is missing or the content cannot be laid out as files."""
    documents = list(documents)
    ids = [doc["id"] for doc in documents]
    if len(set(ids)) != len(ids):
        raise ExportError("two guide documents have the same id; a library holds each guide once")
    guide_files, image_files = _layout(documents)
    missing = sorted({d for d in image_files.values() if d not in images})
    if missing:
        raise ExportError(f"{len(missing)} image(s) the guides name are not available (first: {missing[0]})")
    for path, digest in image_files.items():
        if hashlib.sha256(images[digest]).hexdigest() != digest:
            raise ExportError(f"the bytes given for image '{path}' do not have its sha256 {digest}")
    root = prepare_folder(folder, force)
    for rel in [*guide_files.values(), *image_files]:
        _inside(root, rel)
    written = WrittenLibrary(root)
    by_id = {doc["id"]: doc for doc in documents}
    for gid, rel in sorted(guide_files.items()):
        _write(root, rel, guide_yaml(by_id[gid]).encode())
        written.guide_files[gid] = rel
    for rel, digest in sorted(image_files.items()):
        _write(root, rel, images[digest])
        written.image_files[rel] = digest
    if settings:
        _write(root, SETTINGS_FILE, settings_yaml(settings).encode())
        written.settings_file = SETTINGS_FILE
    return written


def _inside(root: Path, rel: str) -> None:
    """A folder link left in the target (images -> /somewhere) must not carry a file out of it."""
    parent = (root / rel).parent
    while not parent.exists() and parent != root:
        parent = parent.parent
    if not Path(os.path.realpath(parent)).is_relative_to(os.path.realpath(root)):
        raise ExportError(f"{root / rel} would be written outside {root} (a folder in it is a link); "
                          "export into an empty folder")


def _write(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():
        path.unlink()
    with open(path, "wb") as f:
        f.write(data)


