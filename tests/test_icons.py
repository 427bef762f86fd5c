"""Pictograms (issue 12, "Icons"): a guide and a `_library.yaml` category may name one of the
shipped icons; an unknown name is a named problem wherever a library is judged (a folder, the
documents a server serves, `kiosk import`); a guide without an icon keeps its canonical bytes;
the kiosk's store gives categories their icon and title and guides their icon."""

from __future__ import annotations

import copy
import os
import subprocess
from pathlib import Path

import pytest
from library_factory import base_guides, write_library
from PIL import Image

from contract.guides import Guide, LibraryInvalid
from contract.icons import ICONS, icon_problem
from contract.validation import library_from_documents, load_library
from offline_cache.store import Store

REPO = Path(__file__).resolve().parent.parent
ICON_DIR = REPO / "screens" / "icons"


def _problems(root: Path) -> list[str]:
    with pytest.raises(LibraryInvalid) as caught:
        load_library(root)
    return [str(p) for p in caught.value.problems]


def test_a_guide_without_an_icon_keeps_its_canonical_bytes_and_one_with_it_carries_it(tmp_path):
    plain = load_library(write_library(tmp_path / "plain")).guides["lost-baggage"]
    assert b'"icon"' not in plain.canonical_json()
    guides = base_guides()
    guides["lost-baggage.yaml"]["icon"] = "baggage"
    marked = load_library(write_library(tmp_path / "marked", guides)).guides["lost-baggage"]
    assert marked.icon == "baggage" and marked.sha256 != plain.sha256
    again = Guide.from_dict(marked.to_dict())
    assert again.icon == "baggage" and again.sha256 == marked.sha256


def test_an_unknown_icon_is_named_with_the_nearest_names(tmp_path):
    guides = base_guides()
    guides["lost-baggage.yaml"]["icon"] = "bagage"
    root = write_library(tmp_path / "lib", guides)
    (root / "_library.yaml").write_text("categories:\n  - title: {en: Baggage}\n    icon: toilet\n"
                                        "  - title: {en: Wi-Fi}\n    icon: 7\n")
    found = _problems(root)
    assert any(p.startswith("lost-baggage.yaml: icon 'bagage' is not a shipped icon; did you mean baggage")
               for p in found), found
    assert any("category 1: icon 'toilet' is not a shipped icon; did you mean toilets" in p for p in found), found
    assert any("category 2: icon '7' is not a shipped icon; known: accessible" in p for p in found), found
    # what a server serves is judged again by the kiosk, with the same words
    doc = copy.deepcopy(load_library(write_library(tmp_path / "ok")).guides["lost-baggage"].to_dict())
    doc["icon"] = "bagage"
    with pytest.raises(LibraryInvalid, match="icon 'bagage' is not a shipped icon; did you mean baggage"):
        library_from_documents([doc], {})
    # a name nothing resembles gets the whole list; what is no name at all is told what a name is
    assert "known: accessible, arrivals" in icon_problem("zzzz")
    assert icon_problem(["baggage"]) == "icon must be the name of a shipped icon, like baggage or toilets"


def test_kiosk_import_refuses_an_unknown_icon_by_name(tmp_path):
    guides = base_guides()
    guides["lost-baggage.yaml"]["icon"] = "luggage"
    root = write_library(tmp_path / "lib", guides)
    out = subprocess.run([str(REPO / ".venv" / "bin" / "kiosk"), "import", str(root), "--data-dir",
                          str(tmp_path / "kiosk")], capture_output=True, text=True, timeout=60, check=False,
                         env={**os.environ, "KIOSK_ASSETS": str(tmp_path / "none")})
    assert out.returncode != 0
    assert "icon 'luggage' is not a shipped icon" in out.stdout + out.stderr


def test_every_name_has_its_picture_and_the_licence_is_beside_them():
    pictures = {p.stem for p in ICON_DIR.glob("*.png")}
    assert pictures == set(ICONS)
    for name in ICONS:
        with Image.open(ICON_DIR / f"{name}.png") as im:
            # white on transparent, so the kiosk tints it with the text's colour in every mode
            assert im.mode == "RGBA" and im.size == (128, 128) and im.getextrema()[3][1] == 255, name
            assert im.getextrema()[:3] == ((255, 255),) * 3, name
    assert "Apache License" in (ICON_DIR / "LICENSE").read_text()


def test_the_store_gives_categories_their_library_title_and_icon_and_guides_theirs(tmp_path):
    guides = base_guides()
    guides["lost-baggage.yaml"]["icon"] = "baggage"
    root = write_library(tmp_path / "lib", guides)
    category = guides["lost-baggage.yaml"].get("category", {"en": "General"})
    english = category["en"] if isinstance(category, dict) else category
    (root / "_library.yaml").write_text(f"categories:\n  - title: {{en: {english}, ar: الأمتعة}}\n"
                                        "    icon: baggage-claim\n")
    store = Store(tmp_path / "kiosk.db")
    store.import_library(load_library(root))
    cats = {c.name: c for c in store.categories("ar")}
    assert cats["الأمتعة"].icon == "baggage-claim"
    assert {c.icon for c in store.categories("en") if c.name != english} == {None}
    assert store.guide_icons() == {"lost-baggage": "baggage"}
