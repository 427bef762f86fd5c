"""Language coverage of a library (contract/translations.py): per language, the guides and texts
translated and which texts are missing, the default language first."""

from __future__ import annotations

from pathlib import Path

from contract.translations import guide_coverage, guide_texts, library_coverage
from contract.validation import load_library

REPO = Path(__file__).resolve().parents[1]

DESK = """\
id: desk
title: {en: Information desk, es: Mostrador de información, fr: Point information}
category: {en: Help, es: Ayuda}
start: ask
steps:
  ask:
    text: {en: Do you need a person?, es: ¿Necesita a una persona?, fr: Besoin de quelqu'un ?}
    choices:
      - {label: {en: "Yes", es: "Sí", fr: Oui}, next: go}
      - {label: {en: "No", es: "No"}, next: done}
  go:
    text: {en: The desk is by gate 4., es: El mostrador está junto a la puerta 4., fr: Près de la porte 4.}
    end: escalate
  done:
    text: {en: Have a good trip., es: Buen viaje., fr: Bon voyage.}
    end: resolved
"""
WIFI = """\
id: wifi
language: es
title: Wi-Fi
start: connect
steps:
  connect:
    text: {es: Elija la red AIRPORT., pt-BR: Escolha a rede AIRPORT.}
    end: resolved
"""
PARKING = """\
id: parking
title: Parking
start: pay
steps:
  pay:
    text: Pay at the machine by the exit.
    end: resolved
"""


def library(tmp_path: Path):
    for name, text in (("desk", DESK), ("wifi", WIFI), ("parking", PARKING)):
        (tmp_path / f"{name}.yaml").write_text(text)
    return load_library(tmp_path)


def test_each_language_counts_its_complete_guides_and_names_the_missing_texts(tmp_path):
    by_lang = {c.lang: c for c in library_coverage(library(tmp_path))}
    # two of three guides are in English: English is the default and comes first
    assert list(by_lang) == ["en", "es", "fr", "pt-BR"]
    en, es, fr = by_lang["en"], by_lang["es"], by_lang["fr"]
    assert (en.guides, en.texts) == (3, 11)  # desk 7 (title, category, 3 step texts, 2 answers), wifi 2, parking 2
    assert [r.key for r in en.missing] == ["wifi/title", "wifi/connect/text"]
    assert en.complete_guides == 2 and en.translated_texts == 9
    assert en.summary() == "en: 2 of 3 guides complete, 2 texts missing"
    assert [r.key for r in es.missing] == ["parking/title", "parking/pay/text"]
    assert [(r.guide, r.step, r.field) for r in fr.missing][:3] == [
        ("desk", None, "category"), ("desk", "ask", "choice 2"), ("parking", None, "title")]
    assert fr.summary() == "fr: 0 of 3 guides complete, 6 texts missing"
    # a regional variant is its own language: pt-BR has one text, and it counts for no other language
    assert by_lang["pt-BR"].translated_texts == 1
    assert by_lang["pt-BR"].as_dict()["missing"][0] == {"key": "desk/title", "guide": "desk", "step": None,
                                                         "field": "title"}


def test_a_guide_without_a_category_has_none_to_translate(tmp_path):
    lib = library(tmp_path)
    assert [r.field for r in guide_texts(lib.guides["parking"])] == ["title", "text"]
    assert guide_coverage(lib.guides["desk"], ["en", "fr"]) == {"en": (7, 7), "fr": (5, 7)}


def test_the_sample_library_is_complete_in_english_spanish_and_french():
    summaries = [c.summary() for c in library_coverage(load_library(REPO / "assets" / "library"))]
    assert summaries[0] == "en: 11 of 11 guides complete, 0 texts missing"
    assert "es: 11 of 11 guides complete, 0 texts missing" in summaries
    assert "zh: 4 of 11 guides complete, 124 texts missing" in summaries
