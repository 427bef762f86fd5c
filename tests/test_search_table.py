"""What a traveller finds for what they type, in six languages: misspelled, without accents or
hamza, German umlauts as ae/oe/ue, pinyin (full, with spaces, initials), traditional characters,
run-together words and a site's synonyms from `_library.yaml`. Each query names the guide that
must rank first and, where it matters, why it matched; each language also has queries that must
find nothing. The library is the bundled sample plus tests/fixtures/search-library/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from contract.search_index import memory_index
from contract.search_text import Synonyms
from contract.validation import load_library
from offline_cache.store import Store

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent / "assets" / "library"
FIXTURE = HERE / "fixtures" / "search-library"

# (query as typed, guide that must rank first, why it matched or None for "any reason")
FIRST = {
    "en": [
        ("baggge", "lost-baggage", "corrected"),
        ("lugage", "lost-baggage", "corrected"),
        ("chargr", "phone-charging", "corrected"),
        ("firstaid", "first-aid", "corrected"),
        ("restroom", "toilets", "synonym"),
        ("WC", "toilets", "synonym"),
        ("bathroom", "toilets", "synonym"),
        ("wifi", "airport-wifi", "exact"),
        ("parkin", "parking-payment", "prefix"),
        ("liquids", "liquids-security", "exact"),
        ("missed conection", "missed-connection", "corrected"),
        ("wheelchair", "accessibility-assistance", "exact"),
        ("refnd", "refunds-returns", "corrected"),
        ("cash machine", "currency-exchange", None),
    ],
    "es": [
        ("equipaje", "lost-baggage", None),
        ("maleta perdida", "lost-baggage", "corrected"),
        ("equipje", "lost-baggage", "corrected"),
        ("baño", "toilets", "synonym"),
        ("bano", "toilets", "synonym"),
        ("cargador", "phone-charging", "exact"),
        ("telefono", "phone-charging", None),
        ("vuelo retrasado", "flight-delay-rights", None),
        ("conexion", "missed-connection", None),
        ("liquidos", "liquids-security", None),
        ("aparcamiento", "parking-payment", None),
        ("primeros auxilios", "first-aid", None),
        ("devolucion", "refunds-returns", None),
    ],
    "fr": [
        ("bagage", "lost-baggage", None),
        ("bagages perdus", "lost-baggage", None),
        ("valise", "lost-baggage", None),
        ("toilette", "toilets", None),
        ("sanitaires", "toilets", "synonym"),
        ("chargeur", "phone-charging", None),
        ("telephone", "phone-charging", None),
        ("correspondance", "missed-connection", None),
        ("vol annule", "flight-delay-rights", None),
        ("liquides", "liquids-security", None),
        ("premiers secours", "first-aid", None),
        ("medecin", "first-aid", None),
        ("remboursement", "refunds-returns", None),
    ],
    "de": [
        ("gepaeck", "lost-baggage", None),
        ("gepack", "lost-baggage", None),
        ("Gepäck", "lost-baggage", None),
        ("koffer", "lost-baggage", None),
        ("fluessigkeiten", "liquids-security", None),
        ("flussigkeit", "liquids-security", None),
        ("anschlussflug", "missed-connection", None),
        ("klo", "toilets", "synonym"),
        ("ladegeraet", "phone-charging", None),
        ("handy", "phone-charging", None),
        ("erste hilfe", "first-aid", None),
        ("aerztliche hilfe", "first-aid", None),
        ("geldautomat", "currency-exchange", None),
        ("gebetsraum", "prayer-room", None),
        ("wlan", "airport-wifi", None),
    ],
    "zh": [
        ("行李", "lost-baggage", None),
        ("xingli", "lost-baggage", "pinyin"),
        ("xing li", "lost-baggage", "pinyin"),
        ("xl", "lost-baggage", "pinyin"),
        ("洗手间", "toilets", None),
        ("厕所", "toilets", "synonym"),
        ("xishoujian", "toilets", "pinyin"),
        ("chongdian", "phone-charging", "pinyin"),
        ("充电", "phone-charging", None),
        ("jijiu", "first-aid", "pinyin"),
        ("急救", "first-aid", None),
        ("yeti", "liquids-security", "pinyin"),
        ("zhuanji", "missed-connection", "pinyin"),
        ("轉機", "missed-connection", None),  # traditional characters for 转机
        ("醫生", "first-aid", None),  # traditional characters for 医生
    ],
    "ar": [
        ("امتعة", "lost-baggage", None),
        ("أمتعة", "lost-baggage", None),
        ("الامتعة", "lost-baggage", None),
        ("حقيبه", "lost-baggage", None),
        ("سوائل", "liquids-security", None),
        ("تفتيش", "liquids-security", None),
        ("مرحاض", "toilets", "synonym"),
        ("حمام", "toilets", "synonym"),
        ("شاحن", "phone-charging", None),
        ("طبيب", "first-aid", None),
        ("الاسعافات", "first-aid", None),
        ("صلاه", "prayer-room", None),
        ("مصلي", "prayer-room", None),
        ("تَرانزيت", "missed-connection", None),
    ],
}

NOTHING = {
    "en": ["xyzzyq", "helicopter", "zebra crossing"],
    "es": ["elefante", "xyzzyq", "helicóptero"],
    "fr": ["éléphant", "xyzzyq", "montagne"],
    "de": ["elefant", "xyzzyq", "bergsteigen"],
    "zh": ["大象", "熊猫", "xyzzyq"],
    "ar": ["زرافة", "بركان", "xyzzyq"],
}


@pytest.fixture(scope="module")
def search_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("library")
    shutil.copytree(SAMPLE, folder, dirs_exist_ok=True)
    shutil.copytree(FIXTURE, folder, dirs_exist_ok=True)
    store = Store(tmp_path_factory.mktemp("data") / "kiosk.db")
    store.import_library(load_library(folder))
    yield store
    store.close()


@pytest.mark.parametrize(("lang", "query", "guide", "why"),
                         [(lang, *row) for lang, rows in FIRST.items() for row in rows],
                         ids=lambda v: v if isinstance(v, str) else None)
def test_ranks_first(search_store, lang, query, guide, why):
    results = search_store.search_results(query, lang)
    assert results.hits, f"{query!r} ({lang}) found nothing"
    top = results.hits[0]
    assert top.guide_id == guide, f"{query!r} ({lang}): {[h.guide_id for h in results.hits[:4]]}"
    if why is not None:
        assert top.match == why
    # "Did you mean" only when the top hit came from a correction alone.
    assert (results.suggestion is not None) == (top.match == "corrected")


@pytest.mark.parametrize(("lang", "query"), [(lang, q) for lang, qs in NOTHING.items() for q in qs])
def test_finds_nothing(search_store, lang, query):
    results = search_store.search_results(query, lang)
    assert results.hits == [], [h.guide_id for h in results.hits]
    assert results.suggestion is None


def test_the_servers_in_memory_index_finds_what_the_kiosk_finds(search_store, tmp_path):
    # The dashboard's no-results page runs contract.search_index.memory_index over the published
    # guides: for every query of the table it must rank exactly as a kiosk with that content does.
    folder = tmp_path / "library"
    shutil.copytree(SAMPLE, folder, dirs_exist_ok=True)
    shutil.copytree(FIXTURE, folder, dirs_exist_ok=True)
    library = load_library(folder)
    server_side = memory_index(library.guides.values(), Synonyms.of(library.settings.synonyms))
    queries = [(lang, row[0]) for lang, rows in FIRST.items() for row in rows]
    queries += [(lang, q) for lang, qs in NOTHING.items() for q in qs]
    for lang, query in queries:
        kiosk, server = search_store.search_results(query, lang), server_side.results(query, lang)
        assert [(h.guide_id, h.match) for h in server.hits] == [(h.guide_id, h.match) for h in kiosk.hits], query
        assert server.suggestion == kiosk.suggestion, query


def test_a_match_too_broad_to_rank_shows_title_matches_first(search_store, monkeypatch):
    # On a large library one or two letters match tens of thousands of rows and are not ranked by
    # bm25 (contract/search_index.py RANK_WINDOW): the hits come title first, in the traveller's
    # language first. Here the sample library stands in, with the window made small.
    from contract import search_index

    ranked = [h.guide_id for h in search_store.search("bag", "en")]
    monkeypatch.setattr(search_index, "RANK_WINDOW", 3)
    broad = search_store.search("bag", "en")
    assert {h.rank for h in broad} <= {-4.5, -3.0, -2.0, -1.5, -1.0}, "scored by tier, not bm25"
    assert sorted(h.guide_id for h in broad) == sorted(ranked), "the same guides are found"
    in_title = ["bag" in h.title.casefold() for h in broad]
    assert in_title[0] and in_title == sorted(in_title, reverse=True), [h.title for h in broad]
