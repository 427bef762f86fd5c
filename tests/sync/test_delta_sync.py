"""Delta manifests end to end (issue 16): the real `kiosk sync` against `kiosk-server serve` on
loopback, through an HTTP proxy that records what was asked and can lie about a delta.

A kiosk many versions behind asks for what changed since its version and ends on exactly the
published content (the one digest, contract/digest.py); an unchanged library stays one 304; a delta
whose signature or contents do not match is refused and the full manifest is used; a version the
server does not have, or whose stored manifest is damaged, gets the full manifest; a kiosk moved to
another group gets that group's full manifest and ends on its content exactly. One server and one
kiosk for all of it: each `kiosk sync` and `kiosk-server` command is a process start.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import requests

from contract.digest import library_digest
from contract.validation import load_library
from tests.server.server_testkit import zip_bytes
from tests.sync.conftest import Kiosk, ServerProc
from tests.sync.libgen import write_library
from tests.sync.tamper import DELTA, TamperProxy

MANIFEST = "/api/v1/content/manifest"


@pytest.fixture
def server(tmp_path):
    """The sync tests' server, where an upload publishes at once (review_two_people off: these
    tests publish many versions; an upload waiting for review is tests/server/test_studio.py's)."""
    srv = ServerProc(tmp_path / "server")
    (srv.data_dir / "server.toml").write_text("review_two_people = false\n", encoding="utf-8")
    srv.start()
    yield srv
    srv.stop()


class Publisher:
    """A staff login publishing through POST /api/v1/publish (as the studio and scripts do), so a
    test publishing many versions does not start a `kiosk-server publish` process for each."""

    def __init__(self, server: ServerProc):
        self.url = server.url
        subprocess.run([*server.command, "staff", "add", "editor", "--password-stdin"], input="delta-pass\n",
                       env=server.env, cwd=server.cwd, capture_output=True, text=True, timeout=120, check=True)

    def __call__(self, lib, to: str | None = None) -> int:
        reply = requests.post(f"{self.url}/api/v1/publish", auth=("editor", "delta-pass"), timeout=60,
                              files={"library": ("lib.zip", zip_bytes(lib), "application/zip")},
                              data={"to": to} if to else None)
        assert reply.status_code == 200, reply.text
        return reply.json()["content_version"]


def _sync(kiosk: Kiosk, proxy: TamperProxy) -> tuple[dict, list[str]]:
    """One `kiosk sync`; its result and the content paths it asked for."""
    proxy.paths.clear()
    result = json.loads(kiosk.run("sync", "--json").stdout)
    return result, [p.split("?")[0] for p in proxy.paths if p.startswith(("/api/v1/content/manifest", DELTA))]


def _on(kiosk: Kiosk, lib) -> bool:
    """The kiosk holds exactly the library folder's content (same digest, same image bytes)."""
    store = kiosk.store()
    try:
        return store.content_digest() == library_digest(load_library(lib))
    finally:
        store.close()


def test_kiosks_behind_get_deltas_and_a_bad_delta_or_another_group_the_full_manifest(tmp_path, server: ServerProc):
    publish = Publisher(server)
    lib = write_library(tmp_path / "lib", guides=30, images=3)
    publish(lib)
    with TamperProxy(server.url) as proxy:
        kiosk = Kiosk(tmp_path / "kiosk", server, "kiosk-1", url=proxy.url)
        first, asked = _sync(kiosk, proxy)
        assert first["result"] == "ok" and asked == [MANIFEST], "the first sync has no base: full manifest"

        # Three versions later: guides changed, one added with a new image, one removed.
        write_library(lib, guides=30, images=3, revision={"guide-0001": 1})
        publish(lib)
        write_library(lib, guides=30, images=3, revision={"guide-0001": 2, "guide-0007": 1})
        publish(lib)
        (lib / "guide-0029.yaml").unlink()
        write_library(lib, guides=29, images=4, revision={"guide-0001": 2, "guide-0007": 1, "guide-0003": 1})
        assert publish(lib) == 4
        behind, asked = _sync(kiosk, proxy)
        assert (behind["result"], behind["content_version"]) == ("ok", "4"), behind
        assert asked == [DELTA + "1"] and proxy.deltas == 1, "one delta from version 1, no full manifest"
        assert (behind["guides_downloaded"], behind["images_downloaded"]) == (3, 1)
        assert _on(kiosk, lib) and "guide-0029" not in kiosk.store().guide_versions()

        unchanged, asked = _sync(kiosk, proxy)
        assert unchanged["result"] == "unchanged" and asked == [DELTA + "4"], "still one 304"

        # A delta signed by someone else, then one whose contents were changed: both refused, the
        # full manifest used, and the kiosk on exactly the new content.
        for mode, revision in (("delta_resign", 3), ("delta_contents", 4)):
            proxy.mode, proxy.tampered = mode, 0
            write_library(lib, guides=29, images=4, revision={"guide-0001": revision})
            version = publish(lib)
            refused, asked = _sync(kiosk, proxy)
            assert proxy.tampered == 1 and (refused["result"], refused["content_version"]) == ("ok", str(version))
            assert asked == [DELTA + str(version - 1), MANIFEST], mode
            assert _on(kiosk, lib), mode
        proxy.mode = "none"

        # The version the kiosk has (6) is damaged in the server's database: the server sends the
        # full manifest rather than a delta from it.
        with server.db() as conn:
            conn.execute("UPDATE content_versions SET manifest_json = '{\"content_version\": 6' WHERE version = 6")
        write_library(lib, guides=29, images=4, revision={"guide-0002": 1})
        publish(lib)
        deltas = proxy.deltas
        healed, asked = _sync(kiosk, proxy)
        assert (healed["result"], healed["content_version"]) == ("ok", "7") and asked == [DELTA + "6"]
        assert proxy.deltas == deltas, "the full manifest came back on the delta route"
        assert _on(kiosk, lib)

        # Moved to another group (a new epoch): the server sends that group's full manifest on the
        # delta route, and the kiosk ends on exactly its content.
        server.cli("group", "add", "pilot")
        pilot_lib = write_library(tmp_path / "pilot-lib", guides=12, images=3, seed=2,
                                  revision={"guide-0004": 1, "guide-0009": 2})
        assert publish(pilot_lib, to="pilot") == 8
        server.cli("group", "move", "kiosk-1", "pilot")
        deltas = proxy.deltas
        moved, asked = _sync(kiosk, proxy)
        assert (moved["result"], moved["content_version"]) == ("ok", "8") and asked == [DELTA + "7"]
        assert proxy.deltas == deltas, "another group: the full manifest, not a delta"
        assert _on(kiosk, pilot_lib)
        store = kiosk.store()
        assert (store.get_state("content_group"), store.get_state("content_epoch")) == ("pilot", 1)
        store.close()

    # A version the server never had (a database restored from an older backup): the full manifest.
    reply = requests.get(f"{server.url}/api/v1/content/delta/999", params={"epoch": 1}, timeout=10,
                         headers={"Authorization": f"Bearer {kiosk.token}", "X-Kiosk-Protocol": "4"})
    assert reply.status_code == 200 and reply.json()["manifest"]["content_version"] == 8
