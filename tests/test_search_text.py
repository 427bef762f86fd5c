"""Search's contract (contract/search_text.py) and the library settings that carry synonyms
(contract/library_settings.py): folding on both sides, pinyin keys, the FTS5 expression, the
corrector, `_library.yaml` validated with the guides and counted in the digest only when present,
travelling in a bundle into a kiosk, search events, and `kiosk search`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from contract.bundle import make_bundle, open_library
from contract.digest import library_digest
from contract.guides import LibraryInvalid
from contract.library_settings import parse_settings
from contract.limits import MAX_SYNONYM_TERMS
from contract.search_text import (
    INITIALS_MARK,
    PINYIN_MARK,
    Corrector,
    Synonyms,
    build_query,
    fold,
    index_tokens,
    pinyin_keys,
    query_pinyin,
    words,
)
from contract.validation import library_from_documents, load_library
from kiosk.engine import SessionEngine
from offline_cache.store import Store

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "fixtures" / "search-library"


# --- folding -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "content"), [
    ("medecin", "Médecin"), ("cafe", "CAFÉ"), ("nino", "niño"),  # accents
    ("gepaeck", "Gepäck"), ("gepack", "Gepäck"), ("fluessig", "Flüssig"), ("schoen", "schön"),
    ("strasse", "Straße"), ("STRASSE", "straße"),  # German
    ("امتعة", "أمتعة"), ("اسعاف", "إسعاف"), ("امن", "آمن"), ("استقبال", "ٱستقبال"),  # alef forms
    ("حقيبه", "حقيبة"), ("مصلي", "مصلى"),  # taa marbuta / haa, alef maqsura / yaa
    ("مطار", "مَطَار"), ("مطار", "مطـــار"),  # tashkeel, tatweel
    ("100", "١٠٠"), ("100", "۱۰۰"),  # Eastern Arabic and Persian digits
    ("كيف", "کیف"),  # Persian kaf and yeh
    ("ｗｉｆｉ", "wifi"),  # full-width letters (NFKC)
])
def test_both_sides_fold_to_the_same_text(typed, content):
    assert fold(typed) == fold(content)


def test_what_is_not_folded_together():
    assert fold("bad") != fold("bäd".replace("ä", "o"))
    assert fold("が") != fold("か")  # the dakuten makes another letter
    assert fold("행") == "행"  # Hangul survives decomposition
    assert words("行李箱 wi-fi") == ["行", "李", "箱", "wi", "fi"]


def test_traditional_chinese_is_folded_to_simplified_on_both_sides():
    # 機場 (airport) is indexed as 机场, and a guide in traditional characters is found by a
    # simplified query: the same tokens, not only the same sound (a homophone shares the pinyin).
    assert index_tokens("機場 行李 遺失") == index_tokens("机场 行李 遗失")
    assert words("轉機") == words("转机") == ["转", "机"]
    assert fold("乾燥") == "干燥" and fold("乾隆") == "乾隆"  # phrase-aware, not a character table


def test_an_arabic_word_with_the_article_is_indexed_with_and_without_it():
    assert index_tokens("الأمتعة") == "الامتعه امتعه"
    assert index_tokens("ال") == "ال"


def test_pinyin_keys_full_runs_and_initials():
    full, initials = pinyin_keys("行李丢失")
    full, initials = full.replace(PINYIN_MARK, ""), initials.replace(INITIALS_MARK, "")
    assert {"xing", "xingli", "li", "xinglidiushi", "diushi"} <= set(full.split())
    assert {"xl", "xld", "xlds", "ds"} <= set(initials.split())
    assert "x" not in initials.split()  # initials from two letters
    assert pinyin_keys("no chinese") == ("", "")
    # Traditional and simplified read alike, so a query in either finds the other.
    assert query_pinyin("轉機") == query_pinyin("转机") == "zhuanji"
    assert query_pinyin("xing li") == "xingli"
    assert query_pinyin("x") is None and query_pinyin("100 ml") is None and query_pinyin("أمتعة") is None


def test_the_query_expression_is_words_never_syntax():
    q = build_query('lost "bag* NEAR(xyz) OR title:')
    assert q.match.startswith('({title keywords category body} : ("lost" "bag" "near" "xyz" "or" "title"*))')
    assert build_query("   ?! ") is None
    short = build_query("xl", "zh")
    assert short.match.startswith("({title keywords category} :")
    assert "initials" in short.match and "pinyin" in short.match
    assert "pinyin" not in build_query("xl", "en").match  # pinyin in a Chinese session only
    assert "pinyin" in build_query("轉機", "en").match  # characters are read as pinyin anywhere


def test_synonyms_widen_a_word_or_a_run_of_words():
    syn = Synonyms.of({"en": [["toilet", "restroom", "WC"], ["lost property", "lost and found"]]})
    q = build_query("wc", "en", syn)
    assert '"toilet"*' in q.match and '"restroom"*' in q.match and '"wc"' in q.match
    q = build_query("where is lost property", "en", syn)
    assert '"lost and found"*' in q.match
    assert build_query("restro", "en", syn).synonym_runs  # the start of a term, from three letters
    assert not build_query("wc", "de", syn).synonym_runs  # a group belongs to its language
    assert not build_query("re", "en", syn).synonym_runs


def test_the_corrector():
    c = Corrector({"baggage": 5, "bagage": 9, "charger": 2, "charging": 3, "first": 4, "aid": 4,
                   "perdido": 2, "perdi": 2, "da": 3, "bus": 9})
    assert c.correct(["baggge"]) == ["bagage"]  # nearest and most common ...
    assert c.correct(["baggge"], prefer=lambda w: w == "baggage") == ["baggage"]  # ... unless the language says
    assert c.correct(["chargr"]) == ["charger"]
    assert c.correct(["chargin"]) is None or c.correct(["chargin"]) == ["charging"]
    assert c.correct(["firstaid"]) == ["first", "aid"]
    assert c.correct(["perdida"]) == ["perdido"]  # one typo beats a split
    assert c.correct(["abgage"]) is None  # the first letter is kept
    assert c.correct(["bux"]) is None  # too short to correct
    assert c.correct(["baggage"]) is None  # nothing to correct
    assert c.correct(["xyzzyq"]) is None


# --- _library.yaml -------------------------------------------------------------------------------

def test_settings_problems_are_named():
    problems = []
    parse_settings({"synonyms": {"en": [["toilet"], "wc", [1, "x"], ["a" * 81, "b"]], "EN!": [],
                                 "de": "Klo"}, "colours": {}}, "_library.yaml", problems)
    text = "\n".join(p.message for p in problems)
    assert "unknown setting 'colours'" in text
    assert "synonyms.en group 1 must be a list of 2 to" in text
    assert "synonyms.en group 2 must be a list" in text
    assert "synonyms.en group 3: 1 is not a word" in text
    assert "longer than 80 characters" in text
    assert "'EN!' is not a language code" in text
    assert "synonyms.de must be a list of groups" in text
    problems = []
    parse_settings({"synonyms": {"en": [["w"] * (MAX_SYNONYM_TERMS + 1)]}}, "_library.yaml", problems)
    assert problems
    problems = []
    parse_settings(["synonyms"], "_library.yaml", problems)
    assert "must be a mapping" in problems[0].message


def _library(tmp_path, settings_text: str | None) -> Path:
    folder = tmp_path / "library"
    shutil.copytree(FIXTURE, folder)
    (folder / "_library.yaml").unlink()
    if settings_text is not None:
        (folder / "_library.yaml").write_text(settings_text)
    return folder


def test_an_invalid_library_yaml_refuses_the_library_with_the_guides(tmp_path):
    folder = _library(tmp_path, "synonyms:\n  en: [[toilet]]\ncolours: red\n")
    (folder / "toilets.yaml").write_text((folder / "toilets.yaml").read_text().replace("start: where", "start: nowhere"))
    with pytest.raises(LibraryInvalid) as refused:
        load_library(folder)
    files = {p.file for p in refused.value.problems}
    assert files == {"_library.yaml", "toilets.yaml"}
    folder = _library(tmp_path / "b", "synonyms: [unclosed\n")
    with pytest.raises(LibraryInvalid, match="_library.yaml"):
        load_library(folder)


def test_settings_count_in_the_digest_only_when_present(tmp_path):
    without = load_library(_library(tmp_path / "a", None))
    assert not without.settings
    empty = load_library(_library(tmp_path / "b", "# nothing yet\n"))
    assert library_digest(empty) == library_digest(without)
    with_syn = load_library(_library(tmp_path / "c", "synonyms:\n  en: [[toilet, restroom]]\n"))
    other = load_library(_library(tmp_path / "d", "synonyms:\n  en: [[toilet, loo]]\n"))
    assert len({library_digest(without), library_digest(with_syn), library_digest(other)}) == 3
    # The served form gives the same library and digest.
    served = library_from_documents([g.to_dict() for g in with_syn.guides.values()], with_syn.images,
                                    with_syn.settings.to_dict())
    assert library_digest(served) == library_digest(with_syn)


def test_synonyms_travel_in_a_bundle_into_the_kiosk_and_are_replaced_by_the_next_import(tmp_path):
    folder = _library(tmp_path, "synonyms:\n  en: [[toilet, restroom, WC]]\n")
    bundle = make_bundle(folder, tmp_path / "library.zip")
    store = Store(tmp_path / "kiosk.db")
    try:
        store.import_library(open_library(bundle))
        assert [h.guide_id for h in store.search("restroom")][:1] == ["toilets"]
        (folder / "_library.yaml").unlink()
        store.import_library(load_library(folder))
        assert store.search("restroom") == []
    finally:
        store.close()


# --- the kiosk ----------------------------------------------------------------------------------

@pytest.fixture
def fixture_store(tmp_path):
    store = Store(tmp_path / "kiosk.db")
    store.import_library(load_library(FIXTURE))
    yield store
    store.close()


def test_a_search_event_records_the_query_as_typed_and_the_correction(fixture_store):
    engine = SessionEngine(fixture_store, "kiosk-7")
    engine.start_session("en")
    results = engine.search_results("chargr")
    assert results.suggestion == "charger" and results.hits[0].guide_id == "phone-charging"
    engine.record_search("chargr " + "x" * 500 + " call 555-123-4567", 0, suggestion=results.suggestion,
                         suggestion_hits=len(results.hits), suggestion_taken=True)
    engine.record_search("wc", 1)
    searches = [e.body["data"] for e in fixture_store.take_batch(limit=100) if e.body["type"] == "search"]
    assert len(searches[0]["query"]) == 200 and searches[0]["query"].startswith("chargr x")
    assert searches[0]["suggestion"] == "charger" and searches[0]["suggestion_taken"] is True
    assert searches[0]["hits"] == 0 and searches[0]["suggestion_hits"] == len(results.hits)
    assert searches[1] == {"query": "wc", "hits": 1}  # no correction: the event's shape as before


def test_search_reasons(fixture_store):
    def why(text, lang="en"):
        return [(h.guide_id, h.match) for h in fixture_store.search_results(text, lang).hits][:1]

    assert why("charger") == [("phone-charging", "exact")]
    assert why("charg") == [("phone-charging", "prefix")]
    assert why("loo") == [("toilets", "synonym")]
    assert why("chongdian", "zh") == [("phone-charging", "pinyin")]
    assert why("chargr") == [("phone-charging", "corrected")]
    assert fixture_store.search_results("x" * 5000).hits == []


def test_kiosk_search_command(tmp_path, capsys):
    from kiosk.cli import main

    data = ["--data-dir", str(tmp_path / "data")]
    assert main(["import", *data, str(FIXTURE)]) == 0
    capsys.readouterr()
    assert main(["search", *data, "baggge", "--json", "--lang", "en"]) == 0
    # The fixture library alone has no baggage guide: a correction finds nothing, so nothing is offered.
    assert json.loads(capsys.readouterr().out) == {"query": "baggge", "lang": "en", "suggestion": None, "hits": []}
    assert main(["search", *data, "firstaid"]) == 0  # the kiosk's default language: en
    text = capsys.readouterr().out
    assert "Did you mean first aid?" in text and "1. first-aid" in text and "corrected" in text
    assert main(["search", *data, "xishoujian", "--lang", "zh", "--json"]) == 0
    [hit] = json.loads(capsys.readouterr().out)["hits"][:1]
    assert (hit["rank"], hit["guide"], hit["match"], hit["title"]) == (1, "toilets", "pinyin", "洗手间和母婴室")
    assert main(["search", *data, "x", "--lang", "not a code"]) == 2
    assert "not a language code" in capsys.readouterr().err
