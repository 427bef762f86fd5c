"""Kiosk sync against the real central server on loopback (`kiosk-server serve` in a subprocess):
publish, pull, tampering, a hostile network, kill -9 mid-sync, a server that is away."""

from __future__ import annotations

import json
import random
import signal
import time

import pytest

from contract.events import make_event
from contract.validation import load_library
from kiosk.engine import SessionEngine
from kiosk.sync import SyncService
from kiosk.transport import HttpTransport
from offline_cache.store import Store
from tests.sync.conftest import Kiosk, ServerProc, wait_for
from tests.sync.faultproxy import FaultProxy
from tests.sync.libgen import write_library
from tests.sync.tamper import TamperProxy


def _events(device: str, n: int, kind: str = "step_view") -> list[dict]:
    session = f"s{random.getrandbits(40):x}"
    return [make_event(kind, device=device, session=session, guide="guide-0001", guide_version=1,
                       step="ask", lang="en", data={"depth": i % 5} if kind == "step_view" else {})
            for i in range(n)]


def _service(kiosk: Kiosk, url: str, **kw) -> SyncService:
    transport = HttpTransport(url, kiosk.token, kiosk.data_dir, timeout=kw.pop("timeout", (5.0, 30.0)))
    return SyncService(Store(kiosk.settings.db_path), transport, device=kiosk.name,
                       server_key=kiosk.settings.server_key, data_dir=kiosk.data_dir, **kw)


def test_publish_then_sync_then_only_the_changed_guide_moves(tmp_path, server: ServerProc, kiosk: Kiosk):
    lib = write_library(tmp_path / "lib", guides=40, images=5, image_bytes=60_000)
    server.publish(lib)
    with FaultProxy(("127.0.0.1", server.port)) as meter:  # no faults: it only counts bytes
        kiosk.set_url(meter.url)
        first = json.loads(kiosk.run("sync", "--json").stdout)
        assert first["result"] == "ok", first
        assert first["content_version"] == str(server.content_version())
        assert (first["guides_downloaded"], first["images_downloaded"]) == (40, 5)
        store = kiosk.store()
        assert store.guide_versions().keys() == {f"guide-{i:04d}" for i in range(40)}
        assert store.image_for("guide-0002", "images/img-0002.png") == (lib / "images/img-0002.png").read_bytes()
        assert store.search("topic 7")[0].guide_id == "guide-0007"

        meter.reset_counters()
        again = json.loads(kiosk.run("sync", "--json").stdout)
        assert again["result"] == "unchanged" and again["guides_downloaded"] == 0
        assert meter.bytes_down < 2_000, "an unchanged library should cost a 304 and a heartbeat"

        write_library(lib, guides=40, images=5, image_bytes=60_000, revision={"guide-0003": 1})
        server.publish(lib)
        meter.reset_counters()
        third = json.loads(kiosk.run("sync", "--json").stdout)
        assert third["result"] == "ok", third
        assert (third["guides_downloaded"], third["images_downloaded"]) == (1, 0)
        guide_bytes = len(load_library(lib).guides["guide-0003"].canonical_json())
        manifest_bytes = 40 * 130 + 1000
        assert meter.bytes_down < guide_bytes + manifest_bytes + 3_000, (meter.bytes_down, guide_bytes)
    versions = kiosk.store().guide_versions()
    assert versions["guide-0003"][0] == 2 and versions["guide-0004"][0] == 1
    status = json.loads(kiosk.run("status", "--json").stdout)
    assert status["content_version"] == third["content_version"] and status["last_sync"]["result"] == "ok"


@pytest.mark.parametrize("mode, reason", [
    ("resign", "signature"),
    ("guide_bytes", "sha256"),
    ("truncate_image", "do not match the manifest"),
])
def test_tampered_content_is_refused_and_old_content_stays(tmp_path, server, kiosk, mode, reason):
    lib = write_library(tmp_path / "lib", guides=8, images=3)
    server.publish(lib)
    kiosk.run("sync")
    before = kiosk.store().guide_versions()
    old_version = kiosk.store().content_version

    write_library(lib, guides=8, images=5, revision={"guide-0001": 1, "guide-0004": 1})
    server.publish(lib)
    with TamperProxy(server.url, mode) as liar:
        kiosk.set_url(liar.url)
        out = kiosk.run("sync", check=False)
        assert out.returncode == 1 and liar.tampered
    status = json.loads(kiosk.run("status", "--json").stdout)
    assert status["content_version"] == old_version
    assert status["last_sync"]["result"] == "rejected"
    assert reason in status["last_sync"]["error"], status["last_sync"]
    store = kiosk.store()
    assert store.guide_versions() == before and store.integrity_check() == "ok"
    assert "Help topic 1 revision 0" in store.guide("guide-0001")[0].title["en"]

    kiosk.set_url(server.url)  # the honest server again: the retry installs the new version
    kiosk.run("sync")
    assert kiosk.store().content_version == str(server.content_version())
    assert kiosk.store().guide_versions()["guide-0001"][0] == 2


def test_hostile_network_delivers_10000_events_exactly_once(tmp_path, server, kiosk):
    lib = write_library(tmp_path / "lib", guides=20, images=4, image_bytes=1_000_000)
    server.publish(lib)
    generated: list[str] = []
    with FaultProxy(("127.0.0.1", server.port), seed=20261123, fault_rate=0.35, stall_seconds=1.5,
                    max_cut=1_000_000) as proxy:
        sync = _service(kiosk, proxy.url, timeout=(1.0, 1.0), backoff_base=0.02, backoff_cap=0.2,
                        batch_size=500)
        store = sync.store
        for chunk in range(10):
            events = _events(kiosk.name, 1_000)
            store.append_events(events)
            generated += [e["uuid"] for e in events]
            if chunk == 5:
                write_library(lib, guides=20, images=6, image_bytes=1_000_000,
                              revision={"guide-0002": 1, "guide-0009": 1})
                server.publish(lib)
            sync.sync_once()
        newest = str(server.content_version())
        rounds = 0
        while store.outbox_depth() or store.content_version != newest:
            rounds += 1
            assert rounds < 200, store.get_state("last_sync")
            sync.sync_once()
        sync.transport.close()
        faults = {k: v for k, v in proxy.counts.items() if k not in ("connections", "clean")}
        resumed = sync.transport.counters.resumed
        print(f"hostile network: {rounds} extra rounds, {proxy.counts['connections']} connections, "
              f"{resumed} image downloads resumed, faults {faults}")
    uuids = server.event_uuids()
    assert len(uuids) == 10_000 and set(uuids) == set(generated)
    assert sum(faults.values()) >= 10, faults  # the network really was hostile
    assert store.guide_versions()["guide-0009"][0] == 2 and store.integrity_check() == "ok"
    assert store.image_for("guide-0005", "images/img-0005.png") == (lib / "images/img-0005.png").read_bytes()


def test_cut_image_downloads_resume_where_they_stopped(tmp_path, server, kiosk):
    lib = write_library(tmp_path / "lib", guides=3, images=3, image_bytes=1_500_000)
    server.publish(lib)
    image_bytes = 3 * 1_500_000
    # Every reply is cut at a random point up to 1.5 MB: small replies nearly always get through,
    # a whole image never arrives in one piece.
    with FaultProxy(("127.0.0.1", server.port), seed=11, fault_rate=1.0, modes=("cut",),
                    max_cut=1_500_000) as cutter:
        sync = _service(kiosk, cutter.url, backoff_base=0.01)
        for _ in range(60):
            if sync.sync_once().content_changed:
                break
        sync.transport.close()
    assert sync.store.content_version == str(server.content_version())
    print(f"resumed {sync.transport.counters.resumed}x, {cutter.bytes_down / image_bytes:.2f}x the image bytes")
    assert sync.transport.counters.resumed >= 1
    # Resuming re-sends at most the chunk a cut interrupted, never the whole image again.
    assert cutter.bytes_down < image_bytes * 1.5, (cutter.bytes_down, cutter.counts)


def _check_consistent(kiosk: Kiosk, server: ServerProc, generated: set[str]) -> dict:
    """Everything a kill may not break; returns where the kill landed."""
    store = kiosk.store()
    try:
        assert store.integrity_check() == "ok"
        version = store.content_version
        if version is not None:
            installed = {g: v for g, (v, _) in store.guide_versions().items()}
            assert installed == server.guides_of(int(version)), f"mixed content at version {version}"
            for gid in installed:
                guide, _ = store.guide(gid)
                for rel in guide.images:
                    assert store.image_for(gid, rel) is not None, f"{gid} lost its image {rel}"
        queued = {e.uuid for e in store.take_batch(limit=10**9)}
        missing = generated - queued - set(server.event_uuids())
        assert not missing, f"{len(missing)} events lost"
        staged = store.db.execute("SELECT COUNT(*) FROM staged_guides").fetchone()[0]
        parts = list((kiosk.data_dir / "sync-tmp").glob("*.part"))
        return {"version": version, "staged": staged, "partial_images": len(parts),
                "queued": len(queued)}
    finally:
        store.close()


@pytest.mark.seed(4242)
def test_kill_9_mid_sync_never_mixes_content_or_loses_events(tmp_path, server, kiosk, seed):
    rng = random.Random(seed)  # when and where the plug is pulled; a failure report names the seed
    lib = tmp_path / "lib"
    write_library(lib, guides=60, images=4, image_bytes=1_000_000)
    server.publish(lib)
    generated: set[str] = set()
    landed = []
    # A slow link (every reply chunk delayed a little) widens the download window the kills aim at.
    with FaultProxy(("127.0.0.1", server.port), seed=3, fault_rate=1.0, modes=("delay",)) as slow_link:
        kiosk.set_url(slow_link.url)
        for round_no in range(22):
            if round_no % 2 == 1:  # new content every other round: changed guides and new images
                revision = {f"guide-{i:04d}": round_no for i in rng.sample(range(60), 15)}
                write_library(lib, guides=60, images=4 + round_no // 2, image_bytes=1_000_000,
                              revision=revision)
                server.publish(lib)
            store = kiosk.store()
            events = _events(kiosk.name, 1_000)
            store.append_events(events)
            store.close()
            generated |= {e["uuid"] for e in events}
            # The plug is pulled at a random moment, a random number of bytes into the upload (the
            # push), or a random number of bytes into the download (the pull).
            trigger = ("time", "upload", "download")[round_no % 3]
            up, down = slow_link.bytes_up, slow_link.bytes_down
            proc = kiosk.popen_sync()
            if trigger == "time":
                time.sleep(rng.uniform(0.4, 2.5))  # a random moment, not a wait for anything
            elif trigger == "upload":
                mark = rng.uniform(0, 300_000)
                wait_for(lambda up=up, mark=mark, proc=proc:
                         slow_link.bytes_up - up > mark or proc.poll() is not None, 60,
                         interval=0.002, what="the upload mark")
            else:
                mark = rng.uniform(0, 2_500_000)
                wait_for(lambda down=down, mark=mark, proc=proc:
                         slow_link.bytes_down - down > mark or proc.poll() is not None, 60,
                         interval=0.002, what="the download mark")
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            landed.append(_check_consistent(kiosk, server, generated))
    print("kill -9 landed at:", landed)
    kiosk.set_url(server.url)
    for _ in range(5):
        if kiosk.run("sync", check=False).returncode == 0:
            break
    assert _check_consistent(kiosk, server, generated)["version"] == str(server.content_version())
    assert kiosk.store().outbox_depth() == 0
    assert set(server.event_uuids()) == generated
    assert len({x["version"] for x in landed}) >= 3, "the kills should catch the kiosk at several versions"
    assert any(x["staged"] or x["partial_images"] for x in landed), "no kill landed mid-download"
    assert any(0 < x["queued"] < len(generated) for x in landed), "no kill landed mid-push"


def test_server_away_kiosk_keeps_working_and_delivers_when_back(tmp_path):
    server = ServerProc(tmp_path / "server")
    lib = write_library(tmp_path / "lib", guides=5, images=2)
    kiosk = Kiosk(tmp_path / "kiosk", server, "kiosk-away")  # configured, but the server is not running
    store = Store(kiosk.settings.db_path)
    store.import_library(load_library(lib), content_version="usb-1")  # content from a USB stick
    sync = SyncService.from_settings(kiosk.settings, store, heartbeat_seconds=0.5, probe_cap=0.5)
    installed = []
    sync.on_content_changed = installed.append
    sync.start()
    try:
        wait_for(lambda: (store.get_state("last_sync") or {}).get("result") == "offline", 10,
                 what="the first round to find the server away")
        engine = SessionEngine(store, kiosk.name)
        for _ in range(30):
            engine.start_session()
            engine.open_guide("guide-0001")
            engine.choose(0)
            engine.feedback(True, 5, "call me on +44 20 7946 0958")
            engine.end_session()
        queued = {e.uuid for e in store.take_batch(limit=100_000)}
        assert len(queued) >= 30 * 5 and store.content_version == "usb-1"
        assert store.get_state("last_sync")["result"] == "offline"

        server.publish(lib)
        server.start()  # back: the kiosk notices by itself, with no request from anyone
        wait_for(lambda: store.outbox_depth() == 0, 30, what="the backlog to drain")
        assert set(server.event_uuids()) == queued
        wait_for(lambda: store.content_version == str(server.content_version()), 30, what="new content")
        with server.db() as conn:
            comments = [r[0] for r in conn.execute("SELECT comment FROM events WHERE type = 'feedback'")]
        assert len(comments) == 30 and not any("7946" in c for c in comments)

        # Staff's "Sync now": new content arrives at once, though the next scheduled round is minutes away.
        write_library(lib, guides=5, images=2, revision={"guide-0002": 1})
        server.publish(lib)
        sync.request_sync()
        wait_for(lambda: store.content_version == str(server.content_version()), 15, what="Sync now")
        assert installed == ["1", "2"]
    finally:
        sync.stop()
        server.stop()


def test_revoked_token_stops_with_a_clear_status_and_keeps_events(tmp_path, server, kiosk):
    server.publish(write_library(tmp_path / "lib", guides=3, images=1))
    kiosk.run("sync")
    with server.db() as conn:
        beat = conn.execute("SELECT content_version, outbox_depth FROM devices WHERE name = ?",
                            [kiosk.name]).fetchone()
    assert beat == (str(server.content_version()), 0), "the heartbeat after a sync reaches the fleet view"
    store = kiosk.store()
    store.append_events(_events(kiosk.name, 25))
    server.cli("device", "revoke", kiosk.name)
    out = kiosk.run("sync", check=False)
    assert out.returncode == 1 and "token" in out.stderr
    status = json.loads(kiosk.run("status", "--json").stdout)
    assert status["last_sync"]["result"] == "unauthorized" and status["outbox_depth"] == 25
    assert status["content_version"] == str(server.content_version())


def test_malformed_events_are_set_aside_and_skewed_clock_is_corrected(tmp_path, server, kiosk):
    server.publish(write_library(tmp_path / "lib", guides=3, images=1))
    skew = -3600.0  # this kiosk's clock is an hour slow
    sync = _service(kiosk, server.url)
    sync.transport = HttpTransport(server.url, kiosk.token, kiosk.data_dir, clock=lambda: time.time() + skew)
    good = [make_event("choice", device=kiosk.name, session="abc", guide="guide-0001", guide_version=1,
                       step="ask", lang="en", data={"index": 0, "label": "Yes", "next": "done", "guide": None},
                       now=time.time() + skew, mono=1.0) for _ in range(300)]
    bad_type = dict(good[0], uuid="f" * 32, type="teleport")
    other_device = dict(good[0], uuid="e" * 32, device="someone-else")
    sync.store.append_events(good[:100] + [bad_type] + good[100:200] + [other_device] + good[200:])
    result = sync.sync_once()
    assert (result.events_sent, result.events_rejected, result.outbox_depth) == (300, 2, 0)
    status = json.loads(kiosk.run("status", "--json").stdout)
    assert status["rejected_events"] == 2 and status["outbox_depth"] == 0
    assert "2 rejected by the server" in kiosk.run("status").stdout
    with server.db() as conn:
        rows = conn.execute("SELECT kiosk_time, server_time, received_at FROM events").fetchall()
    assert len(rows) == 300
    for kiosk_time, server_time, received_at in rows:
        assert abs(kiosk_time - skew - server_time) < 2.0  # the kiosk's own time is kept as sent
        assert abs(server_time - received_at) < 5.0  # and the server's corrected time is right
