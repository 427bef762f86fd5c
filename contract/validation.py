"""Validation: a folder of guide files (or the canonical documents a server serves) becomes a
Library only when every guide is sound.

Validation never stops at the first problem: staff fix a library in one pass, so every problem
is collected (file, step, plain sentence) and raised together as `LibraryInvalid`.
"""

from __future__ import annotations

import hashlib
from collections import deque
from pathlib import Path
from typing import Any

from contract.guides import (
    CHOICE_FIELDS,
    DEFAULT_CATEGORY,
    GUIDE_FIELDS,
    GUIDE_ID,
    LANGUAGE,
    MAX_IMAGE_BYTES,
    OUTCOMES,
    SCALARS_AS_TEXT,
    STEP_FIELDS,
    STEP_ID,
    Choice,
    Guide,
    Library,
    LibraryInvalid,
    Problem,
    Step,
    Text,
    image_kind,
)
from contract.yaml_reading import read_yaml

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
        if isinstance(value, SCALARS_AS_TEXT):
            value = {self.language: str(value)}
        if not isinstance(value, dict) or not value:
            self.problem(f"{what} must be text, or a list of translations like {{en: ..., es: ...}}", step)
            return None
        out: Text = {}
        for lang, words in value.items():
            if not isinstance(lang, str) or not LANGUAGE.match(lang):
                self.problem(f"{what} has '{lang}', which is not a language code like en or pt-BR", step)
                continue
            if isinstance(words, SCALARS_AS_TEXT):
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
            if not isinstance(words, list) or not all(isinstance(w, (str, *SCALARS_AS_TEXT)) for w in words):
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
        doc = read_yaml(file, name, problems)
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
