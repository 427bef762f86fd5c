"""A library's `_library.yaml` travels end to end (shared/DESIGN.md, "Library-level settings"):
published with the guides, carried in the signed manifest, installed by `kiosk sync` in the same
switch as the guides. Synonyms staff add reach a kiosk's search; a version without the file takes
them away again; a rollback brings back the settings of the version it goes back to."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx

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

    out = server.publish(library)
    assert "_library.yaml: 6 synonym group(s)" in out and "not yet" not in out
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

    # The dashboard's Library page says which versions changed the synonyms (no guide changed).
    subprocess.run([*server.command, "staff", "add", "maria", "--password-stdin"], env=server.env, check=True,
                   input="a long staff password\n", text=True, capture_output=True, timeout=60)
    with httpx.Client(base_url=server.url, timeout=30) as staff:
        staff.post("/dashboard/login", data={"username": "maria", "password": "a long staff password"})
        page = staff.get("/dashboard/library").text
    rows = dict(re.findall(r'<tr data-version="(\d+)">(.*?)</tr>', page, re.DOTALL))
    assert "_library.yaml (search synonyms) removed" in rows["2"] and "no guide changed" in rows["2"]
    assert "_library.yaml (search synonyms) added" in rows["3"]
