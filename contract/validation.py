"""Validation: a folder of guide files (or the canonical documents a server serves) becomes a
Library only when every guide is sound.

Validation never stops at the first problem: staff fix a library in one pass, so every problem
is collected (file, step, plain sentence) and raised together as `LibraryInvalid`.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract.guides import (
    CHOICE_FIELDS,
    DEFAULT_CATEGORY,
    GUIDE_FIELDS,
    GUIDE_ID,
    LANGUAGE,
    OUTCOMES,
    SCALARS_AS_TEXT,
    STEP_FIELDS,
    STEP_ID,
    Choice,
    Guide,
    Library,
    LibraryInvalid,
    LibrarySettings,
    Problem,
    Step,
    Text,
    shown,
)
from contract.icons import icon_problem
from contract.images import ImageRefused, check_image
from contract.library_settings import FILE_NAME as SETTINGS_FILE
from contract.library_settings import parse_settings
from contract.limits import (
    MAX_ID_LENGTH,
    MAX_IMAGE_BYTES,
    MAX_LIBRARY_BYTES,
    MAX_LIBRARY_ENTRIES,
    MAX_PROBLEMS,
)
from contract.yaml_reading import read_yaml

# Where a guide document that did not come from a folder finds its images: a relative path gives
# (sha256, bytes) of an image already checked with check_image, or why not (the end of a sentence).
ImageLookup = Callable[[str], "tuple[str, bytes] | str"]


class _Budget:
    """What one library read so far, against MAX_LIBRARY_BYTES, and the images already checked
    (a picture shown on many steps is read and decoded once)."""

    def __init__(self, root: Path):
        self.root = root
        self.bytes = 0
        self.images: dict[str, tuple[str, bytes] | str] = {}  # real path -> (sha256, bytes) or a reason

    def spend(self, n: int) -> None:
        self.bytes += n
        if self.bytes > MAX_LIBRARY_BYTES:
            raise LibraryInvalid([Problem(str(self.root), f"holds more than {MAX_LIBRARY_BYTES // 1_000_000} MB "
                                          "of guides and images; a library is far smaller")])


def _id_problem(value: Any, what: str) -> str | None:
    """Why `value` cannot be a guide or step id, or None. Ids travel in every event, and the
    server keeps MAX_ID_LENGTH characters of them."""
    if isinstance(value, str) and len(value) > MAX_ID_LENGTH:
        return (f"{what} '{shown(value)}' is {len(value)} characters long; ids may be at most "
                f"{MAX_ID_LENGTH} characters")
    return None


# --- the graph of steps, across guides ---------------------------------------------------------


@dataclass
class _Graph:
    """Where each step of one guide file leads, as written (even when the guide has other
    problems), so the graph checks run over everything that can be judged."""

    source: str
    gid: str | None
    start: str | None  # None when the start step is missing (already reported)
    nexts: dict[str, list[str]] = field(default_factory=dict)  # step -> steps its choices lead to
    jumps: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # step -> (choice n, guide id)
    # outcome steps, and steps whose way on is broken and already reported: treated as ends, so
    # one mistake is not reported again as a trap loop
    ends: set[str] = field(default_factory=set)

    @classmethod
    def of_guide(cls, guide: Guide, problems: list[Problem]) -> _Graph:
        graph = cls(guide.source, guide.id, guide.start if guide.start in guide.steps else None)
        for step in guide.steps.values():
            graph.nexts[step.id], graph.jumps[step.id] = [], []
            if step.end:
                graph.ends.add(step.id)
            for n, choice in enumerate(step.choices, start=1):
                if choice.next in guide.steps:
                    graph.nexts[step.id].append(choice.next)
                elif choice.guide:
                    graph.jumps[step.id].append((n, choice.guide))
                else:
                    problems.append(Problem(guide.source, f"choice {n} leads to step '{shown(choice.next)}', "
                                            "which does not exist", step.id))
                    graph.ends.add(step.id)
        return graph

# --- parsing one guide file --------------------------------------------------------------------


class _GuideParser:
    """Turns one file's YAML into a Guide, noting problems instead of stopping at the first."""

    def __init__(self, doc: Any, name: str, file_dir: Path, budget: _Budget, problems: list[Problem],
                 image_lookup: ImageLookup | None = None):
        self.doc, self.name, self.file_dir, self.budget = doc, name, file_dir, budget
        self.root = Path(os.path.realpath(budget.root))
        self.problems = problems
        self.language = "en"
        self.image_lookup = image_lookup  # images from elsewhere than the folder (check_guide_documents)

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
                self.problem(f"{what} has '{shown(lang)}', which is not a language code like en or pt-BR", step)
                continue
            if isinstance(words, SCALARS_AS_TEXT):
                words = str(words)
            if not isinstance(words, str) or not words.strip():
                self.problem(f"{what} in '{shown(lang)}' is empty or not text", step)
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
                self.problem(f"keywords have '{shown(lang)}', which is not a language code like en")
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
        found = self.image_lookup(rel) if self.image_lookup else self._read_image(rel)
        if isinstance(found, str):
            self.problem(f"image '{shown(rel, 80)}' {found}", step_id)
            return None
        digest, data = found
        images[rel] = digest
        blobs[digest] = data
        return rel

    def _read_image(self, rel: str) -> tuple[str, bytes] | str:
        """(sha256, bytes) of a sound image, or why not (the end of a sentence). A path the OS
        cannot even look up (a NUL byte, a name too long, a link that loops) is the author's
        mistake, not a crash: it is reported like any other unreadable image."""
        try:
            # realpath never raises on a link loop (Path.resolve does); stat below reports it
            real = os.path.realpath(self.file_dir / rel)
        except (OSError, ValueError) as exc:
            return f"cannot be read as a file ({getattr(exc, 'strerror', None) or shown(exc)})"
        if real in self.budget.images:
            return self.budget.images[real]
        if not Path(real).is_relative_to(self.root):
            found: tuple[str, bytes] | str = "points outside the library folder"
        else:
            found = self._load_image(real)
        self.budget.images[real] = found
        return found

    def _load_image(self, real: str) -> tuple[str, bytes] | str:
        try:
            info = os.stat(real)
            if not stat.S_ISREG(info.st_mode):
                return "is not a file" if os.path.lexists(real) else "does not exist next to the guide file"
            if info.st_size > MAX_IMAGE_BYTES:
                return f"is larger than {MAX_IMAGE_BYTES // 1_000_000} MB"
            with open(real, "rb") as f:
                data = f.read(MAX_IMAGE_BYTES + 1)
        except FileNotFoundError:
            return "does not exist next to the guide file"
        except (OSError, ValueError) as exc:
            return f"cannot be read as a file ({getattr(exc, 'strerror', None) or shown(exc)})"
        if len(data) > MAX_IMAGE_BYTES:
            return f"is larger than {MAX_IMAGE_BYTES // 1_000_000} MB"
        self.budget.spend(len(data))
        try:
            check_image(data)
        except ImageRefused as exc:
            return str(exc)
        return hashlib.sha256(data).hexdigest(), data

    def parse(self, blobs: dict[str, bytes]) -> tuple[Guide | None, _Graph | None]:
        """The guide when it is sound, and its graph whenever it has steps to judge."""
        doc, before = self.doc, len(self.problems)
        if not isinstance(doc, dict):
            self.problem("must be a YAML mapping with id, title, start and steps")
            return None, None
        for key in sorted(set(map(shown, doc)) - GUIDE_FIELDS):
            self.problem(f"has an unknown field '{key}' (known fields: {', '.join(sorted(GUIDE_FIELDS))})")
        language = doc.get("language", "en")
        if not isinstance(language, str) or not LANGUAGE.match(language):
            self.problem(f"language '{shown(language)}' is not a language code like en or es")
        else:
            self.language = language
        gid = doc.get("id")
        if gid is None:
            self.problem("has no id")
        elif not isinstance(gid, str) or not GUIDE_ID.match(gid):
            self.problem(f"id '{shown(gid)}' must be lower-case letters, digits and dashes, "
                         "starting with a letter or digit")
            gid = None
        elif too_long := _id_problem(gid, "id"):
            self.problem(too_long)
            gid = None
        title = self.text(doc.get("title"), "title") if "title" in doc else self.problem("has no title")
        category = self.text(doc["category"], "category") if "category" in doc else dict(DEFAULT_CATEGORY)
        keywords = self.keywords(doc.get("keywords"))
        help_text = (self.text(doc["help"], "help") or {}) if doc.get("help") is not None else {}
        icon = doc.get("icon")
        if icon is not None and (why := icon_problem(icon)):
            self.problem(why)
        steps_doc = doc.get("steps")
        start = doc.get("start")
        if not isinstance(steps_doc, dict) or not steps_doc:
            self.problem("has no steps (steps must be a mapping of step id to step)")
            steps_doc = {}
        if start is None:
            self.problem("has no start step")
        elif (not isinstance(start, str) or start not in steps_doc) and steps_doc:
            self.problem(f"start step '{shown(start)}' does not exist")
        images: dict[str, str] = {}
        steps: dict[str, Step] = {}
        for sid, sdoc in steps_doc.items():
            step = self.step(sid, sdoc, steps_doc, images, blobs)
            if step:
                steps[step.id] = step
        graph = self.graph(gid, start if isinstance(start, str) and start in steps_doc else None, steps_doc)
        if len(self.problems) > before or not gid or not title:
            return None, graph
        return Guide(gid, self.language, title, category or dict(DEFAULT_CATEGORY), keywords, start, steps,
                     images, self.name, help=help_text, icon=icon), graph

    def graph(self, gid: str | None, start: str | None, steps_doc: dict) -> _Graph:
        """The steps' links as written; a step whose way on is broken (reported above) is an end."""
        graph = _Graph(self.name, gid, start)
        for sid, sdoc in steps_doc.items():
            if not isinstance(sid, str):
                continue
            nexts, jumps = graph.nexts.setdefault(sid, []), graph.jumps.setdefault(sid, [])
            raw = sdoc.get("choices") if isinstance(sdoc, dict) else None
            if not isinstance(sdoc, dict) or sdoc.get("end") is not None or not isinstance(raw, list) or not raw:
                graph.ends.add(sid)
                continue
            for n, cdoc in enumerate(raw, start=1):
                nxt, guide = (cdoc.get("next"), cdoc.get("guide")) if isinstance(cdoc, dict) else (None, None)
                if isinstance(nxt, str) and nxt in steps_doc and guide is None:
                    nexts.append(nxt)
                elif isinstance(guide, str) and GUIDE_ID.match(guide) and nxt is None:
                    jumps.append((n, guide))
                else:
                    graph.ends.add(sid)
        return graph

    def step(self, sid: Any, sdoc: Any, steps_doc: dict, images: dict, blobs: dict) -> Step | None:
        if not isinstance(sid, str) or not STEP_ID.match(sid):
            self.problem(f"step id '{shown(sid)}' must be letters, digits, dashes or underscores")
            return None
        if too_long := _id_problem(sid, "step id"):
            self.problem(too_long)
            return None
        if not isinstance(sdoc, dict):
            self.problem("must be a mapping with text and choices or end", sid)
            return None
        for key in sorted(set(map(shown, sdoc)) - STEP_FIELDS):
            self.problem(f"has an unknown field '{key}' (known fields: {', '.join(sorted(STEP_FIELDS))})", sid)
        text = self.text(sdoc.get("text"), "text", sid) if "text" in sdoc else self.problem("has no text", sid)
        image = self.image(sdoc.get("image"), sid, images, blobs)
        image_alt = self.text(sdoc["image_alt"], "image_alt", sid) if "image_alt" in sdoc else None
        if image_alt and "image" not in sdoc:
            self.problem("has image_alt but no image; image_alt says in words what the image shows", sid)
        end = sdoc.get("end")
        raw_choices = sdoc.get("choices")
        if end is not None and end not in OUTCOMES:
            self.problem(f"end '{shown(end)}' must be 'resolved' or 'escalate'", sid)
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
                    self.problem(f"choices {seen_labels[key]} and {n} have the same label '{shown(label)}' "
                                 f"({lang})", sid)
                seen_labels[key] = n
            choices.append(choice)
        if not text:
            return None
        return Step(sid, text, image, tuple(choices), end if end in OUTCOMES else None, image_alt)

    def choice(self, n: int, cdoc: Any, sid: str, steps_doc: dict) -> Choice | None:
        if not isinstance(cdoc, dict):
            self.problem(f"choice {n} must be a mapping with label and next (or guide)", sid)
            return None
        for key in sorted(set(map(shown, cdoc)) - CHOICE_FIELDS):
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
            self.problem(f"choice {n} leads to step '{shown(nxt)}', which does not exist", sid)
        if guide is not None and (not isinstance(guide, str) or not GUIDE_ID.match(guide)):
            self.problem(f"choice {n} leads to guide '{shown(guide)}', which is not a valid guide id", sid)
        elif too_long := _id_problem(guide, f"choice {n} leads to guide"):
            self.problem(too_long, sid)
        if not label:
            return None
        return Choice(label, nxt if isinstance(nxt, str) else None, guide if isinstance(guide, str) else None)


# --- library-wide rules ------------------------------------------------------------------------


def _check_graphs(graphs: list[_Graph], known_guides: set[str], problems: list[Problem]) -> None:
    """Reachability from each start, and an end reachable from every step, across jumps between
    guides: two guides that only jump to each other trap a customer as surely as a loop does."""
    by_id = {g.gid: g for g in graphs if g.gid}
    for graph in graphs:
        for sid, jumps in graph.jumps.items():
            for n, target in jumps:
                if target not in known_guides:
                    problems.append(Problem(graph.source, f"choice {n} leads to guide '{shown(target)}', "
                                            "which is not in the library", sid))
    # Every step of every guide is a node; a jump leads to the target guide's start. A jump to a
    # guide that cannot be judged (missing, or without a start) counts as an end: already reported.
    parents: dict[tuple[int, str], set[tuple[int, str]]] = {}
    local_parents: dict[tuple[int, str], set[tuple[int, str]]] = {}
    ends: set[tuple[int, str]] = set()
    jumpers: set[tuple[int, str]] = set()
    index = {id(g): i for i, g in enumerate(graphs)}
    for i, graph in enumerate(graphs):
        for sid in graph.nexts:
            node = (i, sid)
            if sid in graph.ends:
                ends.add(node)
            for nxt in graph.nexts[sid]:
                parents.setdefault((i, nxt), set()).add(node)
                local_parents.setdefault((i, nxt), set()).add(node)
            for _, target in graph.jumps.get(sid, ()):
                jumpers.add(node)
                other = by_id.get(target)
                if other is None or other.start is None:
                    ends.add(node)
                else:
                    parents.setdefault((index[id(other)], other.start), set()).add(node)
    can_finish = _backwards(ends, parents)
    finish_or_jump = _backwards(ends | jumpers, local_parents)
    for i, graph in enumerate(graphs):
        if graph.start is None:
            continue
        reached, queue = {graph.start}, deque([graph.start])
        while queue:
            for nxt in graph.nexts.get(queue.popleft(), ()):
                if nxt not in reached:
                    reached.add(nxt)
                    queue.append(nxt)
        for sid in graph.nexts:
            if sid not in reached:
                problems.append(Problem(graph.source, "cannot be reached from the start step", sid))
            elif (i, sid) in can_finish:
                continue
            elif (i, sid) in finish_or_jump:
                targets = sorted({t for s in graph.nexts for _, t in graph.jumps.get(s, ())})
                problems.append(Problem(graph.source, f"leads on only to other guides "
                                        f"({shown(', '.join(targets), 120)}) that never reach an end: a customer "
                                        "who gets here can never finish", sid))
            else:
                problems.append(Problem(graph.source, "is part of a loop with no way to an end: a customer "
                                        "who gets here can never finish", sid))


def _backwards(starts: set, parents: dict) -> set:
    seen, queue = set(starts), deque(starts)
    while queue:
        for parent in parents.get(queue.popleft(), ()):
            if parent not in seen:
                seen.add(parent)
                queue.append(parent)
    return seen


def _capped(problems: list[Problem], root: str) -> list[Problem]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    return [*problems[:MAX_PROBLEMS],
            Problem(root, f"has {len(problems) - MAX_PROBLEMS:,} more problems; fix these first")]


def _guide_files(root: Path, problems: list[Problem]) -> list[Path]:
    """The *.yaml files under root, walked without following folder links (a link loop cannot
    trap the walk) and counted against MAX_LIBRARY_ENTRIES."""
    files: list[Path] = []
    entries = 0

    def unreadable(exc: OSError) -> None:
        problems.append(Problem(str(exc.filename or root), f"cannot be read ({exc.strerror or shown(exc)})"))

    for folder, dirs, names in os.walk(root, onerror=unreadable):
        entries += len(dirs) + len(names)
        if entries > MAX_LIBRARY_ENTRIES:
            raise LibraryInvalid([Problem(str(root), f"holds more than {MAX_LIBRARY_ENTRIES:,} files and folders "
                                          "(entries); a library is far smaller")])
        dirs.sort()
        for name in sorted(names):
            if name.endswith((".yaml", ".yml")):
                files.append(Path(folder) / name)
    return files


def _guide_file_problem(file: Path, real_root: str) -> str | None:
    """Why a *.yaml entry is not read as a guide file, or None."""
    name = file.name
    if name != name.encode("utf-8", "surrogateescape").decode("utf-8", "replace"):
        return "has a file name that is not UTF-8 text; rename it"
    if file.is_symlink():
        real = os.path.realpath(file)
        if not Path(real).is_relative_to(real_root):
            return "is a link that points outside the library folder"
        try:
            os.stat(real)
        except OSError as exc:
            return f"is a link that cannot be followed ({exc.strerror or shown(exc)})"
    try:
        if not stat.S_ISREG(os.stat(file).st_mode):
            return "is not a plain file"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or shown(exc)})"
    return None


def _judge_guide(parser: _GuideParser, blobs: dict[str, bytes], first_file: dict[str, str], graphs: list[_Graph],
                 guides: dict[str, Guide]) -> None:
    """One guide document of a library: parsed, its id checked unique (first_file: id -> the file
    that uses it), its graph and the guide (when sound) kept for the library-wide checks."""
    doc, name = parser.doc, parser.name
    gid = doc.get("id") if isinstance(doc, dict) else None
    guide, graph = parser.parse(blobs)
    if isinstance(gid, str) and GUIDE_ID.match(gid) and len(gid) <= MAX_ID_LENGTH:
        if gid in first_file:
            parser.problem(f"uses id '{gid}', which {first_file[gid]} already uses; guide ids must be unique")
            return
        first_file[gid] = name
    if graph:
        graphs.append(graph)
    if guide:
        guides[guide.id] = guide


def load_library(path: str | Path) -> Library:
    """Load and validate a library folder. Raises LibraryInvalid listing every problem found."""
    root = Path(path)
    problems: list[Problem] = []
    if not root.is_dir():
        raise LibraryInvalid([Problem(str(root), "is not a folder of guide files")])
    files = _guide_files(root, problems)
    settings_file = root / SETTINGS_FILE
    files = [f for f in files if f != settings_file]  # never read as a guide
    if not files:
        raise LibraryInvalid([Problem(str(root), "contains no guide files (*.yaml)")])
    budget = _Budget(root)
    real_root = os.path.realpath(root)
    guides: dict[str, Guide] = {}
    graphs: list[_Graph] = []
    blobs: dict[str, bytes] = {}
    first_file: dict[str, str] = {}
    for file in files:
        name = file.relative_to(root).as_posix()
        refused = _guide_file_problem(file, real_root)
        if refused:
            problems.append(Problem(name, refused))
            continue
        before = len(problems)
        doc = read_yaml(file, name, problems, budget.spend)
        if doc is None and len(problems) > before:
            continue
        _judge_guide(_GuideParser(doc, name, file.parent, budget, problems), blobs, first_file, graphs, guides)
    _check_graphs(graphs, set(first_file), problems)
    settings = LibrarySettings()
    if os.path.lexists(settings_file):
        refused = _guide_file_problem(settings_file, real_root)
        if refused:
            problems.append(Problem(SETTINGS_FILE, refused))
        else:
            before = len(problems)
            doc = read_yaml(settings_file, SETTINGS_FILE, problems, budget.spend)
            if len(problems) == before:
                settings = parse_settings(doc, SETTINGS_FILE, problems)
    if problems:
        raise LibraryInvalid(_capped(problems, str(root)))
    return Library(guides, blobs, str(root), settings)


def library_from_documents(docs: list[dict[str, Any]], images: dict[str, bytes],
                           settings: dict[str, Any] | None = None) -> Library:
    """A library from canonical guide documents (as the server serves them), and its canonical
    `_library.yaml` settings if it has any, checked again here: the kiosk never trusts content it
    did not validate itself."""
    problems: list[Problem] = []
    library_settings = parse_settings(settings, SETTINGS_FILE, problems)
    guides = {}
    for doc in docs:
        try:
            guide = Guide.from_dict(doc)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            problems.append(Problem(shown(doc.get("id", "?")) if isinstance(doc, dict) else "?",
                                    f"is not a well-formed guide document ({shown(exc, 200)})"))
            continue
        guide = Guide(**{**guide.__dict__, "source": f"{shown(guide.id, 100)}.yaml"})
        for ident, what in [(guide.id, "id"), *((sid, "step id") for sid in guide.steps)]:
            if not isinstance(ident, str) or len(ident) > MAX_ID_LENGTH:
                problems.append(Problem(guide.source, _id_problem(ident, what) or f"{what} is not text"))
        if guide.icon is not None and (why := icon_problem(guide.icon)):
            problems.append(Problem(guide.source, why))
        for rel, digest in guide.images.items():
            if digest not in images:
                problems.append(Problem(guide.source, f"image '{shown(rel, 80)}' has not been received"))
        guides[guide.id] = guide
    graphs = []
    for guide in guides.values():
        if guide.start not in guide.steps:
            problems.append(Problem(guide.source, f"start step '{shown(guide.start)}' does not exist"))
        graphs.append(_Graph.of_guide(guide, problems))
    _check_graphs(graphs, set(guides), problems)
    if problems:
        raise LibraryInvalid(_capped(problems, "the library"))
    return Library(guides, images, settings=library_settings)


def check_guide_documents(docs: Mapping[str, Any], known_guides: set[str],
                          image_lookup: ImageLookup) -> tuple[dict[str, Guide], list[Problem]]:
    """Guide documents in the library format (file name -> the mapping its YAML reads as), judged
    by the same parser and graph checks as load_library: the content studio's drafts (server.drafts).

    A jump to a guide is checked against `known_guides` (every guide id of the library the
    documents belong to); the graph checks (reachability, a way to an end) run across the given
    documents only, a jump to any other known guide counting as a way on. So one edited guide is
    judged without reading the other 2,000; given the whole library, this is the whole check.
    Returns the sound guides and every problem (uncapped: the studio shows each on its step)."""
    problems: list[Problem] = []
    budget = _Budget(Path("."))
    guides: dict[str, Guide] = {}
    graphs: list[_Graph] = []
    first_file: dict[str, str] = {}
    blobs: dict[str, bytes] = {}
    for name, doc in docs.items():
        _judge_guide(_GuideParser(doc, name, Path("."), budget, problems, image_lookup), blobs, first_file, graphs,
                     guides)
    _check_graphs(graphs, set(known_guides) | set(first_file), problems)
    return guides, problems
