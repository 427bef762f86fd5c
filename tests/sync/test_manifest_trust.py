"""What a kiosk trusts: the server key it pinned on first use, and only manifests that are both
signed by it and sane. In every refusal the content travellers see stays exactly as it was."""

from __future__ import annotations

import pytest

from contract.guides import load_library
from kiosk.sync import SyncService
from tests.sync.fake_transport import FakeServer, FakeTransport
from tests.sync.libgen import write_library


def _installed(store) -> tuple[str | None, dict]:
    return store.content_version, dict(store.guide_versions())


def test_first_sync_pins_the_servers_key_and_a_later_key_is_refused(store, tmp_path):
    server = FakeServer()
    server.publish(load_library(write_library(tmp_path / "lib", guides=3, images=1)))
    sync = SyncService(store, FakeTransport(server), device="k1")  # no server_key configured
    first = sync.sync_once()
    assert first.result == "ok" and first.content_version == "1"
    assert store.get_state("server_key_tofu") == server.public_key
    before = _installed(store)

    # Someone else answers at the server's address: their content is signed, but not by the
    # key this kiosk pinned.
    impostor = FakeServer()
    impostor.publish(load_library(write_library(tmp_path / "other", guides=5, images=2, seed=3)))
    impostor.publish(load_library(write_library(tmp_path / "other", guides=5, images=2, seed=4)))
    sync.transport = FakeTransport(impostor)
    res = sync.sync_once()
    assert res.result == "rejected" and "signature does not match the pinned server key" in res.error
    assert _installed(store) == before
    assert store.get_state("server_key_tofu") == server.public_key, "the pin is not replaced"
    assert "server_key" not in impostor.requests, "a pinned kiosk never asks for a new key"


@pytest.mark.parametrize(("spoil", "reason"), [
    (lambda m: m.update(guides=list(m["guides"])), "guides is not a mapping"),
    (lambda m: next(iter(m["guides"].values())).update(sha256="not-hex" * 9),
     "is not 64 hex digits"),
    (lambda m: next(iter(m["guides"].values())).update(version=-1), "version -1 is not a positive integer"),
    (lambda m: m.update(content_version=-2), "content_version is not a positive integer"),
    (lambda m: m["guides"].update({"../../etc": {"version": 1, "sha256": "0" * 64}}),
     "guide id '../../etc' is not a guide id"),
    (lambda m: m.update(images={"zz": {"size": 1}}), "image 'zz' is not named by a sha256 digest"),
])
def test_a_malformed_but_signed_manifest_is_refused_with_its_reason(store, tmp_path, spoil, reason):
    lib = write_library(tmp_path / "lib", guides=3, images=1)
    server = FakeServer()
    server.publish(load_library(lib))
    sync = SyncService(store, FakeTransport(server), device="k1", server_key=server.public_key)
    assert sync.sync_once().result == "ok"
    before = _installed(store)

    write_library(lib, guides=3, images=1, revision={"guide-0001": 1})
    server.publish(load_library(lib))
    spoil(server.manifest)  # FakeTransport signs what it serves: the signature is valid
    server.requests.clear()
    res = sync.sync_once()
    assert res.result == "rejected"
    assert "the manifest is malformed" in res.error and reason in res.error
    assert _installed(store) == before
    assert "guide" not in server.requests and "image" not in server.requests, "nothing was fetched"
    assert store.get_state("last_sync")["error"] == res.error, "kiosk status shows the reason"
