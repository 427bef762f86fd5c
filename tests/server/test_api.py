"""Every endpoint of docs/api.md against the real server on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import tarfile
import threading
import time

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from server_testkit import (
    ONE_STEP_PUBLISH,
    STAFF_PASSWORD,
    STAFF_USER,
    make_library,
    row_counts,
    serving_copy,
    zip_bytes,
)

from contract.canonical import canonical_json
from contract.events import make_event
from contract.handoff import Handoff, handoff_key, make_url
from server import db


@pytest.fixture(scope="module")
def server(server):
    """The module's shared server, for the tests that only read: each table holds as many rows at
    the end as at the start. A test that writes takes own_server."""
    # a device's read still counts its bytes for the Fleet page (server/traffic.py): that table grows
    before = {k: v for k, v in row_counts(server).items() if k != "device_traffic"}
    yield server
    after = {k: v for k, v in row_counts(server).items() if k != "device_traffic"}
    assert after == before, {name: (before.get(name), n) for name, n in after.items() if before.get(name) != n}


@pytest.fixture(scope="module")
def ingest_server(prepared, tmp_path_factory):
    """Shared by the ingest tests: each sends events under uuids of its own and looks only at
    those, so none can see another's."""
    with serving_copy(prepared, tmp_path_factory.mktemp("ingest"), "ingest") as srv:
        yield srv


def event(kind="step_view", device="kiosk-1", **kw):
    return make_event(kind, device=device, session=kw.pop("session", "sess-1"), guide="lost-bag", guide_version=1,
                      step="arrived", lang="en", **kw)


def manifest_of(server):
    with server.device() as c:
        r = c.get("/api/v1/content/manifest")
    assert r.status_code == 200
    return r


def test_server_key_verifies_the_manifest_and_matches_the_cli(server):
    with server.anonymous() as c:
        key = c.get("/api/v1/server-key").json()
    assert key["algorithm"] == "ed25519"
    code, out, _ = server.cli("key")
    assert code == 0 and out.strip() == key["public_key"]
    body = manifest_of(server).json()
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"]))
    public.verify(base64.b64decode(body["signature"]), canonical_json(body["manifest"]))  # raises if forged
    assert set(body["manifest"]["guides"]) == {"lost-bag", "wifi"}
    assert (server.data_dir / "server_key.pem").stat().st_mode & 0o777 == 0o600


def test_manifest_etag_gives_304_when_unchanged(server):
    r = manifest_of(server)
    etag = r.headers["ETag"]
    assert etag == '"' + hashlib.sha256(canonical_json(r.json()["manifest"])).hexdigest()[:32] + '"'
    with server.device() as c:
        again = c.get("/api/v1/content/manifest", headers={"If-None-Match": etag})
        other = c.get("/api/v1/content/manifest", headers={"If-None-Match": '"nope"'})
    assert again.status_code == 304 and again.content == b""
    assert other.status_code == 200


def test_protocol_version_header_is_read_and_every_reply_carries_the_servers(server):
    with server.device() as c:
        old = c.get("/api/v1/content/manifest")  # protocol 1: the previous release sent no header
        new = c.get("/api/v1/content/manifest", headers={"X-Kiosk-Protocol": "2"})
        garbage = c.get("/api/v1/content/manifest", headers={"X-Kiosk-Protocol": "two, please"})
        refused = c.post("/api/v1/heartbeat", json={"outbox_depth": 0}, headers={"X-Kiosk-Protocol": ""})
    assert old.status_code == new.status_code == 200
    assert old.content == new.content and old.headers["ETag"] == new.headers["ETag"], "served exactly as before"
    assert garbage.status_code == 400 and refused.status_code == 400
    assert "X-Kiosk-Protocol" in garbage.json()["detail"] and "'two, please'" in garbage.json()["detail"]
    with server.anonymous() as c:
        unauthorized = c.get("/api/v1/content/manifest")
        health = c.get("/healthz")
    for reply in (old, new, garbage, unauthorized, health):
        assert reply.headers["X-Kiosk-Protocol"] == "4", reply.request.url  # protocol 4: delta manifests, gzip event batches


def test_content_needs_a_valid_device_token(server):
    with server.anonymous() as c:
        assert c.get("/api/v1/content/manifest").status_code == 401
        assert c.get("/api/v1/content/manifest", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/api/v1/content/manifest", auth=(STAFF_USER, STAFF_PASSWORD)).status_code == 401
        assert c.post("/api/v1/events", json={"events": []}).status_code == 401


def test_revoked_device_is_refused(own_server):
    out = own_server.cli("device", "add", "kiosk-gone")[1]
    token = out.strip().splitlines()[-1]
    with own_server.anonymous() as c:
        assert c.get("/api/v1/content/manifest", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert own_server.cli("device", "revoke", "kiosk-gone")[0] == 0
        assert c.get("/api/v1/content/manifest", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_device_learns_its_name_and_location_from_its_token(own_server):
    for name in ("kiosk-1", "kiosk-2"):
        with own_server.device(name) as c:
            r = c.get("/api/v1/device")
        assert r.status_code == 200 and r.json() == {"name": name, "location": f"Hall {name}"}
    token = own_server.cli("device", "add", "kiosk-nowhere")[1].strip().splitlines()[-1]
    with own_server.anonymous() as c:
        mine = c.get("/api/v1/device", headers={"Authorization": f"Bearer {token}"})
        assert mine.status_code == 200 and mine.json() == {"name": "kiosk-nowhere", "location": None}
        assert own_server.cli("device", "revoke", "kiosk-nowhere")[0] == 0
        assert c.get("/api/v1/device", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        assert c.get("/api/v1/device", headers={"Authorization": "Bearer not-a-token"}).status_code == 401
        assert c.get("/api/v1/device").status_code == 401


def test_a_rotated_token_replaces_the_old_one_at_once_and_retires_its_qr_links(own_server):
    def qr_link(token: str, session: str) -> str:
        h = Handoff(device="kiosk-rotating", guide="lost-bag", version=1, step="arrived", path=(), session=session,
                    lang="en")
        return make_url(own_server.url, h, handoff_key(token))

    old = own_server.cli("device", "add", "kiosk-rotating")[1].strip().splitlines()[-1]
    shown_before = qr_link(old, "sess-before-rotation")
    with own_server.anonymous() as phone:
        assert phone.get(qr_link(old, "sess-opened-in-time")).status_code == 200
        code, out, err = own_server.cli("device", "rotate", "kiosk-rotating")
        assert code == 0, err
        new = out.strip().splitlines()[-1]
        assert phone.get("/api/v1/device", headers={"Authorization": f"Bearer {old}"}).status_code == 401
        mine = phone.get("/api/v1/device", headers={"Authorization": f"Bearer {new}"})
        assert mine.status_code == 200 and mine.json()["name"] == "kiosk-rotating"
        # decided: a QR link signed with the old token's key and not yet opened stops working
        assert phone.get(shown_before).status_code == 403
        assert phone.get(qr_link(new, "sess-after-rotation")).status_code == 200


def test_a_token_issued_before_the_prefix_keeps_working(own_server):
    legacy = "-" + "x" * 42  # bare token_urlsafe, as `device add` made them; one in 64 began with "-"
    engine = own_server.engine()
    with engine.begin() as conn:
        conn.execute(db.devices.insert().values(name="kiosk-legacy", token_sha256=hashlib.sha256(legacy.encode())
                                                .hexdigest(), handoff_key=handoff_key(legacy).hex(),
                                                created_at=time.time()))
    engine.dispose()
    with own_server.anonymous() as c:
        r = c.get("/api/v1/device", headers={"Authorization": f"Bearer {legacy}"})
    assert r.status_code == 200 and r.json()["name"] == "kiosk-legacy"


def test_guides_are_served_by_id_and_version_as_their_canonical_bytes(server):
    manifest = manifest_of(server).json()["manifest"]
    with server.device() as c:
        for gid, info in manifest["guides"].items():
            r = c.get(f"/api/v1/content/guides/{gid}/{info['version']}")
            assert r.status_code == 200
            assert hashlib.sha256(r.content).hexdigest() == info["sha256"] and len(r.content) == info["size"]
            assert "immutable" in r.headers["Cache-Control"]
        assert c.get("/api/v1/content/guides/lost-bag/999").status_code == 404
        assert c.get("/api/v1/content/guides/NOT_AN_ID/1").status_code == 422


def test_images_by_sha256_with_ranges(server):
    manifest = manifest_of(server).json()["manifest"]
    (digest, info), = manifest["images"].items()
    assert info["type"] == "png"
    with server.device() as c:
        full = c.get(f"/api/v1/content/images/{digest}")
        assert full.status_code == 200 and full.headers["content-type"] == "image/png"
        assert hashlib.sha256(full.content).hexdigest() == digest and len(full.content) == info["size"]
        assert "immutable" in full.headers["Cache-Control"] and full.headers["Accept-Ranges"] == "bytes"
        # a download cut after 20 bytes resumes from there
        rest = c.get(f"/api/v1/content/images/{digest}", headers={"Range": "bytes=20-"})
        assert rest.status_code == 206
        assert rest.headers["Content-Range"] == f"bytes 20-{info['size'] - 1}/{info['size']}"
        assert full.content[:20] + rest.content == full.content
        assert c.get(f"/api/v1/content/images/{digest}", headers={"Range": f"bytes={info['size']}-"}).status_code == 416
        assert c.get(f"/api/v1/content/images/{'0' * 64}").status_code == 404
        assert c.get(f"/api/v1/content/images/{digest}", headers={"If-None-Match": f'"{digest}"'}).status_code == 304


def test_events_are_accepted_duplicated_or_rejected_one_by_one(ingest_server):
    good = [event(), event("search", data={"query": "bag call +44 20 7946 0958", "hits": 2})]
    feedback = event("feedback", data={"helped": True, "rating": 4,
                                       "comment": "Great, write to me at jane.doe@example.com"})
    outcome = event("outcome", data={"outcome": "resolved"})
    foreign = event(device="kiosk-2")
    bad_type = {**event(), "type": "xyz"}
    batch = [*good, feedback, "not an event", foreign, bad_type, outcome, {**event(), "kiosk_time": "soon"}]
    with ingest_server.device() as c:
        r = c.post("/api/v1/events", json={"events": batch})
    assert r.status_code == 200
    reply = r.json()
    assert reply["accepted"] == [good[0]["uuid"], good[1]["uuid"], feedback["uuid"], outcome["uuid"]]
    assert reply["duplicates"] == []
    reasons = {item["index"]: item for item in reply["rejected"]}
    assert set(reasons) == {3, 4, 5, 7}
    assert "kiosk-2" in reasons[4]["reason"] and reasons[4]["uuid"] == foreign["uuid"]
    assert "xyz" in reasons[5]["reason"]
    assert "kiosk_time" in reasons[7]["reason"]
    assert abs(reply["server_time"] - time.time()) < 60

    engine = ingest_server.engine()
    with engine.connect() as conn:
        rows = {r.uuid: r for r in conn.execute(sa.select(db.events).where(
            db.events.c.uuid.in_([e["uuid"] for e in batch if isinstance(e, dict)])))}
    assert set(rows) == set(reply["accepted"])  # the foreign device's event was not stored
    fb = rows[feedback["uuid"]]
    assert fb.device == "kiosk-1" and fb.channel == "kiosk" and fb.session == "sess-1"
    assert fb.helped is True and fb.rating == 4
    assert "jane.doe" not in fb.comment and "[email removed]" in fb.comment
    assert "jane.doe" not in fb.data
    search = rows[good[1]["uuid"]]
    assert search.hits == 2 and "7946" not in search.query
    assert rows[outcome["uuid"]].outcome == "resolved"
    assert rows[good[0]["uuid"]].guide == "lost-bag" and rows[good[0]["uuid"]].guide_version == 1
    engine.dispose()


def test_server_time_corrects_the_kiosk_clock(ingest_server):
    now = time.time()
    e = event(now=now - 3600)
    e["server_time_offset"] = 3600.0  # the kiosk's clock is an hour behind
    with ingest_server.device() as c:
        assert c.post("/api/v1/events", json={"events": [e]}).json()["accepted"] == [e["uuid"]]
    engine = ingest_server.engine()
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.events).where(db.events.c.uuid == e["uuid"])).one()
    engine.dispose()
    assert abs(row.server_time - now) < 1 and abs(row.kiosk_time - (now - 3600)) < 1
    assert row.received_at >= now - 5


def _count(server, uuids) -> dict[str, int]:
    engine = server.engine()
    with engine.connect() as conn:
        rows = conn.execute(sa.select(db.events.c.uuid, sa.func.count()).where(db.events.c.uuid.in_(uuids))
                            .group_by(db.events.c.uuid)).all()
    engine.dispose()
    return dict(rows)


def test_a_resent_batch_is_stored_once(ingest_server):
    batch = [event(session="resend") for _ in range(200)]
    uuids = [e["uuid"] for e in batch]
    with ingest_server.device() as c:
        first = c.post("/api/v1/events", json={"events": batch}).json()
        again = c.post("/api/v1/events", json={"events": batch + batch[:5]}).json()
    assert first["accepted"] == uuids and first["duplicates"] == []
    assert again["accepted"] == [] and sorted(again["duplicates"]) == sorted(uuids + uuids[:5])
    assert _count(ingest_server, uuids) == {u: 1 for u in uuids}


def test_event_uuids_are_unique_per_device_not_across_the_fleet(ingest_server):
    # Another kiosk (or anything holding its token) sending the same uuid first must not make this
    # kiosk's event a "duplicate": uuids are the kiosks' own, one namespace per device.
    mine = event(session="namespace")
    squat = event(device="kiosk-2", session="namespace")
    squat["uuid"] = mine["uuid"]
    with ingest_server.device("kiosk-2") as c:
        assert c.post("/api/v1/events", json={"events": [squat]}).json()["accepted"] == [mine["uuid"]]
    with ingest_server.device("kiosk-1") as c:
        first = c.post("/api/v1/events", json={"events": [mine]}).json()
        again = c.post("/api/v1/events", json={"events": [mine]}).json()
    assert first["accepted"] == [mine["uuid"]] and first["duplicates"] == []
    assert again["duplicates"] == [mine["uuid"]], "and each device's own re-send is still stored once"
    engine = ingest_server.engine()
    with engine.connect() as conn:
        stored = conn.execute(sa.select(db.events.c.device).where(db.events.c.uuid == mine["uuid"])).scalars().all()
    engine.dispose()
    assert sorted(stored) == ["kiosk-1", "kiosk-2"]


def test_concurrently_resent_batches_leave_one_row_per_uuid(ingest_server):
    batch = [event(session="race") for _ in range(300)]
    uuids = [e["uuid"] for e in batch]
    replies, barrier = [], threading.Barrier(8)

    def send():
        with ingest_server.device() as c:
            barrier.wait()
            while True:
                r = c.post("/api/v1/events", json={"events": batch})
                if r.status_code != 429:
                    break
                time.sleep(float(r.headers["Retry-After"]) / 10)
            replies.append(r.json())

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(replies) == 8
    accepted = [u for r in replies for u in r["accepted"]]
    assert sorted(accepted) == sorted(uuids)  # each uuid accepted by exactly one of the eight
    for r in replies:
        assert set(r["accepted"]) | set(r["duplicates"]) == set(uuids) and not r["rejected"]
    assert _count(ingest_server, uuids) == {u: 1 for u in uuids}


def test_too_many_or_too_large_batches_get_413(server):
    with server.device() as c:
        r = c.post("/api/v1/events", json={"events": [event() for _ in range(1001)]})
        assert r.status_code == 413 and "1000" in r.json()["detail"]
        huge = {"events": [event(data={"blob": "x" * 100_000}) for _ in range(60)]}
        r = c.post("/api/v1/events", json=huge)
        assert r.status_code == 413
        # chunked, with no Content-Length: counted as it arrives
        r = c.post("/api/v1/events", content=iter([json.dumps(huge).encode()]),
                   headers={"Content-Type": "application/json"})
        assert r.status_code == 413
        assert "X-Server-Time" in r.headers


def test_heartbeat_updates_fleet_state_and_stale_flags(own_server):
    beat = {"content_version": 1, "outbox_depth": 12, "last_sync_result": {"result": "ok", "at": "2026-12-01T10:00:00Z"},
            "app_version": "0.1.0", "rejected_events": 0,
            "free_disk": 5_000_000_000, "uptime": 3600.5}
    with own_server.device("kiosk-1") as c:
        r = c.post("/api/v1/heartbeat", json=beat)
    assert r.status_code == 200 and abs(r.json()["server_time"] - time.time()) < 60
    with own_server.staff() as c:
        k1 = {d["name"]: d for d in c.get("/api/v1/fleet").json()["devices"]}["kiosk-1"]
    assert k1["stale"] is False and k1["outbox_depth"] == 12 and k1["content_version"] == "1"
    assert k1["last_sync_result"]["result"] == "ok" and k1["healthy"] is True and k1["rejected_events"] == 0
    assert k1["app_version"] == "0.1.0" and k1["free_disk"] == 5_000_000_000
    assert k1["last_seen"] >= time.time() - 60
    # the server runs with --stale-after 60: half an hour of silence is fine, two hours is stale
    engine = own_server.engine()
    with engine.begin() as conn:
        conn.execute(db.devices.update().where(db.devices.c.name == "kiosk-1").values(last_seen=time.time() - 1800))
        conn.execute(db.devices.update().where(db.devices.c.name == "kiosk-2").values(last_seen=time.time() - 7200))
    engine.dispose()
    with own_server.staff() as c:
        fleet = c.get("/api/v1/fleet").json()
    devices = {d["name"]: d for d in fleet["devices"]}
    assert fleet["stale_after_minutes"] == 60
    assert devices["kiosk-1"]["stale"] is False and devices["kiosk-2"]["stale"] is True
    # a kiosk speaking from another language's sync client: string content version, dict sync result
    with own_server.device("kiosk-2") as c:
        r = c.post("/api/v1/heartbeat", json={"content_version": "local-20261123", "last_sync_result":
                                               {"result": "offline", "error": "no route"}})
    assert r.status_code == 200
    with own_server.staff() as c:
        k2 = {d["name"]: d for d in c.get("/api/v1/fleet").json()["devices"]}["kiosk-2"]
    assert k2["stale"] is False and k2["content_version"] == "local-20261123" and k2["healthy"] is False
    assert k2["last_sync_result"]["result"] == "offline" and k2["last_sync_result"]["error"] == "no route"
    with own_server.device() as c:
        assert c.post("/api/v1/heartbeat", json={"outbox_depth": -1}).status_code == 422
        # the largest counts the model admits fit the columns on PostgreSQL too (schemathesis
        # once found rejected_events overflowing a 32-bit column: HTTP 500)
        huge = {"outbox_depth": 2**62, "free_disk": 2**62, "rejected_events": 2**62}
        assert c.post("/api/v1/heartbeat", json=huge).status_code == 200
        # the sync result is the contract's LastSync object, never free text
        assert c.post("/api/v1/heartbeat", json={"last_sync_result": "ok"}).status_code == 422


def test_staff_endpoints_need_a_staff_login(own_server):
    with own_server.anonymous() as c:
        assert c.get("/api/v1/fleet").status_code == 401
        assert c.get("/api/v1/fleet", auth=(STAFF_USER, "wrong password")).status_code == 401
        assert c.get("/api/v1/fleet", headers={"Authorization": f"Bearer {own_server.tokens['kiosk-1']}"}).status_code == 401
        assert c.post("/api/v1/staff/login", json={"username": STAFF_USER, "password": "nope"}).status_code == 401
        r = c.post("/api/v1/staff/login", json={"username": STAFF_USER, "password": STAFF_PASSWORD})
        assert r.status_code == 200 and "httponly" in r.headers["set-cookie"].lower()
        assert c.get("/api/v1/fleet").status_code == 200  # the cookie
        forged = c.cookies["kiosk_staff"][:-2] + "00"
        c.cookies.clear()
        c.cookies.set("kiosk_staff", forged)
        assert c.get("/api/v1/fleet").status_code == 401


def test_one_staff_login_serves_the_api_and_the_dashboard(own_server):
    with own_server.anonymous() as api_login:  # logged in through the API: the dashboard opens
        assert api_login.post("/api/v1/staff/login",
                              json={"username": STAFF_USER, "password": STAFF_PASSWORD}).status_code == 200
        page = api_login.get("/dashboard/fleet")
        assert page.status_code == 200 and "kiosk-1" in page.text
    with own_server.anonymous() as form_login:  # logged in through the dashboard's form: the API answers
        assert form_login.post("/dashboard/login", data={"username": STAFF_USER, "password": STAFF_PASSWORD}
                               ).status_code == 303
        assert form_login.get("/api/v1/fleet").status_code == 200
    with own_server.staff() as basic:  # HTTP Basic credentials work on both, a script needs no cookie
        assert basic.get("/dashboard/fleet").status_code == 200
    with own_server.anonymous() as nobody:  # no login: the API says 401, the dashboard sends to its form
        assert nobody.get("/api/v1/fleet").status_code == 401
        assert nobody.get("/dashboard/fleet").headers["location"].startswith("/dashboard/login?next=")


def test_password_guessing_is_throttled_across_the_fleet(own_server):
    code, _, err = own_server.cli("staff", "add", "target", "--password-stdin", stdin="the real password\n")
    assert code == 0, err
    with own_server.anonymous() as c:
        for _ in range(10):
            assert c.post("/api/v1/staff/login", json={"username": "target", "password": "guess"}).status_code == 401
        # locked: even the right password is refused for a while, with a Retry-After
        r = c.post("/api/v1/staff/login", json={"username": "target", "password": "the real password"})
        assert r.status_code == 429 and 0 < int(r.headers["retry-after"]) <= 15 * 60
        assert c.get("/api/v1/fleet", auth=("target", "the real password")).status_code == 429
        page = c.post("/dashboard/login", data={"username": "target", "password": "the real password"})
        assert page.status_code == 429 and "Too many failed attempts" in page.text
        # other staff are not locked out by it
        assert c.get("/api/v1/fleet", auth=(STAFF_USER, STAFF_PASSWORD)).status_code == 200


def _targz(folder) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(folder, arcname="library")
    return buf.getvalue()


@pytest.fixture
def one_step_server(prepared, tmp_path):
    """A server of its own where an upload publishes at once (review_two_people off); with review
    on it becomes a draft for a second publisher (test_studio.py)."""
    with serving_copy(prepared, tmp_path, "one_step", env=ONE_STEP_PUBLISH) as srv:
        yield srv


def test_publish_over_http(one_step_server, tmp_path):
    before = manifest_of(one_step_server)
    broken = make_library(tmp_path / "broken")
    (broken / "wifi.yaml").write_text((broken / "wifi.yaml").read_text().replace("next: staff", "next: nowhere"))
    (broken / "images" / "belt.png").write_bytes(b"GIF89a not a png")
    with one_step_server.staff() as c:
        r = c.post("/api/v1/publish", files={"library": ("lib.zip", zip_bytes(broken), "application/zip")})
        assert r.status_code == 422
        messages = " ".join(p["message"] for p in r.json()["problems"])
        assert "nowhere" in messages and "not a PNG" in messages
        assert manifest_of(one_step_server).headers["ETag"] == before.headers["ETag"]  # nothing was published

        changed = make_library(tmp_path / "changed", wifi_text="Is AIRPORT-FREE in your Wi-Fi list?")
        r = c.post("/api/v1/publish", files={"library": ("lib.tar.gz", _targz(changed), "application/gzip")},
                   data={"note": "reworded wifi"})
        assert r.status_code == 200, r.text
        result = r.json()
        assert result["changed"] == ["wifi"] and result["guides"] == {"lost-bag": 1, "wifi": 2}
        versions = c.get("/api/v1/content/versions").json()["versions"]
        assert versions[0]["note"] == "reworded wifi" and versions[0]["published_by"] == STAFF_USER
    after = manifest_of(one_step_server)
    assert after.headers["ETag"] != before.headers["ETag"]
    assert after.json()["manifest"]["guides"]["wifi"]["version"] == 2
    with one_step_server.device() as c:
        old = c.get("/api/v1/content/guides/wifi/1")
        assert old.status_code == 200 and "AIRPORT-FREE?" in old.json()["steps"]["network"]["text"]["en"]
    with one_step_server.anonymous() as c:
        anon = c.post("/api/v1/publish", files={"library": ("lib.zip", zip_bytes(changed), "application/zip")})
        assert anon.status_code == 401


def test_rollback_over_http_republishes_old_content(own_server):
    with own_server.staff() as c:
        versions = c.get("/api/v1/content/versions").json()["versions"]
        first = versions[-1]["version"]
        r = c.post("/api/v1/content/rollback", json={"version": first})
        assert r.status_code == 200
        assert c.post("/api/v1/content/rollback", json={"version": 9999}).status_code == 404
    manifest = manifest_of(own_server).json()["manifest"]
    with own_server.device() as c:
        wifi = c.get(f"/api/v1/content/guides/wifi/{manifest['guides']['wifi']['version']}").json()
    assert wifi["steps"]["network"]["text"]["en"] == "Can you see the network AIRPORT-FREE?"


@pytest.mark.parametrize("path", ["/api/v1/server-key", "/no/such/page", "/api/v1/fleet", "/openapi.json"])
def test_every_response_has_x_server_time(server, path):
    with server.anonymous() as c:
        r = c.get(path)
    assert abs(float(r.headers["X-Server-Time"]) - time.time()) < 60


def test_the_api_browser_works_with_no_internet(server):
    """/docs names no other host (FastAPI's default loads Swagger UI from a CDN, blank offline), and
    everything it names is served here."""
    with server.anonymous() as c:
        page = c.get("/docs")
        assert page.status_code == 200
        urls = re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""", page.text)
        assert "/openapi.json" in urls
        assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls), urls
        for url in urls:
            assert c.get(url).status_code == 200, url
        assert "SwaggerUIBundle" in c.get("/static/swagger-ui/swagger-ui-bundle.js").text
        assert c.get("/static/swagger-ui/..%2Fdashboard.css").status_code == 404
        assert c.get("/redoc").status_code == 404
