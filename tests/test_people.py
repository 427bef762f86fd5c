"""Where a person can be found (issue 12, "a dead end after it didn't help"): `help:` in
`_library.yaml` per site and per guide, a guide's own optional `help`, and the kiosk's choice of
the most specific one (kiosk/people.py). New fields stay out of the canonical form when unset, so
the digests of existing content do not move."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from contract.digest import library_digest
from contract.guides import Guide, LibraryInvalid, LibrarySettings
from contract.library_settings import parse_settings
from contract.validation import load_library
from kiosk.people import where_to_find_a_person

SAMPLE = Path(__file__).resolve().parents[1] / "assets" / "library"
SYNONYMS = Path(__file__).resolve().parent / "fixtures" / "search-library" / "_library.yaml"

HELP_YAML = """
help:
  - text: {en: The information desk in the main hall, de: Die Information in der Haupthalle}
  - site: terminal-2
    text: {en: The information desk opposite gate B12}
  - guide: lost-baggage
    text: {en: The Baggage Service desk by belt 4}
  - site: terminal-2
    guide: lost-baggage
    text: {en: The Baggage Service desk by belt 9 in terminal 2}
"""


def library_with(tmp_path: Path, settings: str | None, guide_help: str | None = None):
    root = tmp_path / "lib"
    shutil.copytree(SAMPLE, root)
    if settings is not None:
        (root / "_library.yaml").write_text(settings, encoding="utf-8")
    if guide_help is not None:
        path = root / "airport-wifi.yaml"
        path.write_text(path.read_text(encoding="utf-8") + guide_help, encoding="utf-8")
    return load_library(root)


def test_the_most_specific_place_wins(tmp_path):
    library = library_with(tmp_path, HELP_YAML, "help: {en: The Wi-Fi help point at the food court}\n")
    settings, guides = library.settings, library.guides
    bags, wifi, gifts = guides["lost-baggage"], guides["airport-wifi"], guides["gift-cards"]
    assert where_to_find_a_person(settings, bags, "terminal-2", "en") == "The Baggage Service desk by belt 9 in terminal 2"
    assert where_to_find_a_person(settings, bags, "terminal-1", "en") == "The Baggage Service desk by belt 4"
    assert where_to_find_a_person(settings, wifi, "terminal-2", "en") == "The Wi-Fi help point at the food court"
    assert where_to_find_a_person(settings, gifts, "terminal-2", "en") == "The information desk opposite gate B12"
    assert where_to_find_a_person(settings, gifts, "", "de") == "Die Information in der Haupthalle"
    assert where_to_find_a_person(settings, gifts, "", "zh") == "The information desk in the main hall"
    assert where_to_find_a_person(LibrarySettings(), gifts, "terminal-2", "en") is None


def test_help_travels_in_the_canonical_forms(tmp_path):
    library = library_with(tmp_path, HELP_YAML, "help: {en: The Wi-Fi help point}\n")
    settings = library.settings
    assert LibrarySettings.from_dict(settings.to_dict()) == settings
    wifi = library.guides["airport-wifi"]
    assert wifi.to_dict()["help"] == {"en": "The Wi-Fi help point"}
    assert Guide.from_dict(wifi.to_dict()).help == wifi.help


def test_unset_fields_leave_digests_where_they_were(tmp_path):
    plain = load_library(SAMPLE)
    assert all("help" not in g.to_dict() for g in plain.guides.values())
    assert "help" not in plain.settings.to_dict()  # the sample sets categories, not help places
    synonyms_only = library_with(tmp_path, SYNONYMS.read_text(encoding="utf-8"))
    assert "help" not in synonyms_only.settings.to_dict()
    with_help = library_with(tmp_path / "2", SYNONYMS.read_text(encoding="utf-8") + HELP_YAML)
    assert library_digest(with_help) != library_digest(synonyms_only)
    assert {g: x.sha256 for g, x in with_help.guides.items()} == {g: x.sha256 for g, x in plain.guides.items()}


@pytest.mark.parametrize("bad, says", [
    ("help: {en: desk}\n", "help must be a list"),
    ("help:\n  - site: t2\n", "must be a mapping with text"),
    ("help:\n  - text: {en: desk}\n    floor: 2\n", "unknown field 'floor'"),
    ("help:\n  - text: {en: desk}\n    guide: Not An Id\n", "is not a guide id"),
    ("help:\n  - text: {english: desk}\n", "'english' is not a language code"),
])
def test_a_wrong_help_setting_is_named(bad, says):
    problems: list = []
    parse_settings(yaml.safe_load(bad), "_library.yaml", problems)
    assert any(says in str(p) and "_library.yaml" in str(p) for p in problems), problems


def test_a_wrong_help_setting_stops_the_import(tmp_path):
    with pytest.raises(LibraryInvalid) as caught:
        library_with(tmp_path, "help:\n  - site: t2\n")
    assert "help place 1 must be a mapping with text" in caught.value.report()
