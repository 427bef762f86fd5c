"""server/export.py on PostgreSQL (SQLite: tests/test_library_round_trip.py): a published version, or any guide documents (what the
studio hands over for a draft), read out of the database and written as a library folder that
reads back as the same content."""

from __future__ import annotations

import shutil

import pytest
from server_testkit import fresh_pg_database

from contract.digest import library_digest
from contract.validation import load_library
from kiosk.paths import SAMPLE_LIBRARY
from server import db, publish
from server.export import ExportError, export_documents, export_version


@pytest.fixture(params=["postgres"])
def engine(request):
    with fresh_pg_database("export") as url:
        eng = db.make_engine(url, pool_size=2)
        db.migrate(eng)
        yield eng
        eng.dispose()


def test_a_version_and_a_drafts_documents_export_as_the_same_content(engine, tmp_path):
    library = tmp_path / "library"
    shutil.copytree(SAMPLE_LIBRARY, library)
    (library / "_library.yaml").write_text("synonyms:\n  en:\n    - [wifi, internet, hotspot]\n")
    published = publish.publish_path(engine, library, by="t")
    exported = export_version(engine, tmp_path / "out")
    assert exported.version == 1 and exported.digest == published.digest == library_digest(load_library(library))
    assert "hotspot" in (tmp_path / "out" / "_library.yaml").read_text()

    # A draft: guide documents (one edited) and the images they name, by sha256, from the image store.
    documents = [g.to_dict() for g in load_library(library).guides.values()]
    wifi = next(d for d in documents if d["id"] == "airport-wifi")
    wifi["title"]["en"] = "Free Wi-Fi, all terminals"
    draft = export_documents(engine, tmp_path / "draft", documents)
    assert draft.version is None and (tmp_path / "draft" / "_library.yaml").exists() is False
    assert load_library(tmp_path / "draft").guides["airport-wifi"].title["en"] == "Free Wi-Fi, all terminals"
    with pytest.raises(ExportError, match="not available"):
        export_documents(engine, tmp_path / "lacking", documents, image_sha256s=[])
