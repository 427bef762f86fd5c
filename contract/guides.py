"""The guide library format, held as dataclasses: guides, steps, choices, a library, and the
problems validation reports. Reading YAML is contract/yaml_reading.py; turning files into a
validated Library is contract/validation.py.

This package is the one place that knows the file format in ../shared/DESIGN.md. The kiosk's
`kiosk import`, the server's `publish` and `validate` and the sync client all go through it, so a
library is judged by one set of rules wherever it travels.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import reprlib
from dataclasses import dataclass, field
from typing import Any

from contract.canonical import canonical_json
from contract.limits import MAX_GUIDE_FILE_BYTES, MAX_IMAGE_BYTES, MAX_SHOWN_CHARS  # noqa: F401 - re-exported

GUIDE_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
STEP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
OUTCOMES = ("resolved", "escalate")
GUIDE_FIELDS = {"id", "language", "title", "category", "keywords", "start", "steps", "help", "icon"}
STEP_FIELDS = {"text", "image", "image_alt", "choices", "end"}
CHOICE_FIELDS = {"label", "next", "guide"}
DEFAULT_CATEGORY = {"en": "General"}

# Numbers and dates written where text belongs (`label: 2026`) are read as the text they show.
SCALARS_AS_TEXT = (int, float, datetime.date)

_REPR = reprlib.Repr()  # keyword arguments need Python 3.12
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxtuple, _REPR.maxset = 2, 4, 4, 4, 4
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = MAX_SHOWN_CHARS


def shown(value: Any, limit: int = MAX_SHOWN_CHARS) -> str:
    """`value` as a problem message may quote it: at most `limit` characters, whatever it is.
    reprlib looks at a few items of a few levels only, so even an alias bomb costs nothing to
    show (formatting one in full once took 38 s and gigabytes)."""
    text = value[: limit * 2] if isinstance(value, str) else _REPR.repr(value)
    # Surrogates (a file name that was not UTF-8) cannot travel in JSON or print to a UTF-8 terminal.
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# A text field: language code -> string. Plain strings in a file become {guide.language: text}.
Text = dict[str, str]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a library, worded for the staff member who wrote it."""

    file: str
    message: str
    step: str | None = None
    line: int | None = None

    def __post_init__(self) -> None:
        # The last guard: whatever a check put in, a problem stays short and printable.
        object.__setattr__(self, "file", shown(self.file, 300))
        object.__setattr__(self, "message", shown(self.message, 600))
        if self.step is not None:
            object.__setattr__(self, "step", shown(self.step, 100))

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}"
        if self.step:
            where += f" (step '{self.step}')"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "step": self.step, "line": self.line, "message": self.message}


class LibraryInvalid(Exception):
    """Raised with every problem found, so nothing of an invalid library is used."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the guide library:\n" + self.report())

    def report(self) -> str:
        return "\n".join(f"  - {p}" for p in self.problems)


@dataclass(frozen=True)
class Choice:
    label: Text
    next: str | None = None  # a step of the same guide
    guide: str | None = None  # or another guide's start


@dataclass(frozen=True)
class Step:
    id: str
    text: Text
    image: str | None = None  # path relative to the guide file, e.g. images/belt.png
    choices: tuple[Choice, ...] = ()
    end: str | None = None  # resolved | escalate on an outcome step
    # what the image shows, in words (spoken in audio mode); optional, and left out of the
    # canonical form when unset, so a guide without it keeps its digest
    image_alt: Text | None = None

    @property
    def is_outcome(self) -> bool:
        return self.end is not None


@dataclass(frozen=True)
class Guide:
    id: str
    language: str
    title: Text
    category: Text
    keywords: dict[str, tuple[str, ...]]
    start: str
    steps: dict[str, Step]
    # relative image path -> sha256 of its bytes; the bytes themselves live in Library.images
    images: dict[str, str] = field(default_factory=dict)
    source: str = ""
    # optional: where a person who can help with this guide's subject is found (per language);
    # left out of the canonical form when unset, so existing guides keep their digests
    help: Text = field(default_factory=dict)
    # optional: a pictogram's name (contract/icons.py), drawn on its buttons and step heading;
    # left out of the canonical form when unset, so existing guides keep their digests
    icon: str | None = None

    @property
    def languages(self) -> list[str]:
        """Languages in which the whole guide reads without falling back."""
        langs = set(self.title)
        for step in self.steps.values():
            langs &= set(step.text)
            for choice in step.choices:
                langs &= set(choice.label)
        return sorted(langs, key=lambda lang: (lang != self.language, lang))

    def to_dict(self) -> dict[str, Any]:
        """The canonical form: what the server publishes and the kiosk stores."""
        steps = {}
        for step in self.steps.values():
            doc: dict[str, Any] = {"text": dict(step.text)}
            if step.image:
                doc["image"] = step.image
            if step.image_alt:
                doc["image_alt"] = dict(step.image_alt)
            if step.choices:
                doc["choices"] = [
                    {"label": dict(c.label), **({"next": c.next} if c.next else {"guide": c.guide})}
                    for c in step.choices
                ]
            if step.end:
                doc["end"] = step.end
            steps[step.id] = doc
        return {
            "id": self.id,
            "language": self.language,
            "title": dict(self.title),
            "category": dict(self.category),
            "keywords": {lang: list(words) for lang, words in self.keywords.items()},
            "start": self.start,
            "steps": steps,
            "images": dict(self.images),
            **({"help": dict(self.help)} if self.help else {}),
            **({"icon": self.icon} if self.icon else {}),
        }

    def canonical_json(self) -> bytes:
        return canonical_json(self.to_dict())

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical_json()).hexdigest()

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Guide:
        """Rebuild a guide from its canonical form (already validated where it was published)."""
        steps = {}
        for step_id, s in doc["steps"].items():
            choices = tuple(
                Choice(label=dict(c["label"]), next=c.get("next"), guide=c.get("guide"))
                for c in s.get("choices", [])
            )
            alt = s.get("image_alt")
            steps[step_id] = Step(step_id, dict(s["text"]), s.get("image"), choices, s.get("end"),
                                  dict(alt) if alt else None)
        return cls(
            id=doc["id"],
            language=doc.get("language", "en"),
            title=dict(doc["title"]),
            category=dict(doc.get("category") or DEFAULT_CATEGORY),
            keywords={lang: tuple(words) for lang, words in doc.get("keywords", {}).items()},
            start=doc["start"],
            steps=steps,
            images=dict(doc.get("images", {})),
            help=dict(doc.get("help") or {}),
            icon=doc.get("icon") or None,
        )


@dataclass(frozen=True)
class HelpPlace:
    """Where a person can be found (`help:` in `_library.yaml`): at one site (kiosk.toml's `site`)
    or any, for one guide or any."""

    text: Text
    site: str | None = None
    guide: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**({"guide": self.guide} if self.guide else {}), **({"site": self.site} if self.site else {}),
                "text": dict(self.text)}


@dataclass(frozen=True)
class CategorySetting:
    """A category as `_library.yaml` names it (`categories:`): its title per language and its
    icon. It matches the guides whose category reads the same in the library's default language
    (English, else the first language it has); contract/library_settings.py checks it."""

    title: Text
    icon: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"title": dict(self.title), **({"icon": self.icon} if self.icon else {})}


@dataclass(frozen=True)
class LibrarySettings:
    """A library's `_library.yaml` (read and checked by contract/library_settings.py): the site's
    search synonyms, {language: ((term, term, ...), ...)}, and where a person can be found."""

    synonyms: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    help: tuple[HelpPlace, ...] = ()
    categories: tuple[CategorySetting, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.synonyms or self.help or self.categories)

    @property
    def synonym_groups(self) -> int:
        return sum(map(len, self.synonyms.values()))

    def to_dict(self) -> dict[str, Any]:
        """The canonical document; empty settings are {} (and are left out of the digest), and a
        setting left unset is left out (a library with synonyms only keeps its digest)."""
        out: dict[str, Any] = {}
        if self.synonyms:
            out["synonyms"] = {lang: [list(group) for group in groups]
                               for lang, groups in sorted(self.synonyms.items())}
        if self.help:
            out["help"] = [place.to_dict() for place in self.help]
        if self.categories:
            out["categories"] = [category.to_dict() for category in self.categories]
        return out

    @classmethod
    def from_dict(cls, doc: dict[str, Any] | None) -> LibrarySettings:
        doc = doc or {}
        return cls({lang: tuple(tuple(g) for g in groups) for lang, groups in doc.get("synonyms", {}).items()},
                   tuple(HelpPlace(dict(p["text"]), p.get("site"), p.get("guide")) for p in doc.get("help", [])),
                   tuple(CategorySetting(dict(c["title"]), c.get("icon")) for c in doc.get("categories", [])))

    @property
    def sha256(self) -> str | None:
        return hashlib.sha256(canonical_json(self.to_dict())).hexdigest() if self else None


@dataclass
class Library:
    guides: dict[str, Guide]
    images: dict[str, bytes]  # sha256 -> bytes, every image any guide names
    root: str = ""
    # _library.yaml (contract/library_settings.py); empty when the library has none.
    settings: LibrarySettings = field(default_factory=lambda: LibrarySettings())

    def __len__(self) -> int:
        return len(self.guides)


def pick(text: Text, lang: str, default: str) -> str:
    """The text in `lang`, else in the guide's default language, else any: never blank on screen."""
    if lang in text:
        return text[lang]
    base = lang.split("-")[0]
    if base in text:
        return text[base]
    if default in text:
        return text[default]
    return next(iter(text.values()), "")


def category_key(title: Text, language: str) -> str:
    """A category's stable key: its text in English, else in `language`, slugged. The kiosk's
    store groups guides by it, and a `_library.yaml` category names the guides' category by it."""
    name = pick(title, "en", language).casefold()
    return re.sub(r"[^\w]+", "-", name).strip("-") or "general"


def image_kind(data: bytes) -> str | None:
    """The image's real type from its first bytes; a renamed GIF is not a PNG."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    return None
