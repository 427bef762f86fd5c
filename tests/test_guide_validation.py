"""The guide format's validation: every kind of broken library is refused, with the problem named
(file, step, a plain sentence), and all problems of a library come back at once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from library_factory import GIF_BYTES, base_guides, base_images, png_bytes, write_library

from contract.guides import Library, LibraryInvalid
from contract.validation import load_library

BAGGAGE = "lost-baggage.yaml"
WIFI = "airport-wifi.yaml"


def steps_of(guides: dict, name: str = BAGGAGE) -> dict:
    return guides[name]["steps"]


@dataclass
class Broken:
    """One kind of problem: how to break the base library, and what the refusal must say."""

    name: str
    mutate: Callable[[dict, dict, Path], None]
    file: str | None  # None: the library folder itself
    phrase: str
    step: str | None = None
    line: int | None = None


def _set(path: list, value):
    """A mutation that sets guides[file][k1][k2]... = value (or deletes it when value is DELETE)."""

    def mutate(guides, images, root):
        node = guides
        for key in path[:-1]:
            node = node[key]
        if value is DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value

    return mutate


DELETE = object()


def _add_guide(name: str, doc):
    def mutate(guides, images, root):
        guides[name] = doc

    return mutate


def _replace_all(guides, images, root):
    guides.clear()


def _symlink_out(guides, images, root):
    secret = root.parent / "outside.png"
    secret.write_bytes(png_bytes())
    steps_of(guides)["arrived"]["image"] = "images/link.png"
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "images" / "link.png").symlink_to(secret)


def _escape(guides, images, root):
    (root.parent / "secret.png").write_bytes(png_bytes())
    steps_of(guides)["arrived"]["image"] = "../secret.png"


def _gif(guides, images, root):
    images["images/belt.png"] = GIF_BYTES


def _trap(guides, images, root):
    steps = steps_of(guides)
    steps["arrived"]["choices"].append({"label": "Something else", "next": "loop-a"})
    steps["loop-a"] = {"text": "Loop A", "choices": [{"label": "On", "next": "loop-b"}]}
    steps["loop-b"] = {"text": "Loop B", "choices": [{"label": "Round again", "next": "loop-a"}]}


def _dup_id(guides, images, root):
    guides["zz-copy.yaml"] = base_guides()[BAGGAGE]


def _big_file(guides, images, root):
    guides[BAGGAGE]["steps"]["arrived"]["text"] = {"en": "x" * 1_100_000}


SYNTAX_ERROR = """id: broken
title: Broken guide
start: a
steps:
  a:
    text: [unclosed, list
    end: resolved
"""
DUPLICATE_KEY = """id: twice
title: Twice
start: a
steps:
  a:
    text: First
    end: resolved
  a:
    text: Second
    end: resolved
"""

CASES = [
    Broken("bad guide id", _set([BAGGAGE, "id"], "Lost_Baggage"), BAGGAGE, "must be lower-case letters"),
    Broken("guide id starting with a dash", _set([BAGGAGE, "id"], "-baggage"), BAGGAGE, "must be lower-case"),
    Broken("missing guide id", _set([BAGGAGE, "id"], DELETE), BAGGAGE, "has no id"),
    Broken("duplicate guide id across files", _dup_id, "zz-copy.yaml", "lost-baggage.yaml already uses"),
    Broken("missing title", _set([BAGGAGE, "title"], DELETE), BAGGAGE, "has no title"),
    Broken("missing start", _set([BAGGAGE, "start"], DELETE), BAGGAGE, "has no start step"),
    Broken(
        "start names a non-existent step",
        _set([BAGGAGE, "start"], "nowhere"),
        BAGGAGE,
        "start step 'nowhere' does not exist",
    ),
    Broken(
        "next to a missing step",
        _set([BAGGAGE, "steps", "arrived", "choices", 0, "next"], "ghost"),
        BAGGAGE,
        "leads to step 'ghost', which does not exist",
        step="arrived",
    ),
    Broken(
        "guide jump to a missing guide",
        _set([BAGGAGE, "steps", "arrived", "choices", 2, "guide"], "no-such-guide"),
        BAGGAGE,
        "guide 'no-such-guide', which is not in the library",
        step="arrived",
    ),
    Broken(
        "guide jump to an invalid guide id",
        _set([BAGGAGE, "steps", "arrived", "choices", 2, "guide"], "Not A Guide"),
        BAGGAGE,
        "which is not a valid guide id",
        step="arrived",
    ),
    Broken(
        "unreachable step",
        _set([BAGGAGE, "steps", "orphan"], {"text": "Nobody comes here", "end": "resolved"}),
        BAGGAGE,
        "cannot be reached from the start step",
        step="orphan",
    ),
    Broken(
        "step with neither choices nor end",
        _set([BAGGAGE, "steps", "report", "end"], DELETE),
        BAGGAGE,
        "neither choices nor end",
        step="report",
    ),
    Broken(
        "step with both choices and end",
        _set([BAGGAGE, "steps", "arrived", "end"], "resolved"),
        BAGGAGE,
        "has both choices and end",
        step="arrived",
    ),
    Broken(
        "bad end value",
        _set([BAGGAGE, "steps", "report", "end"], "solved"),
        BAGGAGE,
        "must be 'resolved' or 'escalate'",
        step="report",
    ),
    Broken("trap loop with no reachable end", _trap, BAGGAGE, "loop with no way to an end", step="loop-a"),
    Broken(
        "duplicate choice labels",
        _set([BAGGAGE, "steps", "arrived", "choices", 1, "label"], {"en": "NO, IT NEVER CAME"}),
        BAGGAGE,
        "have the same label",
        step="arrived",
    ),
    Broken(
        "text missing the default language",
        _set([BAGGAGE, "steps", "report", "text"], {"es": "Vaya al mostrador."}),
        BAGGAGE,
        "no text in the guide's default language 'en'",
        step="report",
    ),
    Broken(
        "label missing the default language",
        _set([BAGGAGE, "steps", "arrived", "choices", 0, "label"], {"es": "No"}),
        BAGGAGE,
        "choice 1 label has no text in the guide's default language",
        step="arrived",
    ),
    Broken(
        "title missing the default language",
        _set([WIFI, "title"], {"zh": "无线网络"}),
        WIFI,
        "title has no text in the guide's default language 'en'",
    ),
    Broken(
        "empty text",
        _set([BAGGAGE, "steps", "report", "text"], {"en": "   "}),
        BAGGAGE,
        "is empty or not text",
        step="report",
    ),
    Broken(
        "step with no text",
        _set([BAGGAGE, "steps", "report", "text"], DELETE),
        BAGGAGE,
        "has no text",
        step="report",
    ),
    Broken(
        "missing image",
        _set([BAGGAGE, "steps", "arrived", "image"], "images/nope.png"),
        BAGGAGE,
        "image 'images/nope.png' does not exist",
        step="arrived",
    ),
    Broken(
        "image path with a NUL byte",
        _set([BAGGAGE, "steps", "arrived", "image"], "images/a\x00b.png"),
        BAGGAGE,
        "cannot be read as a file",
        step="arrived",
    ),
    Broken(
        "image path too long for the OS",
        _set([BAGGAGE, "steps", "arrived", "image"], "x" * 5000 + ".png"),
        BAGGAGE,
        "cannot be read as a file",
        step="arrived",
    ),
    Broken("GIF bytes named .png", _gif, BAGGAGE, "is not a PNG or JPEG picture", step="arrived"),
    Broken(
        "image path escaping the folder",
        _escape,
        BAGGAGE,
        "points outside the library folder",
        step="arrived",
    ),
    Broken(
        "image symlink escaping the folder",
        _symlink_out,
        BAGGAGE,
        "points outside the library folder",
        step="arrived",
    ),
    Broken(
        "YAML syntax error",
        _add_guide("broken.yaml", SYNTAX_ERROR),
        "broken.yaml",
        "YAML syntax error",
        line=7,
    ),
    Broken(
        "duplicate YAML key",
        _add_guide("twice.yaml", DUPLICATE_KEY),
        "twice.yaml",
        "each key may appear once",
        line=8,
    ),
    Broken(
        "non-UTF-8 file",
        _add_guide("latin1.yaml", "id: cafe\ntitle: Café\n".encode("latin-1")),
        "latin1.yaml",
        "is not UTF-8 text",
    ),
    Broken(
        "top level is a list",
        _add_guide("list.yaml", "- id: a\n- id: b\n"),
        "list.yaml",
        "must be a YAML mapping",
    ),
    Broken("empty guide file", _add_guide("empty.yaml", ""), "empty.yaml", "must be a YAML mapping"),
    Broken(
        "unknown step field (typo 'choises')",
        lambda g, i, r: steps_of(g)["arrived"].__setitem__("choises", steps_of(g)["arrived"].pop("choices")),
        BAGGAGE,
        "unknown field 'choises'",
        step="arrived",
    ),
    Broken("unknown guide field", _set([BAGGAGE, "titel"], "Typo"), BAGGAGE, "unknown field 'titel'"),
    Broken(
        "unknown choice field",
        _set([BAGGAGE, "steps", "arrived", "choices", 0, "nxt"], "report"),
        BAGGAGE,
        "choice 1 has an unknown field 'nxt'",
        step="arrived",
    ),
    Broken(
        "choice with both next and guide",
        _set([BAGGAGE, "steps", "arrived", "choices", 0, "guide"], "airport-wifi"),
        BAGGAGE,
        "has both next and guide",
        step="arrived",
    ),
    Broken(
        "choice with neither next nor guide",
        _set([BAGGAGE, "steps", "arrived", "choices", 0, "next"], DELETE),
        BAGGAGE,
        "has neither next nor guide",
        step="arrived",
    ),
    Broken(
        "choice with no label",
        _set([BAGGAGE, "steps", "arrived", "choices", 0, "label"], DELETE),
        BAGGAGE,
        "choice 1 has no label",
        step="arrived",
    ),
    Broken(
        "choice that is not a mapping",
        _set([BAGGAGE, "steps", "arrived", "choices", 0], "report"),
        BAGGAGE,
        "choice 1 must be a mapping",
        step="arrived",
    ),
    Broken(
        "choices not a list",
        _set([BAGGAGE, "steps", "arrived", "choices"], {"a": "b"}),
        BAGGAGE,
        "choices must be a list",
        step="arrived",
    ),
    Broken("empty library folder", _replace_all, None, "contains no guide files"),
    Broken(
        "bad language code",
        _set([BAGGAGE, "language"], "english"),
        BAGGAGE,
        "'english' is not a language code",
    ),
    Broken(
        "bad language key in a text",
        _set([BAGGAGE, "title", "Spanish!"], "Equipaje"),
        BAGGAGE,
        "title has 'Spanish!', which is not a language code",
    ),
    Broken("steps not a mapping", _set([BAGGAGE, "steps"], ["arrived", "report"]), BAGGAGE, "has no steps"),
    Broken(
        "step not a mapping",
        _set([BAGGAGE, "steps", "report"], "Go to the desk"),
        BAGGAGE,
        "must be a mapping with text",
        step="report",
    ),
    Broken(
        "bad step id",
        _set([BAGGAGE, "steps", "bad step!"], {"text": "x", "end": "resolved"}),
        BAGGAGE,
        "step id 'bad step!' must be letters",
    ),
    Broken(
        "keywords not a list", _set([BAGGAGE, "keywords"], "bag luggage"), BAGGAGE, "keywords must be a list"
    ),
    Broken("guide file over 1 MB", _big_file, BAGGAGE, "a guide file may be at most 1 MB"),
]


def break_library(tmp_path: Path, case: Broken) -> Path:
    root = tmp_path / "library"
    guides, images = base_guides(), base_images()
    root.mkdir()
    case.mutate(guides, images, root)
    return write_library(root, guides, images)


def test_base_library_is_valid(tmp_path):
    library = load_library(write_library(tmp_path / "library"))
    assert isinstance(library, Library)
    assert sorted(library.guides) == ["airport-wifi", "cafe-parking", "lost-baggage", "lost-passport"]
    assert len(library.images) == 3


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_broken_library_is_refused_with_the_problem_named(tmp_path, case):
    root = break_library(tmp_path, case)
    with pytest.raises(LibraryInvalid) as refused:
        load_library(root)
    problems = refused.value.problems
    expected_file = str(root) if case.file is None else case.file
    matching = [p for p in problems if p.file == expected_file and case.phrase in p.message]
    assert matching, f"no problem on {expected_file} saying {case.phrase!r}; got:\n{refused.value.report()}"
    if case.step is not None:
        assert any(p.step == case.step for p in matching), refused.value.report()
    if case.line is not None:
        assert any(p.line == case.line for p in matching), refused.value.report()
        assert f"{case.file}:{case.line}" in str(refused.value)
    # The sentence a person reads names the file (and the step) too.
    assert expected_file in str(refused.value)


def test_corpus_covers_at_least_25_kinds_of_problem():
    assert len({c.name for c in CASES}) >= 25


def test_many_problems_are_all_reported_at_once(tmp_path):
    guides, images = base_guides(), base_images()
    steps = guides[BAGGAGE]["steps"]
    steps["report"]["end"] = "solved"  # 1 bad end
    steps["damaged"]["text"] = {"es": "Muestre el daño."}  # 2 no default language
    steps["arrived"]["image"] = "images/nope.png"  # 3 missing image
    guides[WIFI]["steps"]["connect"]["choices"][0]["next"] = "ghost"  # 4 next to a missing step...
    # ... 9: which leaves 'done' unreachable: the graph checks run over the rest of the guide too
    guides[WIFI]["steps"]["staff"]["choises"] = []  # 5 unknown field
    guides["lost-passport.yaml"]["steps"]["orphan"] = {"text": "x", "end": "resolved"}  # 6 unreachable
    guides["cafe-parking.yaml"]["steps"]["pay"]["choices"] = [
        {"label": {"fr": "Encore", "en": "Again"}, "next": "pay"}
    ]  # 7 both choices and end
    guides["zz-bad.yaml"] = "id: [unclosed\n"  # 8 YAML syntax error
    with pytest.raises(LibraryInvalid) as refused:
        load_library(write_library(tmp_path / "library", guides, images))
    problems = refused.value.problems
    assert len(problems) == 9, refused.value.report()
    assert {p.file for p in problems} == {
        BAGGAGE,
        WIFI,
        "lost-passport.yaml",
        "cafe-parking.yaml",
        "zz-bad.yaml",
    }
    assert str(refused.value).startswith("9 problem(s)")


# DESIGN.md's example, copied verbatim: staff will copy it too, so it must load as written.
DESIGN_EXAMPLE = """\
id: lost-baggage                  # [a-z0-9][a-z0-9-]*, unique in the library
language: en                      # default language of plain strings; optional
title: {en: Lost or delayed baggage, es: Equipaje perdido o retrasado}
category: {en: Baggage, es: Equipaje}
keywords: [bag, luggage, suitcase, missing]   # optional; list, or {lang: [..]}
start: arrived                    # id of the first step
steps:
  arrived:
    text: {en: Did your bag come out on the baggage belt?, es: ¿Salió su maleta por la cinta?}
    image: images/belt.png        # optional
    choices:
      - {label: {en: "No, it never came", es: "No, nunca salió"}, next: report}
      - {label: {en: "Yes, but it is damaged"}, next: damaged}
      - {label: {en: "Wi-Fi help instead"}, guide: airport-wifi}   # jump to another guide's start
  report:
    text: {en: Go to the Baggage Service desk by belt 4 with your boarding pass.}
    end: resolved                 # an outcome step: resolved | escalate (needs a person)
  damaged:
    text: {en: ...}
    end: escalate
"""


def test_design_md_example_is_valid(tmp_path):
    guides = {"lost-baggage.yaml": DESIGN_EXAMPLE, "airport-wifi.yaml": base_guides()[WIFI]}
    library = load_library(write_library(tmp_path / "library", guides, base_images()))
    guide = library.guides["lost-baggage"]
    assert guide.title == {"en": "Lost or delayed baggage", "es": "Equipaje perdido o retrasado"}
    assert guide.steps["arrived"].text["en"] == "Did your bag come out on the baggage belt?"
    assert guide.steps["arrived"].text["es"] == "¿Salió su maleta por la cinta?"
    assert [c.label["en"] for c in guide.steps["arrived"].choices] == [
        "No, it never came",
        "Yes, but it is damaged",
        "Wi-Fi help instead",
    ]
    assert guide.steps["arrived"].choices[2].guide == "airport-wifi"
    assert guide.steps["report"].end == "resolved" and guide.steps["damaged"].end == "escalate"
    assert guide.keywords == {"en": ("bag", "luggage", "suitcase", "missing")}
    assert "images/belt.png" in guide.images


def test_yes_and_no_stay_words(tmp_path):
    """YAML 1.1 would read the labels Yes/No as booleans; a guide must show them as written."""
    library = load_library(write_library(tmp_path / "library"))
    labels = [c.label["en"] for c in library.guides["lost-passport"].steps["where"].choices]
    assert labels == ["Yes", "No"]
