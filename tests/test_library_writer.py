"""contract/library_writer.py: whatever the content, the folder it writes reads back (with the
validator `kiosk import` and `publish` run) as the same content, the same digest; and it never
writes over a folder staff did not give it."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from contract import library_settings as settings_module
from contract.digest import library_digest
from contract.guides import (
    CHOICE_FIELDS,
    GUIDE_FIELDS,
    STEP_FIELDS,
    CategorySetting,
    Choice,
    Guide,
    HelpPlace,
    Library,
    LibrarySettings,
    Step,
)
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


def _every_field_library() -> Library:
    """Two guides and settings with every optional field the library format has set."""
    image = _png((10, 20, 30))
    sha = hashlib.sha256(image).hexdigest()
    steps = {
        "ask": Step("ask", {"de": "Frage", "en": "Question"}, image="images/sign.png",
                    image_alt={"de": "Ein Schild", "en": "A sign"},
                    choices=(Choice({"de": "Ja", "en": "Yes"}, next="done"),
                             Choice({"de": "Andere", "en": "Other"}, guide="other"))),
        "done": Step("done", {"de": "Fertig", "en": "Done"}, end="escalate"),
    }
    guide = Guide("every", "de", {"de": "Alles", "en": "Everything"}, {"de": "Gepäck", "en": "Baggage"},
                  {"de": ("koffer",), "en": ("bag", "suitcase")}, "ask", steps, {"images/sign.png": sha},
                  help={"de": "Schalter 4", "en": "Desk 4"}, icon="baggage")
    other = Guide("other", "en", {"en": "Other"}, {"en": "Baggage"}, {}, "s",
                  {"s": Step("s", {"en": "Bye"}, end="resolved")})
    settings_ = LibrarySettings({"en": (("bag", "luggage"),)},
                                (HelpPlace({"en": "Main hall"}), HelpPlace({"en": "Belt 4", "de": "Band 4"},
                                                                           site="terminal-2", guide="every")),
                                (CategorySetting({"en": "Baggage", "de": "Gepäck"}, "baggage"),))
    return Library({"every": guide, "other": other}, {sha: image}, settings=settings_)


def _set_fields(value: object) -> set[str]:
    """The dataclass fields of `value` not left at their defaults (a field without one is set)."""
    def default(f: dataclasses.Field) -> object:
        if f.default is not dataclasses.MISSING:
            return f.default
        return f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING
    return {f.name for f in dataclasses.fields(value) if getattr(value, f.name) != default(f)}


def test_every_field_the_validator_reads_is_written_and_reads_back():
    """Fails by itself when a field is added to the library format (the validator's known fields,
    the dataclasses' canonical forms) but not to the writer: the library here must set every one
    (else the first asserts fail: add the new field to it), and what is written must read back as
    the same canonical documents (else the writer forgot it)."""
    library = _every_field_library()
    guide, settings_ = library.guides["every"], library.settings
    doc = guide.to_dict()
    steps, choices = doc["steps"].values(), [c for s in doc["steps"].values() for c in s.get("choices", [])]
    assert GUIDE_FIELDS <= set(doc) and set(doc) - GUIDE_FIELDS == {"images"}
    assert STEP_FIELDS == {k for s in steps for k in s} and CHOICE_FIELDS == {k for c in choices for k in c}
    assert settings_module.FIELDS == set(settings_.to_dict())
    assert settings_module.HELP_FIELDS == {k for p in settings_.to_dict()["help"] for k in p}
    assert settings_module.CATEGORY_FIELDS == {k for c in settings_.to_dict()["categories"] for k in c}
    assert _set_fields(guide) == {f.name for f in dataclasses.fields(Guide)} - {"source"}
    assert _set_fields(guide.steps["ask"]) == {f.name for f in dataclasses.fields(Step)} - {"end"}
    assert _set_fields(settings_) == {f.name for f in dataclasses.fields(LibrarySettings)}
    assert _set_fields(settings_.help[1]) == {f.name for f in dataclasses.fields(HelpPlace)}
    assert _set_fields(settings_.categories[0]) == {f.name for f in dataclasses.fields(CategorySetting)}

    with tempfile.TemporaryDirectory() as tmp:
        again = _round_trip(library, Path(tmp) / "out")
        assert {gid: g.to_dict() for gid, g in again.guides.items()} == \
               {gid: g.to_dict() for gid, g in library.guides.items()}
        assert again.settings.to_dict() == settings_.to_dict()
        assert library_digest(again) == library_digest(library)
        text = (Path(tmp) / "out" / "every.yaml").read_text(encoding="utf-8")
    # the guide's language first, a text in it alone as a plain string
    assert "icon: baggage\nhelp:\n  de: Schalter 4\n  en: Desk 4\n" in text
    assert "    image_alt:\n      de: Ein Schild\n      en: A sign\n" in text
