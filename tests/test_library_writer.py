"""contract/library_writer.py: whatever the content, the folder it writes reads back (with the
validator `kiosk import` and `publish` run) as the same content, the same digest; and it never
writes over a folder staff did not give it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from contract.digest import library_digest
from contract.guides import Choice, Guide, Library, LibrarySettings, Step
from contract.library_writer import ExportError, guide_yaml, write_library
from contract.validation import load_library

# Values YAML would read as something else, or that need quoting or a block to survive.
AWKWARD = ["No", "yes", "off", "null", "~", "0800", "1.50", "1e3", "0o17", "2026-12-02", "- a dash", "# hash",
           "key: value", "'single'", '"double"', "[list]", "{map}", "@at", "%percent", "`tick", "!tag", "&anchor",
           "*alias", "|", ">", "a\nb", "two\n\nparagraphs", "trailing  \nspaces", "tab\there", "ünïcødé", "行李",
           "أمتعة مفقودة", "emoji 🧳", "a, b", "ends with colon:", "?", "-", "…", "nbsp\u00a0inside",
           "line\u2028separator", "zero\u200bwidth", "bom\ufeffinside", "x" * 300]


def _png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(out, format="PNG")
    return out.getvalue()


def _library_of(texts: list[str], step_ids: list[str]) -> Library:
    steps, ids = {}, [*step_ids, "end"]
    for n, sid in enumerate(step_ids):
        label = {"en": texts[(n + 1) % len(texts)], "es": texts[(n + 2) % len(texts)]}
        steps[sid] = Step(sid, {"en": texts[n % len(texts)]}, choices=(Choice(label, next=ids[n + 1]),))
    steps["end"] = Step("end", {"en": texts[-1], "fr": texts[0]}, end="escalate")
    guide = Guide("awkward", "en", {"en": texts[0], "de": texts[-1]}, {"en": texts[1 % len(texts)]},
                  {"en": tuple(texts[:3]), "zh": (texts[-1],)}, step_ids[0], steps)
    synonyms = LibrarySettings({"en": (tuple(texts[:2]) if len(set(texts[:2])) == 2 else ("a", "b"),)})
    return Library({guide.id: guide}, {}, settings=synonyms)


def _round_trip(library: Library, folder: Path) -> Library:
    write_library(folder, [g.to_dict() for g in library.guides.values()], library.images,
                  library.settings.to_dict())
    return load_library(folder)


def test_awkward_texts_and_step_ids_read_back_as_written(tmp_path):
    step_ids = ["yes", "1", "null", "No", "0800", "step_2-b"]
    library = _library_of(AWKWARD, step_ids + [f"s{n}" for n in range(len(AWKWARD) - len(step_ids))])
    again = _round_trip(library, tmp_path / "out")
    assert library_digest(again) == library_digest(library)
    assert again.guides["awkward"].steps["yes"].text == {"en": "No"}


# Text a person could type: any printable character, spaces, tabs and line breaks; no surrogates,
# control characters or unassigned code points (validation strips the ends, so do we).
TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc", "Cn"), include_characters="\n\t"),
               min_size=1, max_size=40).map(str.strip).filter(bool)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(TEXT, min_size=3, max_size=6))
def test_any_text_reads_back_as_written(tmp_path_factory, texts):
    library = _library_of(texts, ["a", "b"])
    folder = tmp_path_factory.mktemp("any")
    assert library_digest(_round_trip(library, folder)) == library_digest(library)


def _guide(path: Path, gid: str, image: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"id: {gid}\ntitle: {gid}\nstart: s\nsteps:\n  s:\n    text: see\n    image: {image}\n"
                    "    end: resolved\n")


def test_guides_in_folders_keep_their_image_paths(tmp_path):
    """Two guides in different folders name the same relative path for different pictures, and one
    climbs out of its folder: each still finds its own picture in the export."""
    src = tmp_path / "src"
    _guide(src / "desk-a" / "a.yaml", "a", "images/sign.png")
    _guide(src / "desk-b" / "b.yaml", "b", "images/sign.png")
    _guide(src / "deep" / "c.yaml", "c", "../shared/map.png")
    _guide(src / "d.yaml", "d", "./shared/map.png")
    for path, colour in [("desk-a/images/sign.png", (200, 0, 0)), ("desk-b/images/sign.png", (0, 200, 0)),
                         ("shared/map.png", (0, 0, 200))]:
        (src / path).parent.mkdir(parents=True, exist_ok=True)
        (src / path).write_bytes(_png(colour))
    library = load_library(src)
    written = write_library(tmp_path / "out", [g.to_dict() for g in library.guides.values()], library.images)
    assert library_digest(load_library(tmp_path / "out")) == library_digest(library)
    assert written.guide_files == {"a": "a.yaml", "b": "b/b.yaml", "c": "c/c.yaml", "d": "d.yaml"}


def test_a_folder_that_is_not_empty_is_refused_and_force_keeps_what_is_not_the_library(tmp_path, sample_library_dir):
    library = load_library(sample_library_dir)
    docs = [g.to_dict() for g in library.guides.values()]
    out = tmp_path / "repo"
    (out / ".git").mkdir(parents=True)
    (out / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (out / "README.md").write_text("our guides\n")
    (out / "old-guide.yaml").write_text("id: old\n")
    (out / "old" / "images").mkdir(parents=True)
    (out / "old" / "images" / "gone.png").write_bytes(_png((1, 2, 3)))
    with pytest.raises(ExportError, match=r"is not empty .*--force"):
        write_library(out, docs, library.images)
    assert (out / "old-guide.yaml").exists(), "nothing is touched when refused"
    write_library(out, docs, library.images, library.settings.to_dict(), force=True)
    assert (out / ".git" / "HEAD").exists() and (out / "README.md").read_text() == "our guides\n"
    assert not (out / "old-guide.yaml").exists() and not (out / "old").exists()
    assert library_digest(load_library(out)) == library_digest(library)


def test_a_missing_image_is_refused_before_anything_is_written(tmp_path, sample_library_dir):
    library = load_library(sample_library_dir)
    with pytest.raises(ExportError, match="not available"):
        write_library(tmp_path / "out", [g.to_dict() for g in library.guides.values()], {})
    assert not (tmp_path / "out").exists()


def test_canonical_yaml_starts_with_the_start_step_and_the_guides_language():
    doc = Guide("g", "es", {"en": "Hello", "es": "Hola"}, {"es": "General"}, {}, "first",
                {"z-last": Step("z-last", {"es": "Fin"}, end="resolved"),
                 "first": Step("first", {"es": "Uno", "en": "One"}, choices=(Choice({"es": "Sí"}, next="z-last"),))},
                ).to_dict()
    text = guide_yaml(doc)
    assert text.index("first:") < text.index("z-last:")
    assert "title:\n  es: Hola\n  en: Hello\n" in text
    assert "category: General\n" in text and "keywords" not in text


def test_a_folder_link_in_the_target_does_not_carry_files_out_of_it(tmp_path, sample_library_dir):
    library = load_library(sample_library_dir)
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "images").symlink_to(elsewhere)
    with pytest.raises(ExportError, match="outside"):
        write_library(out, [g.to_dict() for g in library.guides.values()], library.images, force=True)
    assert not any(elsewhere.iterdir()) and not list(out.glob("*.yaml")), "refused before writing anything"
