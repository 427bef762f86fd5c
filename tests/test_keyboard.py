"""The keyboards' layouts and what their keys type (kiosk/keyboard.py), and the pinyin lexicon
(offline_cache/lexicon.py): no Kivy here; tests/ui/test_keyboards.py taps the real widget."""

from __future__ import annotations

import random
import sqlite3

import pytest

from kiosk.keyboard import (
    ACTION_NAMES,
    LAYOUT_FOR_LANGUAGE,
    LAYOUT_ORDER,
    Candidate,
    KeyboardState,
    apply,
    layout_for_language,
    load_layout,
)
from offline_cache.lexicon import PinyinLexicon, _jieba_words, _word_reader, toneless
from tests.lexicon_cache import lexicon_file

ALL = sorted(set(LAYOUT_ORDER))


def chars(name: str, page: str = "normal") -> str:
    return "".join(k.text for k in load_layout(name).keys(page) if k.text and k.code != "spacebar")


def tap(state: KeyboardState, *what: str) -> list:
    """Tap keys by what they type, or by action name (shift, special, accent, backspace ...)."""
    effects = []
    for w in what:
        key = next((k for row in state.rows() for k in row if k.text == w), None) \
            or next(k for row in state.rows() for k in row if k.code == w)
        effects += state.press(key)
    return effects


@pytest.mark.parametrize("name", ALL)
def test_every_layout_reads_in_kivys_format_and_every_key_types_what_it_shows(name):
    layout = load_layout(name)
    assert layout.title and {"normal", "special"} <= set(layout.pages)
    for page, rows in layout.pages.items():
        codes = {k.code for row in rows for k in row}
        assert {"backspace", "special"} & codes, f"{name} {page}: a way to delete or switch page"
        for key in (k for row in rows for k in row):
            if key.text is None:
                assert key.code in ACTION_NAMES, f"{name}: unknown action {key.code}"
            elif key.code != "spacebar":
                assert key.label == key.text, f"{name} {page}: {key.label!r} types {key.text!r}"
    bottom = {k.code for k in layout.pages["normal"][-1]}
    assert {"special", "layout", "spacebar", "enter", "escape"} <= bottom, "symbols, next keyboard, Search, Hide"


def test_each_language_has_its_own_keyboard():
    assert chars("en_qwerty").startswith("qwertyuiop")
    assert chars("es_qwerty").startswith("qwertyuiop") and "ñ" in chars("es_qwerty")
    assert chars("fr_azerty").startswith("azertyuiopqsdfghjklmwxcvbn")
    assert chars("de_qwertz").startswith("qwertzuiopü") and set("äöüß") <= set(chars("de_qwertz"))
    arabic = chars("ar_arabic")
    assert set("أإآءؤئةى") <= set(arabic), "hamza forms, taa marbuta and alef maqsura without Shift"
    assert set("ابتثجحخدذرزسشصضطظعغفقكلمنهوي") <= set(arabic)
    assert load_layout("zh_pinyin").ime == "pinyin"
    assert {lang: layout_for_language(lang) for lang in LAYOUT_FOR_LANGUAGE} == LAYOUT_FOR_LANGUAGE
    assert layout_for_language("xx") == "en_qwerty"


@pytest.mark.parametrize("name", ALL)
def test_the_symbols_page_has_what_travellers_type(name):
    assert set("@.-?!'0123456789") <= set(chars(name, "special"))


def test_shift_types_one_capital_then_lets_go():
    state = KeyboardState("en_qwerty")
    assert apply(tap(state, "shift"), "") == "" and state.page == "shift"
    assert [k.text for k in state.rows()[0]][:3] == ["Q", "W", "E"]
    assert apply(tap(state, "A"), "") == "A" and state.page == "normal"
    assert apply(tap(state, "shift", "shift", "a"), "") == "a", "Shift twice: off again"


def test_the_accent_key_opens_the_languages_accented_letters_for_one_letter():
    state = KeyboardState("fr_azerty")
    tap(state, "accent")
    assert set("éèêàçùœ") <= {k.text for row in state.rows() for k in row}
    text = apply(tap(state, "é"), "caf")
    assert text == "café" and state.page == "normal"
    tap(state, "accent", "shift")
    assert apply(tap(state, "É"), "") == "É"
    state = KeyboardState("es_qwerty")
    assert apply(tap(state, "accent", "á", "accent", "ü", "ñ"), "") == "áüñ"
    state = KeyboardState("de_qwertz")
    tap(state, "accent", "shift")
    assert "ß" in {k.text for row in state.rows() for k in row}, "ß has no one-letter capital: it stays"


def test_symbols_stay_until_letters_are_asked_for():
    state = KeyboardState("en_qwerty")
    assert apply(tap(state, "special", "@", "1", "?"), "") == "@1?" and state.page == "special"
    tap(state, "special")
    assert state.page == "normal"


def test_delete_search_hide_and_the_next_keyboard():
    state = KeyboardState("en_qwerty")
    assert apply(tap(state, "b", "a", "g", "backspace"), "") == "ba"
    assert [e.action for e in tap(state, "enter")] == ["enter"]
    assert [e.action for e in tap(state, "escape")] == ["hide"]
    seen = [state.layout_name]
    for _ in range(len(LAYOUT_ORDER)):
        tap(state, "layout")
        seen.append(state.layout_name)
    assert seen[1:] == [*LAYOUT_ORDER[1:], LAYOUT_ORDER[0]], "the layout key walks every keyboard, round"


def fake_lookup(letters: str, limit: int):
    table = {"xingli": [Candidate("行李", 6), Candidate("行礼", 6)], "xing": [Candidate("行", 4)],
             "li": [Candidate("李", 2)], "hen": [Candidate("很", 3)]}
    for size in range(len(letters), 0, -1):
        if letters[:size] in table:
            return table[letters[:size]][:limit]
    return []


def test_pinyin_letters_compose_and_a_candidate_types_the_word():
    state = KeyboardState("zh_pinyin", lookup=fake_lookup)
    assert apply(tap(state, *"xingli"), "") == "", "letters compose; nothing typed yet"
    assert state.composing == "xingli" and state.candidates[0].text == "行李"
    assert apply(state.choose(0), "") == "行李" and state.composing == "" and state.candidates == []


def test_a_candidate_for_the_first_letters_leaves_the_rest_composing():
    state = KeyboardState("zh_pinyin", lookup=fake_lookup)
    tap(state, *"henli")
    text = apply(state.choose(0), "")
    assert text == "很" and state.composing == "li" and state.candidates[0].text == "李"
    assert apply(tap(state, " "), text) == "很李", "Space takes the first candidate"


def test_pinyin_delete_search_and_symbols_with_letters_composing():
    state = KeyboardState("zh_pinyin", lookup=fake_lookup)
    tap(state, *"xing", "backspace")
    assert state.composing == "xin"
    assert apply(tap(state, "enter"), "") == "xin", "Search types the letters as they are"
    tap(state, *"li")
    assert apply(tap(state, "special", "?"), "") == "li?"
    state = KeyboardState("zh_pinyin")  # the lexicon not open yet: letters are letters
    assert apply(tap(state, *"li"), "") == "li"


# --- the lexicon ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lexicon():
    lex = PinyinLexicon(lexicon_file()).ensure_built()
    yield lex
    lex.close()


def words(lexicon, letters, kind=None):
    return [w for w, _n, k in lexicon.lookup(letters) if kind is None or k == kind]


def test_xingli_offers_xingli_first(lexicon):
    found = lexicon.lookup("xingli")
    assert found[0] == ("行李", 6, "pinyin")
    assert "行礼" in words(lexicon, "xingli")[:5]
    assert words(lexicon, "jichang")[0] == "机场" and words(lexicon, "lvxing")[:2] == ["履行", "旅行"]
    assert "女" in words(lexicon, "nv")[:3], "v types ü"


def test_initials_match_from_two_letters_below_full_pinyin(lexicon):
    assert words(lexicon, "xl", "initials")[:2] == ["下来", "心里"], "by frequency"
    assert words(lexicon, "x", "initials") == []
    found = lexicon.lookup("ta")
    kinds = [k for _w, _n, k in found]
    assert found[0][:2] == ("他", 2) and "initials" in kinds
    first_initials = kinds.index("initials")
    assert all(k == "pinyin" and n == 2 for _w, n, k in found[:first_initials])
    assert all(n < 2 for _w, n, k in found[first_initials:] if k == "pinyin"), "then only shorter readings"


def test_a_lookup_for_longer_letters_offers_words_for_the_first_ones(lexicon):
    found = lexicon.lookup("xinglixiang")
    assert found[0][0] == "行李箱"
    found = lexicon.lookup("henhao")
    assert ("很", 3, "pinyin") in found[:3]


def test_the_lexicon_records_its_sources_and_is_rebuilt_when_they_change(tmp_path):
    path = tmp_path / "pinyin.sqlite"
    path.write_bytes(lexicon_file().read_bytes())
    lex = PinyinLexicon(path)
    assert lex.is_built()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = 'jieba=0.1' WHERE key = 'sources'")
    assert not lex.is_built(), "another jieba or pypinyin: built again"
    (tmp_path / "broken.sqlite").write_bytes(b"not a database")
    assert not PinyinLexicon(tmp_path / "broken.sqlite").is_built()


def test_toneless_pinyin():
    assert [toneless(s) for s in ("xíng", "lǚ", "nǚ", "Zhōng", "lüè")] == ["xing", "lv", "nv", "zhong", "lve"]


def test_the_word_reader_agrees_with_pypinyin_lazy_pinyin():
    from pypinyin import lazy_pinyin

    read, _ = _word_reader()
    sample = random.Random(13).sample([w for w, f in _jieba_words() if f >= 5 and len(w) > 1], 1500)
    differ = [w for w in sample if read(w) != [toneless(s) for s in lazy_pinyin(w, v_to_u=True)]]
    assert len(differ) <= len(sample) // 100, differ[:10]
