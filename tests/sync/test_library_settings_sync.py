"""A library's `_library.yaml` travels end to end (shared/DESIGN.md, "Library-level settings"):
published with the guides, carried in the signed manifest, installed by `kiosk sync` in the same
switch as the guides. Synonyms staff add reach a kiosk's search; a version without the file takes
them away again; a rollback brings back the settings of the version it goes back to."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.sync.conftest import Kiosk, ServerProc

SEARCH_LIBRARY = Path(__file__).parents[1] / "fixtures" / "search-library"


def _hits(kiosk: Kiosk, text: str) -> list[dict]:
    out = kiosk.run("search", text, "--lang", "en", "--json")
    return json.loads(out.stdout)["hits"]


def _synced(kiosk: Kiosk, version: int) -> None:
    kiosk.run("sync")
    store = kiosk.store()
    try:
        assert store.content_version == str(version)
    finally:
        store.close()


def test_synonyms_published_reach_kiosk_search_and_leave_with_the_file(tmp_path, server: ServerProc, kiosk: Kiosk):
    library = tmp_path / "library"
    shutil.copytree(SEARCH_LIBRARY, library)

    out = server.cli("validate", str(library))
    assert "_library.yaml" in out and "not yet" not in out
    server.publish(library)
    _synced(kiosk, 1)
    hits = _hits(kiosk, "restroom")  # a word only _library.yaml has
    assert hits and hits[0]["guide"] == "toilets" and hits[0]["match"] == "synonym"

    (library / "_library.yaml").unlink()
    server.publish(library)  # the guides unchanged: only the settings differ
    _synced(kiosk, 2)
    assert "toilets" not in [h["guide"] for h in _hits(kiosk, "restroom")]

    server.cli("rollback", "1")  # version 3: the content of version 1, its synonyms with it
    _synced(kiosk, 3)
    hits = _hits(kiosk, "restroom")
    assert hits and hits[0]["guide"] == "toilets" and hits[0]["match"] == "synonym"
