"""Mixed fleets keep working (shared/DESIGN.md): a kiosk of the previous release syncs with
today's server, and today's kiosk syncs with the previous release's server. Both get the
published content and both deliver the events a traveller left.

The previous release is a commit of this repository's history, unpacked with `git archive` and
run from its own source tree. A checkout without that history (a shallow clone) fails here on
purpose: CI uses a full clone, and a compatibility test that skips is one nobody runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.paths import SAMPLE_LIBRARY
from tests.sync.conftest import ServerProc

PREVIOUS_RELEASE = "d2a8cda"  # kiosk CLI with --server/--token for run and sync; no protocol header
REPO = Path(__file__).resolve().parents[2]
SAMPLE_GUIDES = len([f for f in SAMPLE_LIBRARY.glob("*.yaml") if f.name != "_library.yaml"])

# A traveller's session, written with the engine of the tree on PYTHONPATH (either release).
RECORD_SESSION = """
import sys
from kiosk.engine import SessionEngine
from offline_cache.store import Store
store = Store(sys.argv[1])
engine = SessionEngine(store, sys.argv[2])
engine.start_session("en")
engine.open_guide("lost-baggage")
engine.choose(0)
engine.feedback(True, 5, "found it")
engine.end_session()
print(store.outbox_depth())
"""

# The QR link today's kiosk shows after syncing (a traveller's phone opens it on the server).
TODAYS_QR_LINK = """
import sys
from kiosk.engine import Position
from kiosk.handoff import HandoffLinks
from kiosk.settings import Settings
from offline_cache.store import Store
store = Store(sys.argv[1])
guide, version = store.guide("lost-baggage")
links = HandoffLinks(Settings(device=sys.argv[2], token=sys.argv[3], server_url=sys.argv[4]),
                     lambda: store.get_state("server_protocol"))
print(links.url_for(Position(guide.id, version, guide.start), "compat-session", "en"))
"""


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory) -> Path:
    tree = tmp_path_factory.mktemp("previous-release")
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", PREVIOUS_RELEASE],
                             capture_output=True, check=False)
    if archive.returncode != 0:
        pytest.fail(f"the previous release {PREVIOUS_RELEASE} is not in this checkout's git history "
                    f"({archive.stderr.decode().strip()}); the compatibility test needs a full clone "
                    "(git fetch --unshallow)", pytrace=False)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


class Release:
    """The `kiosk` command and engine of one source tree, on one data dir."""

    def __init__(self, tree: Path, data_dir: Path):
        self.tree, self.data_dir = tree, data_dir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
        self.env["PYTHONPATH"] = str(tree)

    def python(self, *args: str) -> str:
        out = subprocess.run([sys.executable, *args], env=self.env, cwd=self.tree, capture_output=True,
                             text=True, timeout=120, check=False)
        assert out.returncode == 0, f"{self.tree}: python {' '.join(args[:3])} failed:\n{out.stdout}\n{out.stderr}"
        return out.stdout

    def kiosk(self, *args: str) -> dict:
        return json.loads(self.python("-m", "kiosk.cli", *args, "--data-dir", str(self.data_dir), "--json"))

    def used_by_a_traveller(self) -> tuple[str, int]:
        """A new data dir (sample library, generated device name) and one session's events."""
        device = self.kiosk("status")["device"]
        recorded = int(self.python("-c", RECORD_SESSION, str(self.data_dir / "kiosk.db"), device))
        assert recorded >= 4
        return device, recorded


def _server_events(server: ServerProc) -> list[str]:
    with server.db() as conn:
        return [r[0] for r in conn.execute("SELECT device FROM events")]


def _older_sample(kiosk: Release, server: ServerProc) -> Path:
    """The sample library of the older release of the two (today's when both are today's)."""
    tree = server.cwd or (kiosk.tree if kiosk.tree != REPO else None)
    return SAMPLE_LIBRARY if tree is None else Path(tree) / "assets" / "library"


def _sync_and_check(kiosk: Release, server: ServerProc, tmp_path: Path) -> str:
    """Returns the device token."""
    device, recorded = kiosk.used_by_a_traveller()
    token = server.add_device(device)
    # the older side's own sample library: a previous-release server refuses fields added since (a
    # guide's icon), and a previous-release kiosk refuses a guide with one by name (it rebuilds the
    # canonical form without the field, so the sha256 differs); content without them syncs
    server.publish(_older_sample(kiosk, server))
    # The previous release issued bare token_urlsafe tokens, one in 64 of which starts with "-":
    # "--token=" is how an operator passes such a token, and how this must, or it fails by chance.
    result = kiosk.kiosk("sync", "--server", server.url, f"--token={token}")
    assert result["result"] == "ok", result
    status = kiosk.kiosk("status")
    assert status["content_version"] == str(server.content_version()), "the published content arrived"
    assert status["guides"] == SAMPLE_GUIDES
    assert status["outbox_depth"] == 0 and status["rejected_events"] == 0
    assert _server_events(server) == [device] * recorded, "every event is stored under its device"
    return token


def test_previous_release_kiosk_syncs_with_todays_server(tmp_path, previous_release):
    server = ServerProc(tmp_path / "server").start()
    try:
        kiosk = Release(previous_release, tmp_path / "kiosk")
        token = _sync_and_check(kiosk, server, tmp_path)
        # A manifest that carries _library.yaml settings (its optional "library" entry): that
        # kiosk knows nothing of them, still verifies the signature and installs the guides.
        library = tmp_path / "with-settings"
        shutil.copytree(_older_sample(kiosk, server), library)
        (library / "_library.yaml").write_text("synonyms:\n  en:\n    - [toilet, restroom, WC]\n")
        server.publish(library)
        result = kiosk.kiosk("sync", "--server", server.url, f"--token={token}")
        assert result["result"] == "ok", result
        assert kiosk.kiosk("status")["content_version"] == str(server.content_version())
    finally:
        server.stop()


def _todays_qr_link_opens(kiosk: Release, server: ServerProc, token: str) -> None:
    import requests

    url = kiosk.python("-c", TODAYS_QR_LINK, str(kiosk.data_dir / "kiosk.db"), kiosk.kiosk("status")["device"],
                       token, server.url).strip()
    page = requests.get(url, timeout=10)
    assert page.status_code == 200, f"the phone cannot open the kiosk's QR link {url}: HTTP {page.status_code}"


def test_todays_kiosk_syncs_with_the_previous_release_server(tmp_path, previous_release):
    server = ServerProc(tmp_path / "server", release=previous_release).start()
    try:
        kiosk = Release(REPO, tmp_path / "kiosk")
        token = _sync_and_check(kiosk, server, tmp_path)
        # That server reads no issue time in a link: the kiosk leaves it out (protocol 3 adds it).
        _todays_qr_link_opens(kiosk, server, token)
    finally:
        server.stop()


def test_todays_kiosk_qr_link_carries_its_time_to_todays_server(tmp_path):
    server = ServerProc(tmp_path / "server").start()
    try:
        kiosk = Release(REPO, tmp_path / "kiosk")
        token = _sync_and_check(kiosk, server, tmp_path)
        url = kiosk.python("-c", TODAYS_QR_LINK, str(kiosk.data_dir / "kiosk.db"), kiosk.kiosk("status")["device"],
                           token, server.url)
        assert "&t=" in url, "a server of protocol 3 reads the link's time, so the link can expire"
        _todays_qr_link_opens(kiosk, server, token)
    finally:
        server.stop()
