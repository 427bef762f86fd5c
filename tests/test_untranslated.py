"""Untranslated guides (kiosk.toml `untranslated = mark | hide`, issue 12): in Arabic and Chinese
the sample library has guides written only in English; "mark" lists them in English with the
tag, "hide" leaves them out. What the home screen draws of it is in tests/ui/test_after_outcome.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract.validation import load_library
from kiosk.config_check import check_config
from kiosk.untranslated import listed, own_language


@pytest.fixture(scope="module")
def guides():
    """The sample library's guides (the store's summaries carry the same Guide.languages)."""
    return list(load_library(Path(__file__).resolve().parents[1] / "assets" / "library").guides.values())


@pytest.mark.parametrize("lang", ["ar", "zh"])
def test_guides_without_the_language_are_marked_or_hidden(guides, lang):
    untranslated = [g for g in guides if lang not in g.languages]
    translated = [g for g in guides if lang in g.languages]
    assert untranslated and translated, "the sample library has both kinds"
    assert all(own_language(g.languages, lang) == "en" for g in untranslated)
    assert all(own_language(g.languages, lang) is None for g in translated)
    assert [g.id for g in guides if listed(g.languages, lang, "mark")] == [g.id for g in guides]
    assert [g.id for g in guides if listed(g.languages, lang, "hide")] == [g.id for g in translated]


def test_a_regional_language_reads_its_base():
    assert own_language(("en", "pt"), "pt-BR") is None
    assert own_language(("en",), "pt-BR") == "en"


def test_config_check_names_a_wrong_choice(tmp_path):
    (tmp_path / "kiosk.toml").write_text('device = "k1"\nuntranslated = "shout"\n', encoding="utf-8")
    errors = [f.message for f in check_config(tmp_path) if f.level == "error"]
    assert any("'untranslated' should be \"mark\" or \"hide\", not 'shout'" in e for e in errors), errors
    (tmp_path / "kiosk.toml").write_text('device = "k1"\nuntranslated = "hide"\n', encoding="utf-8")
    assert not [f for f in check_config(tmp_path) if f.level == "error" and "untranslated" in f.message]
