"""The guide library format: load a folder of YAML guides, validate it, and hold it as dataclasses.

This module is the one place that knows the file format in ../shared/DESIGN.md. The kiosk's
`kiosk import`, the server's `publish` and `validate` and the sync client all go through it, so a
library is judged by one set of rules wherever it travels.

Validation never stops at the first problem: staff fix a library in one pass, so every problem
is collected (file, step, plain sentence) and raised together as `LibraryInvalid`.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from contract.canonical import canonical_json

GUIDE_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
STEP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
OUTCOMES = ("resolved", "escalate")
GUIDE_FIELDS = {"id", "language", "title", "category", "keywords", "start", "steps"}
STEP_FIELDS = {"text", "image", "choices", "end"}
CHOICE_FIELDS = {"label", "next", "guide"}
MAX_GUIDE_FILE_BYTES = 1_000_000
MAX_IMAGE_BYTES = 20_000_000
DEFAULT_CATEGORY = {"en": "General"}

# Numbers and dates written where text belongs (`label: 2026`) are read as the text they show.
_SCALARS = (int, float, datetime.date)

# A text field: language code -> string. Plain strings in a file become {guide.language: text}.
Text = dict[str, str]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a library, worded for the staff member who wrote it."""

    file: str
    message: str
    step: str | None = None
    line: int | None = None

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
            steps[step_id] = Step(step_id, dict(s["text"]), s.get("image"), choices, s.get("end"))
        return cls(
            id=doc["id"],
            language=doc.get("language", "en"),
            title=dict(doc["title"]),
            category=dict(doc.get("category") or DEFAULT_CATEGORY),
            keywords={lang: tuple(words) for lang, words in doc.get("keywords", {}).items()},
            start=doc["start"],
            steps=steps,
            images=dict(doc.get("images", {})),
        )


@dataclass
class Library:
    guides: dict[str, Guide]
    images: dict[str, bytes]  # sha256 -> bytes, every image any guide names
    root: str = ""

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


def image_kind(data: bytes) -> str | None:
    """The image's real type from its first bytes; a renamed GIF is not a PNG."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    return None


# --- YAML reading ------------------------------------------------------------------------------
# ruamel.yaml reads YAML 1.2, where `No` stays the word "No" (not False) and a plain
# "Did your bag come out?," inside {…} parses as DESIGN.md's example is written; it also refuses
# duplicate keys, so two steps called 'report' cannot silently merge into one.


def _yaml() -> YAML:
    return YAML(typ="safe", pure=True)


class _FastLoader(yaml.CSafeLoader):
    """libyaml's C parser with YAML 1.2 core-schema scalars, refusing duplicate keys.

    ruamel's pure-Python parser costs ~14 ms a guide; this costs ~1 ms. It is only a fast path:
    on anything it does not accept (a parse error, a duplicate key, an odd scalar) the file is
    read again by ruamel, whose answer, or error message, is the one that counts. Its scalar
    rules match YAML 1.2 so both readers give the same data (tests/test_guide_fuzz.py checks).
    """

    yaml_implicit_resolvers: ClassVar[dict] = {}

    def construct_mapping(self, node, deep=False):
        keys = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool, type(None))) or key in keys:
                raise yaml.constructor.ConstructorError(None, None, "duplicate or complex key", key_node.start_mark)
            keys.add(key)
        return super().construct_mapping(node, deep=deep)


for _tag, _pattern, _first in (
    # numbers written with underscores (1_000, 0_.5) have corner cases between readers: leave them
    # to ruamel (the constructor below refuses them, which sends the file down the slow path)
    ("kiosk-ambiguous", r"^[-+]?[.0-9][^ ]*_", "-+.0123456789"),
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|0b[01]+)$", "-+0123456789"),
    ("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
     "-+.0123456789"),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
):
    _FastLoader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), list(_first))
_FastLoader.add_implicit_resolver(  # dates, as ruamel reads them (a text field shows them as written)
    "tag:yaml.org,2002:timestamp", yaml.resolver.Resolver.yaml_implicit_resolvers["2"][-1][1], list("0123456789"))


def _construct_int_1_2(loader: _FastLoader, node: yaml.ScalarNode) -> int:
    value = loader.construct_scalar(node)
    if value.startswith(("0o", "0x", "0b")):
        return int(value[2:], {"o": 8, "x": 16, "b": 2}[value[1]])
    return int(value, 10)  # YAML 1.2: 010 is ten, not eight


_FastLoader.add_constructor("tag:yaml.org,2002:int", _construct_int_1_2)
_FastLoader.add_constructor("tag:yaml.org,2002:kiosk-ambiguous", lambda loader, node: int("refuse"))


def _parse_yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_FastLoader)
    except (yaml.YAMLError, ValueError, TypeError, RecursionError):
        return _yaml().load(text)


def _read_yaml(path: Path, name: str, problems: list[Problem]) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problems.append(Problem(name, f"cannot be read ({exc.strerror or exc})"))
        return None
    if len(raw) > MAX_GUIDE_FILE_BYTES:
        problems.append(Problem(name, f"is {len(raw):,} bytes; a guide file may be at most 1 MB"))
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(name, f"is not UTF-8 text (bad byte at position {exc.start}); save it as UTF-8"))
        return None
    try:
        return _parse_yaml(text)
    except DuplicateKeyError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        problems.append(Problem(name, f"YAML error: {exc.problem}; each key may appear once", line=line))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = exc.problem or exc.context or "this is not valid YAML"
        problems.append(Problem(name, f"YAML syntax error: {what}", line=line))
    except (YAMLError, ValueError, TypeError) as exc:
        problems.append(Problem(name, f"YAML error: {str(exc).splitlines()[0] if str(exc) else exc}"))
    except RecursionError:
        problems.append(Problem(name, "is nested too deeply to be a guide"))
    return None


# --- parsing one guide file --------------------------------------------------------------------


class _GuideParser:
    """Turns one file's YAML into a Guide, noting problems instead of stopping at the first."""

    def __init__(self, doc: Any, name: str, file_dir: Path, root: Path, problems: list[Problem]):
        self.doc, self.name, self.file_dir, self.root = doc, name, file_dir, root
        self.problems = problems
        self.language = "en"

    def problem(self, message: str, step: str | None = None) -> None:
        self.problems.append(Problem(self.name, message, step))

    def text(self, value: Any, what: str, step: str | None = None) -> Text | None:
        if isinstance(value, str):
            value = {self.language: value}
        if isinstance(value, _SCALARS):
            value = {self.language: str(value)}
        if not isinstance(value, dict) or not value:
            self.problem(f"{what} must be text, or a list of translations like {{en: ..., es: ...}}", step)
            return None
        out: Text = {}
        for lang, words in value.items():
            if not isinstance(lang, str) or not LANGUAGE.match(lang):
                self.problem(f"{what} has '{lang}', which is not a language code like en or pt-BR", step)
                continue
            if isinstance(words, _SCALARS):
                words = str(words)
            if not isinstance(words, str) or not words.strip():
                self.problem(f"{what} in '{lang}' is empty or not text", step)
                continue
            out[lang] = words.strip()
        if out and self.language not in out:
            self.problem(
                f"{what} has no text in the guide's default language '{self.language}' "
                f"(it has {', '.join(sorted(out))})",
                step,
            )
        return out or None

    def keywords(self, value: Any) -> dict[str, tuple[str, ...]]:
        if value is None:
            return {}
        if isinstance(value, list):
            value = {self.language: value}
        if not isinstance(value, dict):
            self.problem("keywords must be a list of words, or {language: [words]}")
            return {}
        out = {}
        for lang, words in value.items():
            if not isinstance(lang, str) or not LANGUAGE.match(lang):
                self.problem(f"keywords have '{lang}', which is not a language code like en")
                continue
            if not isinstance(words, list) or not all(isinstance(w, (str, *_SCALARS)) for w in words):
                self.problem(f"keywords in '{lang}' must be a list of words")
                continue
            out[lang] = tuple(str(w).strip() for w in words if str(w).strip())
        return out

    def image(self, value: Any, step_id: str, images: dict[str, str], blobs: dict[str, bytes]) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem("image must be a file path like images/belt.png", step_id)
            return None
        rel = value.strip()
        # A path the OS cannot even look up (a NUL byte, a name too long) is the author's typo,
        # not a crash: it is reported like any other missing image.
        try:
            path = (self.file_dir / rel).resolve()
            if not path.is_relative_to(self.root.resolve()):
                self.problem(f"image '{rel}' points outside the library folder", step_id)
                return None
            if not path.is_file():
                self.problem(f"image '{rel}' does not exist next to the guide file", step_id)
                return None
            if path.stat().st_size > MAX_IMAGE_BYTES:
                self.problem(f"image '{rel}' is larger than 20 MB", step_id)
                return None
            data = path.read_bytes()
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            self.problem(f"image '{rel[:80]}' cannot be read as a file ({reason})", step_id)
            return None
        if image_kind(data) is None:
            self.problem(f"image '{rel}' is not a PNG or JPEG picture", step_id)
            return None
        digest = hashlib.sha256(data).hexdigest()
        images[rel] = digest
        blobs[digest] = data
        return rel

    def parse(self, blobs: dict[str, bytes]) -> Guide | None:
        doc, before = self.doc, len(self.problems)
        if not isinstance(doc, dict):
            self.problem("must be a YAML mapping with id, title, start and steps")
            return None
        for key in sorted(set(map(str, doc)) - GUIDE_FIELDS):
            self.problem(f"has an unknown field '{key}' (known fields: {', '.join(sorted(GUIDE_FIELDS))})")
        language = doc.get("language", "en")
        if not isinstance(language, str) or not LANGUAGE.match(language):
            self.problem(f"language '{language}' is not a language code like en or es")
        else:
            self.language = language
        gid = doc.get("id")
        if gid is None:
            self.problem("has no id")
        elif not isinstance(gid, str) or not GUIDE_ID.match(gid):
            self.problem(f"id '{gid}' must be lower-case letters, digits and dashes, starting with a letter or digit")
            gid = None
        title = self.text(doc.get("title"), "title") if "title" in doc else self.problem("has no title")
        category = self.text(doc["category"], "category") if "category" in doc else dict(DEFAULT_CATEGORY)
        keywords = self.keywords(doc.get("keywords"))
        steps_doc = doc.get("steps")
        start = doc.get("start")
        if not isinstance(steps_doc, dict) or not steps_doc:
            self.problem("has no steps (steps must be a mapping of step id to step)")
            steps_doc = {}
        if start is None:
            self.problem("has no start step")
        elif (not isinstance(start, str) or start not in steps_doc) and steps_doc:
            self.problem(f"start step '{start}' does not exist")
        images: dict[str, str] = {}
        steps: dict[str, Step] = {}
        for sid, sdoc in steps_doc.items():
            step = self.step(sid, sdoc, steps_doc, images, blobs)
            if step:
                steps[step.id] = step
        if len(self.problems) > before or not gid or not title:
            return None
        return Guide(gid, self.language, title, category or dict(DEFAULT_CATEGORY), keywords, start, steps,
                     images, self.name)

    def step(self, sid: Any, sdoc: Any, steps_doc: dict, images: dict, blobs: dict) -> Step | None:
        if not isinstance(sid, str) or not STEP_ID.match(sid):
            self.problem(f"step id '{sid}' must be letters, digits, dashes or underscores")
            return None
        if not isinstance(sdoc, dict):
            self.problem("must be a mapping with text and choices or end", sid)
            return None
        for key in sorted(set(map(str, sdoc)) - STEP_FIELDS):
            self.problem(f"has an unknown field '{key}' (known fields: {', '.join(sorted(STEP_FIELDS))})", sid)
        text = self.text(sdoc.get("text"), "text", sid) if "text" in sdoc else self.problem("has no text", sid)
        image = self.image(sdoc.get("image"), sid, images, blobs)
        end = sdoc.get("end")
        raw_choices = sdoc.get("choices")
        if end is not None and end not in OUTCOMES:
            self.problem(f"end '{end}' must be 'resolved' or 'escalate'", sid)
        if end is not None and raw_choices:
            self.problem("has both choices and end; an outcome step ends the guide and has no choices", sid)
        if end is None and not raw_choices:
            self.problem("has neither choices nor end, so a customer would be stuck here", sid)
        choices = []
        if raw_choices is not None and not isinstance(raw_choices, list):
            self.problem("choices must be a list", sid)
            raw_choices = []
        seen_labels: dict[tuple[str, str], int] = {}
        for n, cdoc in enumerate(raw_choices or [], start=1):
            choice = self.choice(n, cdoc, sid, steps_doc)
            if not choice:
                continue
            for lang, label in choice.label.items():
                key = (lang, label.casefold())
                if key in seen_labels:
                    self.problem(f"choices {seen_labels[key]} and {n} have the same label '{label}' ({lang})", sid)
                seen_labels[key] = n
            choices.append(choice)
        if not text:
            return None
        return Step(sid, text, image, tuple(choices), end if end in OUTCOMES else None)

    def choice(self, n: int, cdoc: Any, sid: str, steps_doc: dict) -> Choice | None:
        if not isinstance(cdoc, dict):
            self.problem(f"choice {n} must be a mapping with label and next (or guide)", sid)
            return None
        for key in sorted(set(map(str, cdoc)) - CHOICE_FIELDS):
            self.problem(f"choice {n} has an unknown field '{key}' (use label, next or guide)", sid)
        label = self.text(cdoc.get("label"), f"choice {n} label", sid) if "label" in cdoc else None
        if "label" not in cdoc:
            self.problem(f"choice {n} has no label", sid)
        nxt, guide = cdoc.get("next"), cdoc.get("guide")
        if nxt is not None and guide is not None:
            self.problem(f"choice {n} has both next and guide; it can lead to one place only", sid)
        elif nxt is None and guide is None:
            self.problem(f"choice {n} has neither next nor guide, so it leads nowhere", sid)
        if nxt is not None and (not isinstance(nxt, str) or nxt not in steps_doc):
            self.problem(f"choice {n} leads to step '{nxt}', which does not exist", sid)
        if guide is not None and (not isinstance(guide, str) or not GUIDE_ID.match(guide)):
            self.problem(f"choice {n} leads to guide '{guide}', which is not a valid guide id", sid)
        if not label:
            return None
        return Choice(label, nxt if isinstance(nxt, str) else None, guide if isinstance(guide, str) else None)


# --- library-wide rules ------------------------------------------------------------------------


def _check_graph(guide: Guide, known_guides: set[str], problems: list[Problem]) -> None:
    """Reachability from start, and an end reachable from every step (no trap loops)."""
    for step in guide.steps.values():
        for n, choice in enumerate(step.choices, start=1):
            if choice.guide and choice.guide not in known_guides:
                problems.append(Problem(guide.source, f"choice {n} leads to guide '{choice.guide}', "
                                        "which is not in the library", step.id))
    reached, queue = {guide.start}, deque([guide.start])
    while queue:
        for choice in guide.steps[queue.popleft()].choices:
            if choice.next in guide.steps and choice.next not in reached:
                reached.add(choice.next)
                queue.append(choice.next)
    for sid in guide.steps:
        if sid not in reached:
            problems.append(Problem(guide.source, "cannot be reached from the start step", sid))
    # Walk backwards from every exit (an outcome, or a jump to another guide, which is checked on its own).
    parents: dict[str, set[str]] = {sid: set() for sid in guide.steps}
    exits = deque()
    for step in guide.steps.values():
        if step.end or any(c.guide for c in step.choices):
            exits.append(step.id)
        for choice in step.choices:
            if choice.next in parents:
                parents[choice.next].add(step.id)
    can_finish = set(exits)
    while exits:
        for parent in parents[exits.popleft()]:
            if parent not in can_finish:
                can_finish.add(parent)
                exits.append(parent)
    for sid in guide.steps:
        if sid in reached and sid not in can_finish:
            problems.append(Problem(guide.source, "is part of a loop with no way to an end: a customer "
                                    "who gets here can never finish", sid))


def load_library(path: str | Path) -> Library:
    """Load and validate a library folder. Raises LibraryInvalid listing every problem found."""
    root = Path(path)
    problems: list[Problem] = []
    if not root.is_dir():
        raise LibraryInvalid([Problem(str(root), "is not a folder of guide files")])
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        raise LibraryInvalid([Problem(str(root), "contains no guide files (*.yaml)")])
    guides: dict[str, Guide] = {}
    blobs: dict[str, bytes] = {}
    first_file: dict[str, str] = {}
    for file in files:
        name = file.relative_to(root).as_posix()
        doc = _read_yaml(file, name, problems)
        if doc is None and problems and problems[-1].file == name:
            continue
        gid = doc.get("id") if isinstance(doc, dict) else None
        guide = _GuideParser(doc, name, file.parent, root, problems).parse(blobs)
        if isinstance(gid, str) and GUIDE_ID.match(gid):
            if gid in first_file:
                problems.append(Problem(name, f"uses id '{gid}', which {first_file[gid]} already uses; "
                                        "guide ids must be unique"))
                continue
            first_file[gid] = name
        if guide:
            guides[guide.id] = guide
    for guide in guides.values():
        _check_graph(guide, set(first_file), problems)
    if problems:
        raise LibraryInvalid(problems)
    return Library(guides, blobs, str(root))


def library_from_documents(docs: list[dict[str, Any]], images: dict[str, bytes]) -> Library:
    """A library from canonical guide documents (as the server serves them), checked again here:
    the kiosk never trusts content it did not validate itself."""
    problems: list[Problem] = []
    guides = {}
    for doc in docs:
        try:
            guide = Guide.from_dict(doc)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            problems.append(Problem(str(doc.get("id", "?") if isinstance(doc, dict) else "?"),
                                    f"is not a well-formed guide document ({exc})"))
            continue
        guide = Guide(**{**guide.__dict__, "source": f"{guide.id}.yaml"})
        for rel, digest in guide.images.items():
            if digest not in images:
                problems.append(Problem(guide.source, f"image '{rel}' has not been received"))
        guides[guide.id] = guide
    for guide in guides.values():
        if guide.start not in guide.steps:
            problems.append(Problem(guide.source, f"start step '{guide.start}' does not exist"))
            continue
        _check_graph(guide, set(guides), problems)
    if problems:
        raise LibraryInvalid(problems)
    return Library(guides, images)
