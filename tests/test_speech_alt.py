"""A step image's `image_alt` (shared/DESIGN.md: an optional guide field): what the image shows, in
words, per language, spoken by audio mode with the step. Optional, and left out of the canonical
JSON when unset, so the digest of every guide that has none does not move."""

from __future__ import annotations

from contract.bundle import open_library
from contract.digest import library_digest
from contract.guides import Guide, LibraryInvalid
from contract.validation import load_library
from kiosk.engine import SessionEngine


def test_image_alt_is_optional_and_keeps_the_digest(sample_library_dir):
    library = open_library(sample_library_dir)
    before = library_digest(library)
    assert all("image_alt" not in s for g in library.guides.values() for s in g.to_dict()["steps"].values())
    guide = sample_library_dir / "lost-baggage.yaml"
    text = guide.read_text()
    guide.write_text(text.replace("    image: images/belt.png\n", "    image: images/belt.png\n"
                                  "    image_alt: {en: A baggage belt with suitcases, ar: سير أمتعة عليه حقائب}\n", 1))
    changed = open_library(sample_library_dir)
    belt = changed.guides["lost-baggage"].steps["belt"]
    assert belt.image_alt == {"en": "A baggage belt with suitcases", "ar": "سير أمتعة عليه حقائب"}
    assert library_digest(changed) != before, "a description is content: it counts in the digest"
    doc = changed.guides["lost-baggage"].to_dict()
    assert Guide.from_dict(doc).steps["belt"].image_alt == belt.image_alt, "it survives the wire"
    guide.write_text(text)
    assert library_digest(open_library(sample_library_dir)) == before


def test_image_alt_without_an_image_or_the_default_language_is_refused(sample_library_dir):
    guide = sample_library_dir / "lost-baggage.yaml"
    text = guide.read_text()
    guide.write_text(text.replace("    image: images/belt.png\n", "    image: images/belt.png\n"
                                  "    image_alt: {ar: سير أمتعة}\n", 1)
                     .replace("  waited:\n", "  waited:\n    image_alt: A belt\n", 1))
    try:
        load_library(sample_library_dir)
    except LibraryInvalid as exc:
        messages = [str(p) for p in exc.problems]
    else:
        raise AssertionError("an image_alt without the guide's language was accepted")
    assert any("image_alt has no text in the guide's default language 'en'" in m for m in messages), messages
    assert any("(step 'waited'): has image_alt but no image" in m for m in messages), messages


def test_the_step_view_carries_image_alt_in_the_language(store, sample_library_dir):
    guide = sample_library_dir / "lost-baggage.yaml"
    guide.write_text(guide.read_text().replace(
        "    image: images/belt.png\n",
        "    image: images/belt.png\n    image_alt: {en: A baggage belt, de: Ein Gepäckband}\n", 1))
    store.import_library(load_library(sample_library_dir), content_version="alt-1")
    engine = SessionEngine(store, "test-kiosk")
    engine.start_session("de")
    assert engine.open_guide("lost-baggage", "home").image_alt == "Ein Gepäckband"
    engine.set_language("ar")  # no Arabic description: the guide's own language, never blank
    assert engine.current().image_alt == "A baggage belt"
    engine.choose(0)
    assert engine.current().image_alt == ""
