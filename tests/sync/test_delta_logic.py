"""Delta manifests in the sync logic (fast, an in-memory server): applying a delta gives the
target manifest key for key, and a delta that is validly signed yet does not add up is refused
and the full manifest used. The real server and `kiosk sync` are in test_delta_sync.py."""

from __future__ import annotations

import base64
import copy

import pytest

from contract.canonical import canonical_json
from contract.delta import DeltaMismatch, apply_delta, make_delta
from contract.digest import library_digest
from contract.validation import load_library
from kiosk.sync import SyncService
from kiosk.transport import ManifestReply
from tests.sync.fake_transport import FakeServer, FakeTransport
from tests.sync.libgen import write_library


class DeltaTransport(FakeTransport):
    """FakeTransport with the delta route; `spoil` changes the delta before the server signs it
    (a server bug, or a base that is not the kiosk's: the signature is valid, the content is not)."""

    spoil = None
    spoil_manifest_signature = False

    def fetch_delta(self, since: int, epoch: int, etag: str | None = None) -> ManifestReply:
        self._call("delta")
        s = self.server
        if etag == s.etag():
            return ManifestReply(304, etag=etag)
        delta = make_delta(s.history[since], s.manifest)
        if self.spoil:
            self.spoil(delta)
        signed = s.manifest if not self.spoil_manifest_signature else {**s.manifest, "content_version": 99}
        return ManifestReply(200, None, self._sign(signed), s.etag(), delta, self._sign(delta))

    def _sign(self, doc) -> str:
        return base64.b64encode(self.server.key.sign(canonical_json(doc))).decode()


def _published(tmp_path) -> tuple[FakeServer, object]:
    lib = write_library(tmp_path / "lib", guides=6, images=2)
    server = FakeServer()
    server.publish(load_library(lib))
    return server, lib


def test_a_delta_applied_gives_the_target_manifest_exactly(tmp_path):
    server, lib = _published(tmp_path)
    (lib / "_library.yaml").write_text("synonyms:\n  en:\n    - [toilet, restroom]\n")
    (lib / "guide-0005.yaml").unlink()
    write_library(lib, guides=5, images=3, revision={"guide-0001": 1})
    server.publish(load_library(lib))
    base, target = server.history[1], {**server.history[2], "group": "pilot", "epoch": 2}
    delta = make_delta(base, target)
    assert set(delta["guides"]) == {"guide-0001", "guide-0002"} and delta["removed"] == ["guide-0005"]
    assert len(delta["images"]) == 1 and delta["images_removed"] == []
    assert set(delta["set"]) == {"content_version", "library", "group", "epoch"}
    assert canonical_json(apply_delta(base, delta)) == canonical_json(target)
    back = make_delta(target, base)  # the way down: settings, group and epoch unset
    assert set(back["unset"]) == {"library", "group", "epoch"}
    assert canonical_json(apply_delta(target, back)) == canonical_json(base)
    assert base == server.history[1], "the base is not changed"


@pytest.mark.parametrize(("spoil", "reason"), [
    (lambda d: d.update(digest="0" * 64), "does not have the digest it names"),
    (lambda d: d["removed"].append("guide-0099"), "removes guide 'guide-0099'"),
    (lambda d: d.update(since=7), "starts from content version 7"),
    (lambda d: d["guides"].clear(), "does not have the digest it names"),
    (lambda d: d.update(guides=["guide-0001"]), "are not a mapping"),
])
def test_spoiled_but_signed_deltas_are_refused(tmp_path, spoil, reason):
    server, lib = _published(tmp_path)
    write_library(lib, guides=6, images=2, revision={"guide-0003": 1})
    server.publish(load_library(lib))
    delta = make_delta(server.history[1], server.history[2])
    spoil(delta)
    with pytest.raises(DeltaMismatch, match=reason):
        apply_delta(copy.deepcopy(server.history[1]), delta)


@pytest.mark.parametrize("how", ["digest", "manifest_signature", "none"])
def test_a_delta_that_does_not_add_up_means_the_full_manifest(store, tmp_path, how):
    server, lib = _published(tmp_path)
    transport = DeltaTransport(server)
    sync = SyncService(store, transport, device="k1", server_key=server.public_key)
    assert sync.sync_once().result == "ok" and server.requests.count("manifest") == 1
    for version in (2, 3, 4):  # three versions behind
        write_library(lib, guides=6, images=2 + version // 3, revision={"guide-0003": version})
        server.publish(load_library(lib))
    if how == "digest":
        transport.spoil = lambda d: d.update(digest="0" * 64)
    transport.spoil_manifest_signature = how == "manifest_signature"
    server.requests.clear()
    res = sync.sync_once()
    assert (res.result, res.content_version) == ("ok", "4")
    fetched = [r for r in server.requests if r in ("delta", "manifest")]
    assert fetched == (["delta"] if how == "none" else ["delta", "manifest"])
    assert store.content_digest() == library_digest(load_library(lib))
    assert {g: v for g, (v, _) in store.guide_versions().items()} == {g: v for g, (v, _) in server.current.items()}
    assert store.get_state("installed_manifest") == server.manifest
