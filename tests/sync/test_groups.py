"""Staged rollout with two rollout groups and real kiosks (issue 15): the kiosks' own sync code
(SyncService over the real HttpTransport, no Kivy) against `kiosk-server serve` on loopback,
administered through the real `kiosk-server` command.

A version published to one group reaches only that group; promote reaches the rest; a rollback
for one group takes its kiosks down to the lower version (their epoch rises) while the other group
stays; a group move gives a kiosk its new group's version even when lower; a replayed older
manifest, validly signed but with the old epoch, is still refused.
"""

from __future__ import annotations

import json

from kiosk.sync import SyncService
from kiosk.transport import HttpTransport, ManifestReply
from offline_cache.store import Store
from tests.sync.conftest import Kiosk, ServerProc
from tests.sync.libgen import write_library


def _service(kiosk: Kiosk) -> SyncService:
    transport = HttpTransport(kiosk.settings.server_url, kiosk.token, kiosk.data_dir)
    return SyncService(Store(kiosk.settings.db_path), transport, device=kiosk.name,
                       server_key=kiosk.settings.server_key, data_dir=kiosk.data_dir)


class Replaying:
    """The real transport, except that the manifest is one recorded earlier: an attacker on the
    network replaying what the server really signed."""

    def __init__(self, transport: HttpTransport, reply: ManifestReply):
        self._transport, self._reply = transport, reply

    def fetch_manifest(self, etag: str | None = None) -> ManifestReply:
        return self._reply

    def fetch_delta(self, since: int, epoch: int, etag: str | None = None) -> ManifestReply:
        return self._reply  # the delta route answers with a full manifest too when it has no delta

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


def _sync(service: SyncService) -> tuple[str, str | None]:
    result = service.sync_once()
    return result.result, result.content_version


def _guide_1(service: SyncService) -> int:
    return service.store.guide_versions()["guide-0001"][0]


def test_two_groups_stage_promote_roll_back_and_move(tmp_path, server: ServerProc):
    lib = write_library(tmp_path / "lib", guides=4, images=1)
    server.publish(lib)  # content version 1, to every group
    server.cli("group", "add", "pilot")
    gate_kiosk = Kiosk(tmp_path / "gate", server, "gate-1")
    gate = _service(gate_kiosk)
    pilot = _service(Kiosk(tmp_path / "pilot", server, "pilot-1", group="pilot"))
    assert _sync(gate) == ("ok", "1") and _sync(pilot) == ("ok", "1")

    # Staged: only the pilot group's kiosk receives version 2.
    write_library(lib, guides=4, images=1, revision={"guide-0001": 1})
    assert "Only group 'pilot' receives it" in server.cli("publish", str(lib), "--to", "pilot")
    assert _sync(pilot) == ("ok", "2") and _guide_1(pilot) == 2
    assert _sync(gate) == ("unchanged", "1") and _guide_1(gate) == 1

    # Promoted: every group has version 2.
    assert "Group 'default' moved from content version 1 to 2" in server.cli("promote", "2")
    assert _sync(gate) == ("ok", "2") and _guide_1(gate) == 2

    # Version 3 for the pilot group; what the server signed for each kiosk is recorded on the way.
    write_library(lib, guides=4, images=1, revision={"guide-0001": 2})
    server.cli("publish", str(lib), "--to", "pilot")
    assert _sync(pilot) == ("ok", "3")
    pilot_v3 = pilot.transport.fetch_manifest(None)
    gate_v2 = gate.transport.fetch_manifest(None)
    assert "epoch" not in gate_v2.manifest and "group" not in gate_v2.manifest, "defaults are left out"
    assert pilot_v3.manifest["group"] == "pilot" and "epoch" not in pilot_v3.manifest

    # Rolled back for the pilot group only, to version 1: its kiosk goes down (epoch 1); the gate stays.
    server.cli("rollback", "1", "--to", "pilot")
    assert _sync(pilot) == ("ok", "1") and _guide_1(pilot) == 1
    assert pilot.store.get_state("content_epoch") == 1
    assert _sync(gate) == ("unchanged", "2") and _guide_1(gate) == 2

    # A replay of the version-3 manifest (signed by the server, epoch 0) does not undo the rollback.
    real = pilot.transport
    pilot.transport = Replaying(real, pilot_v3)
    replayed = pilot.sync_once()
    assert replayed.result == "rejected" and "epoch 0 is older than the accepted 1" in replayed.error
    assert pilot.store.content_version == "1" and _guide_1(pilot) == 1
    pilot.transport = real

    # Moved into the pilot group, the gate kiosk gets that group's version 1, lower than its 2
    # (this round by the `kiosk sync` command itself).
    server.cli("group", "move", "gate-1", "pilot")
    moved = json.loads(gate_kiosk.run("sync", "--json").stdout)
    assert (moved["result"], moved["content_version"]) == ("ok", "1") and _guide_1(gate) == 1
    assert (gate.store.get_state("content_group"), gate.store.get_state("content_epoch")) == ("pilot", 1)
    real = gate.transport
    gate.transport = Replaying(real, gate_v2)  # its old group's manifest, epoch 0
    assert gate.sync_once().result == "rejected" and gate.store.content_version == "1"
    gate.transport = real
    assert _sync(gate) == ("unchanged", "1")

    listed = server.cli("device", "list")
    assert [line.split()[1] for line in listed.splitlines()[1:]] == ["pilot", "pilot"]
    status = json.loads(gate_kiosk.run("status", "--json").stdout)
    assert (status["group"], status["epoch"], status["content_version"]) == ("pilot", 1, "1")
    for service in (gate, pilot):
        service.transport.close()
