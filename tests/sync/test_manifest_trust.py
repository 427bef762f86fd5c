"""What a kiosk trusts: the server key it pinned on first use, and only manifests that are both
signed by it and sane. In every refusal the content travellers see stays exactly as it was."""

from __future__ import annotations

import pytest

from contract.validation import load_library
from kiosk.sync import SyncService
from kiosk.sync.manifest import ContentRejected
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


def _manifest(version: int, **extra) -> dict:
    return {"content_version": version, "guides": {}, "images": {}, **extra}


@pytest.mark.parametrize(("manifest", "installed", "accepted", "refusal"), [
    (_manifest(7), "7", 0, None),
    (_manifest(8), "7", 0, None),
    (_manifest(5), "7", 0, "content version 5 is older than the installed 7"),
    (_manifest(5, epoch=1), "7", 0, None),  # a rollback or a group move: down with a higher epoch
    (_manifest(5, epoch=1), "7", 1, "content version 5 is older than the installed 7"),
    (_manifest(9), "5", 1, "epoch 0 is older than the accepted 1"),  # a replay would undo a rollback
    (_manifest(9, epoch=2, group="pilot"), "5", 1, None),
    (_manifest(3), None, 0, None),
    (_manifest(3), "sample", 4, "epoch 0 is older than the accepted 4"),
])
def test_a_lower_version_only_with_a_higher_epoch_and_never_a_lower_epoch(manifest, installed, accepted, refusal):
    from kiosk.sync.manifest import check_freshness

    if refusal is None:
        check_freshness(manifest, installed, accepted)
    else:
        with pytest.raises(ContentRejected, match=refusal):
            check_freshness(manifest, installed, accepted)


@pytest.mark.parametrize(("extra", "reason"), [
    ({"epoch": -1}, "epoch is not a whole number"),
    ({"epoch": True}, "epoch is not a whole number"),
    ({"group": ""}, "group is not a group name"),
    ({"group": 7}, "group is not a group name"),
])
def test_a_malformed_epoch_or_group_is_refused(extra, reason):
    from kiosk.sync.manifest import check_manifest_shape

    with pytest.raises(ContentRejected, match=reason):
        check_manifest_shape(_manifest(1, **extra))
