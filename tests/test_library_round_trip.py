"""The library round-trips (issue 14, "Decided"): the sample library and its edits (an image added,
a jump to another guide, a deleted step, a second language, `_library.yaml` synonyms, then every
optional field the studio edits: a guide's icon and help, a step's image_alt, the settings'
categories, synonyms and help places; a rollback)
published as versions; each version exported with `kiosk-server export`, the folder published into
a fresh server and loaded with `kiosk import` gives the same content digest (contract/digest.py)
at every stage. The files and the server never diverge.

One test runs the real commands (`kiosk-server publish`, `export`, `kiosk import`, `kiosk status`)
on the latest version; the loop over every version calls the same functions in-process, so it
stays quick."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from contract.digest import library_digest
from contract.validation import load_library
from kiosk.paths import SAMPLE_LIBRARY
from offline_cache.store import Store
from server import db
from server.export import ExportError, export_version
from server.publish import library_of_version, publish_path, rollback

BIN = Path(sys.executable).parent

NEW_GUIDE = """\
id: phone-charging
language: en
title: Charging your phone
category: Airport services
keywords: [charger, charging, battery, plug]
start: where
steps:
  where:
    text: Do you need a plug or a USB port?
    choices:
      - {label: A plug, next: plug}
      - {label: A USB port, next: usb}
      - {label: My phone is broken, next: broken}
  plug:
    text: Plugs are under the seats at every gate.
    end: resolved
  usb:
    text: "USB ports are on the charging towers: gates B10 and B14."
    end: resolved
  broken:
    text: The phone shop by gate B2 repairs phones.
    end: escalate
"""

SYNONYMS = """\
synonyms:
  en:
    - [charger, power bank, plug]
    - [toilet, restroom, WC]
  es:
    - [cargador, enchufe]
"""


def _png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (24, 16), colour).save(out, format="PNG")
    return out.getvalue()


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path.name} no longer holds {old!r}"
    path.write_text(text.replace(old, new, 1))


# Each edit turns the working folder into the next version, as staff (or the studio) would.
def _add_guide_with_an_image(lib: Path) -> None:
    (lib / "images" / "charging.png").write_bytes(_png((20, 120, 200)))
    (lib / "phone-charging.yaml").write_text(NEW_GUIDE.replace(
        "    text: Plugs are under the seats at every gate.\n",
        "    text: Plugs are under the seats at every gate.\n    image: images/charging.png\n"))


def _add_a_jump(lib: Path) -> None:
    _edit(lib / "phone-charging.yaml", "      - {label: My phone is broken, next: broken}\n",
          "      - {label: My phone is broken, next: broken}\n      - {label: I lost my phone, guide: lost-and-found}\n")


def _delete_a_step(lib: Path) -> None:
    _edit(lib / "phone-charging.yaml", "      - {label: A USB port, next: usb}\n", "")
    _edit(lib / "phone-charging.yaml", '  usb:\n    text: "USB ports are on the charging towers: gates B10 and B14."\n'
          "    end: resolved\n", "")


def _add_a_second_language(lib: Path) -> None:
    guide = lib / "phone-charging.yaml"
    for en, es in [("title: Charging your phone", "title: {en: Charging your phone, es: Cargar el teléfono}"),
                   ("category: Airport services", "category: {en: Airport services, es: Servicios del aeropuerto}"),
                   ("text: Do you need a plug or a USB port?",
                    "text: {en: Do you need a plug or a USB port?, es: ¿Necesita un enchufe o un puerto USB?}"),
                   ("{label: A plug,", "{label: {en: A plug, es: Un enchufe},"),
                   ("{label: My phone is broken,", "{label: {en: My phone is broken, es: Mi teléfono está roto},"),
                   ("{label: I lost my phone,", "{label: {en: I lost my phone, es: Perdí mi teléfono},"),
                   ("text: Plugs are under the seats at every gate.",
                    "text: {en: Plugs are under the seats at every gate., es: Hay enchufes bajo los asientos.}"),
                   ("text: The phone shop by gate B2 repairs phones.",
                    "text: {en: The phone shop by gate B2 repairs phones., es: La tienda junto a B2 los repara.}")]:
        _edit(guide, en, es)


def _add_synonyms(lib: Path) -> None:
    (lib / "_library.yaml").write_text(SYNONYMS)


HELP_PLACES = """\
help:
  - text: {en: The information desk in the main hall, es: El mostrador de información}
  - site: terminal-2
    guide: phone-charging
    text: {en: The phone shop by gate B2}
"""


def _set_every_optional_field(lib: Path) -> None:
    """What the studio edits beyond texts: the guide's icon and help, a step's image_alt, the
    settings' categories (with icons, as the sample has them), synonyms and help places."""
    _edit(lib / "phone-charging.yaml", "category: {en: Airport services",
          "icon: charging\nhelp: {en: The phone shop by gate B2, es: La tienda junto a B2}\n"
          "category: {en: Airport services")
    _edit(lib / "phone-charging.yaml", "    image: images/charging.png\n",
          "    image: images/charging.png\n    image_alt: {en: A plug under a seat, es: Un enchufe bajo un asiento}\n")
    (lib / "_library.yaml").write_text((SAMPLE_LIBRARY / "_library.yaml").read_text(encoding="utf-8") + SYNONYMS
                                       + HELP_PLACES, encoding="utf-8")


EDITS = [_add_guide_with_an_image, _add_a_jump, _delete_a_step, _add_a_second_language, _add_synonyms,
         _set_every_optional_field]
EVERY = len(EDITS) + 1  # the content version with every edit (then one more: the rollback to 1)


def _engine(path: Path):
    engine = db.make_engine(str(path), pool_size=2)
    db.migrate(engine)
    return engine


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> tuple[Path, dict[int, str]]:
    """A server database holding the sample library and every edit as content versions 1-7, then
    version 8, a rollback to version 1; with each version's digest as its library had it."""
    tmp = tmp_path_factory.mktemp("round-trip")
    work = tmp / "library"
    shutil.copytree(SAMPLE_LIBRARY, work)
    engine = _engine(tmp / "server.db")
    digests = {publish_path(engine, work, by="test").content_version: library_digest(load_library(work))}
    for edit in EDITS:
        edit(work)
        result = publish_path(engine, work, by="test")
        digests[result.content_version] = library_digest(load_library(work))
        assert result.digest == digests[result.content_version]
    digests[rollback(engine, 1, by="test").content_version] = digests[1]
    engine.dispose()
    assert len(set(digests.values())) == len(EDITS) + 1, "every edit changed the content"
    return tmp / "server.db", digests


def test_every_published_version_exports_and_comes_back_as_the_same_content(published, tmp_path):
    server_db, digests = published
    engine = _engine(server_db)
    for version, digest in digests.items():
        folder = tmp_path / f"v{version}"
        exported = export_version(engine, folder, version)
        assert exported.digest == digest == library_digest(library_of_version(engine, version))
        # the sample library's categories (with their icons) in every version but 6, which replaced
        # them with synonyms, and 7 has all three settings: settings travel, and only where they are
        settings = (folder / "_library.yaml").read_text(encoding="utf-8")
        assert ("synonyms" in settings, "icon: baggage" in settings, "help:" in settings) == \
               (version in (6, EVERY), version != 6, version == EVERY)

        fresh = _engine(tmp_path / f"fresh-{version}.db")
        again = publish_path(fresh, folder, by="test")
        assert again.digest == digest, f"version {version} published from its export is other content"
        assert library_digest(library_of_version(fresh, again.content_version)) == digest

        store = Store(tmp_path / f"kiosk-{version}.db")
        store.import_library(load_library(folder))
        assert store.content_digest() == digest, f"version {version} imported from its export is other content"
        store.close()

        if version == EVERY:  # every edit at once
            guide = (folder / "phone-charging.yaml").read_text(encoding="utf-8")
            assert "icon: charging" in guide and "help:" in guide and "image_alt:" in guide
            twice = tmp_path / f"v{version}-again"
            export_version(fresh, twice, again.content_version)
            assert _files(twice) == _files(folder), "exporting the same content writes the same bytes"
        fresh.dispose()


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _run(*args: str, env: dict[str, str]) -> str:
    out = subprocess.run([str(BIN / args[0]), *args[1:]], env=env, capture_output=True, text=True, timeout=120,
                         check=False)
    assert out.returncode == 0, f"{' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def test_export_publish_and_kiosk_import_on_the_command_line(published, tmp_path):
    server_db, digests = published
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(server_db, source / "server.db")
    folder = tmp_path / "exported"

    out = _run("kiosk-server", "export", "--version", str(EVERY), str(folder), "--data-dir", str(source), env=env)
    assert f"content digest {digests[EVERY][:16]}" in out and "_library.yaml" in out
    assert "# Sample guide" not in (folder / "airport-wifi.yaml").read_text(), "comments are not kept (docs say so)"
    refused = subprocess.run([str(BIN / "kiosk-server"), "export", str(folder), "--data-dir", str(source)],
                             env=env, capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode == 1 and "is not empty" in refused.stderr and "--force" in refused.stderr

    published_again = _run("kiosk-server", "publish", str(folder), "--data-dir", str(tmp_path / "fresh"), env=env)
    assert f"content digest {digests[EVERY][:16]}" in published_again

    _run("kiosk", "import", str(folder), "--data-dir", str(tmp_path / "kiosk"), env=env)
    status = json.loads(_run("kiosk", "status", "--json", "--data-dir", str(tmp_path / "kiosk"), env=env))
    assert status["content_digest"] == digests[EVERY]

    # Without a version: the one the default group's kiosks receive (the rollback to 1).
    engine = _engine(source / "server.db")
    assert export_version(engine, folder, force=True).digest == digests[1]
    assert "synonyms" not in (folder / "_library.yaml").read_text(encoding="utf-8")
    assert not (folder / "phone-charging.yaml").exists()


def test_export_refuses_what_it_cannot_write(published, tmp_path):
    engine = _engine(published[0])
    with pytest.raises(ExportError, match="no content version 99"):
        export_version(engine, tmp_path / "out", 99)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match="is a file"):
        export_version(engine, tmp_path / "file", 1)
    empty = _engine(tmp_path / "empty.db")
    with pytest.raises(ExportError, match="nothing has been published"):
        export_version(empty, tmp_path / "out")
