"""server/search_preview.py: the no-results page's "Found today" runs the kiosk's search over what
the default group's kiosks have now, its published synonyms included, and follows each publish."""

from __future__ import annotations

import shutil

from contract.validation import load_library
from kiosk.paths import SAMPLE_LIBRARY
from offline_cache.store import Store
from server import db, publish, search_preview


def test_found_today_follows_the_published_content_and_its_synonyms(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'server.db'}")
    db.migrate(engine)
    library = tmp_path / "library"
    shutil.copytree(SAMPLE_LIBRARY, library)
    publish.publish_path(engine, library, by="t")
    queries = [("hotspot", "en"), ("funknetz", "de"), ("xyzzy", "en")]
    with db.read(engine) as conn:
        assert {q: r.hits for q, r in search_preview.today(engine, conn, queries).items()} == {
            q: [] for q in queries}

    (library / "_library.yaml").write_text("synonyms:\n  en:\n    - [wifi, internet, hotspot]\n"
                                           "  de:\n    - [wlan, funknetz]\n")
    publish.publish_path(engine, library, by="t")
    store = Store(tmp_path / "kiosk.db")  # a kiosk with the same content: what it would find
    store.import_library(load_library(library))
    with db.read(engine) as conn:
        found = search_preview.today(engine, conn, queries)
    for (q, lang), results in found.items():
        assert [h.guide_id for h in results.hits] == [h.guide_id for h in store.search(q, lang, limit=3)], q
    assert found[("hotspot", "en")].hits[0].guide_id == "airport-wifi"
    assert found[("funknetz", "de")].hits[0].guide_id == "airport-wifi"
    assert found[("xyzzy", "en")].hits == []
    engine.dispose()
