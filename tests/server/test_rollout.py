"""Rollout groups on the server, on SQLite and PostgreSQL: lineage (promote only onto the version a
stage was built on), publishing to every group superseding open stages, epochs, the manifest each
device is served, and the Fleet page's group form."""

from __future__ import annotations

import dataclasses
import json
import re

import httpx
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from server_testkit import STAFF_PASSWORD, STAFF_USER, fresh_pg_database, make_library

from contract.bundle import open_library
from contract.guides import LibrarySettings
from server import auth, db, groups, publish
from server.content import ManifestCache

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request, tmp_path):
    def make(url):
        eng = db.make_engine(url, pool_size=2)
        db.migrate(eng)
        return eng

    if request.param == "sqlite":
        eng = make(str(tmp_path / "server.db"))
        yield eng
        eng.dispose()
    else:
        with fresh_pg_database(f"rollout_{request.node.originalname[5:25]}") as url:
            eng = make(url)
            yield eng
            eng.dispose()


@pytest.fixture(scope="module")
def libraries(tmp_path_factory):
    root = tmp_path_factory.mktemp("libs")
    return [open_library(make_library(root / f"lib{n}", wifi_text=f"Wi-Fi text, edition {n}")) for n in range(5)]


def _groups(engine) -> dict[str, int | None]:
    with db.read(engine) as conn:
        return {g.name: g.content_version for g in groups.list_groups(conn)}


def _epochs(engine) -> dict[str, int]:
    with db.read(engine) as conn:
        return dict(conn.execute(sa.select(db.devices.c.name, db.devices.c.epoch)).all())


def test_promote_only_onto_what_a_stage_was_built_on(engine, libraries):
    publish.publish_library(engine, libraries[0], by="t")  # 1, every group
    groups.add_group(engine, "pilot")
    groups.add_group(engine, "terminal-2")
    staged = publish.publish_library(engine, libraries[1], by="t", to="pilot")
    assert (staged.content_version, staged.base_version, staged.changed) == (2, 1, ["wifi"])
    refined = publish.publish_library(engine, libraries[2], by="t", to="pilot")  # refined: 3 on 2 on 1
    assert _groups(engine) == {"default": 1, "pilot": 3, "terminal-2": 1}
    with db.read(engine) as conn:
        assert publish.open_stages(conn) == {"pilot": 3}

    # Another change straight to terminal-2 (4 on 1): 3 was not built on it.
    publish.publish_library(engine, libraries[3], by="t", to="terminal-2")
    with pytest.raises(publish.RolloutError, match=r"group 'terminal-2' is on version 4, and version 3 was built "
                                                   r"on version 2, not on 4\. Nothing was promoted"):
        groups.promote(engine, refined.content_version)
    assert _groups(engine) == {"default": 1, "pilot": 3, "terminal-2": 4}, "refused as a whole"

    assert groups.promote(engine, 3, to="default") == {"default": 1}, "1 is the base of 3's base"
    with pytest.raises(publish.RolloutError, match="there is no group 'nope'"):
        groups.promote(engine, 3, to="nope")
    with pytest.raises(publish.RolloutError, match="there is no content version 99"):
        groups.promote(engine, 99)

    # Publishing to every group supersedes the open stage; what was staged can no longer be promoted.
    everyone = publish.publish_library(engine, libraries[4], by="t")
    assert everyone.superseded == {"default": 3, "pilot": 3, "terminal-2": 4}, "two lines apart: both stages"
    assert "version 4 can no longer be promoted" in everyone.summary()
    assert set(_groups(engine).values()) == {5}
    with pytest.raises(publish.RolloutError, match="group 'default' is on version 5"):
        groups.promote(engine, 4, to="default")
    with pytest.raises(publish.RolloutError, match="there is no group 'nope'"):
        publish.publish_library(engine, libraries[0], by="t", to="nope")


def test_epochs_rise_on_a_move_and_on_a_rollback_of_the_devices_group_only(engine, libraries):
    publish.publish_library(engine, libraries[0], by="t")
    groups.add_group(engine, "pilot")
    for name, group in (("gate-1", "default"), ("gate-2", "default"), ("pilot-1", "pilot")):
        auth.add_device(engine, name, group=group)
    with pytest.raises(auth.AuthError, match="there is no group 'pier-c'"):
        auth.add_device(engine, "gate-3", group="pier-c")
    publish.publish_library(engine, libraries[1], by="t", to="pilot")

    assert groups.rollback_group(engine, 1, "pilot") == 2
    assert _epochs(engine) == {"gate-1": 0, "gate-2": 0, "pilot-1": 1}
    assert groups.move_device(engine, "gate-2", "pilot") == ("default", 1)
    assert groups.move_device(engine, "gate-2", "pilot") == ("pilot", 1), "no move, no new epoch"
    assert groups.rollback_group(engine, 2, "pilot") == 1
    assert _epochs(engine) == {"gate-1": 0, "gate-2": 2, "pilot-1": 2}
    with pytest.raises(publish.RolloutError, match="already on content version 2"):
        groups.rollback_group(engine, 2, "pilot")
    with pytest.raises(publish.RolloutError, match="no active device called 'gate-9'"):
        groups.move_device(engine, "gate-9", "pilot")

    # Each device's manifest: its group's version, naming the group and its epoch, signed.
    cache = ManifestCache()
    default_body, default_etag = cache.get(engine, KEY)
    with db.read(engine) as conn:
        stored = conn.execute(sa.select(db.content_versions.c.manifest_json)
                              .where(db.content_versions.c.version == 1)).scalar_one()
    assert json.loads(default_body)["manifest"] == json.loads(stored), "the default group's, as before groups"
    pilot_body, pilot_etag = cache.get(engine, KEY, "pilot", 2)
    manifest = json.loads(pilot_body)["manifest"]
    assert (manifest["content_version"], manifest["group"], manifest["epoch"]) == (2, "pilot", 2)
    assert pilot_etag != default_etag


def test_each_version_keeps_its_library_settings_staged_and_rolled_back(engine, libraries):
    """_library.yaml travels with its version: a stage carries its own, a group rolled back gets
    the old version's, a version without the file has none in its manifest (and the bytes it
    would have had before settings travelled)."""
    plain = libraries[0]
    with_synonyms = dataclasses.replace(libraries[1], settings=LibrarySettings({"en": (("wifi", "internet"),)}))
    publish.publish_library(engine, with_synonyms, by="t")  # 1, every group
    groups.add_group(engine, "pilot")
    publish.publish_library(engine, plain, by="t", to="pilot")  # 2, the pilot only: no settings
    cache = ManifestCache()

    def manifest(group: str, epoch: int = 0) -> dict:
        return json.loads(cache.get(engine, KEY, group, epoch)[0])["manifest"]

    assert manifest("default")["library"] == {"synonyms": {"en": [["wifi", "internet"]]}}
    assert "library" not in manifest("pilot")
    assert publish.library_of_version(engine, 2).settings == LibrarySettings()
    groups.rollback_group(engine, 1, "pilot")
    assert manifest("pilot", 1)["library"] == {"synonyms": {"en": [["wifi", "internet"]]}}
    assert publish.rollback(engine, 2, by="t").content_version == 3  # every group, version 2's content
    assert "library" not in manifest("default")
    with db.read(engine) as conn:
        stored = dict(conn.execute(sa.select(db.content_versions.c.version, db.content_versions.c.library_settings)).all())
    assert stored == {1: '{"synonyms":{"en":[["wifi","internet"]]}}', 2: None, 3: None}


def _staff(server) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=server.url, timeout=30)
    r = client.post("/dashboard/login", data={"username": STAFF_USER, "password": STAFF_PASSWORD})
    assert r.status_code == 303, r.text
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/dashboard/fleet").text).group(1)
    return client, token


def test_the_fleet_page_shows_groups_and_moves_a_kiosk_with_the_staff_csrf_token(own_server):
    code, _, err = own_server.cli("group", "add", "pilot")
    assert code == 0, err
    staff, token = _staff(own_server)
    try:
        page = staff.get("/dashboard/fleet").text
        assert re.search(r'<tr data-group="pilot"><td>pilot</td>\s*<td class="num">1</td>', page), page
        assert 'action="/dashboard/fleet/kiosk-2/group"' in page
        assert staff.post("/dashboard/fleet/kiosk-2/group", data={"group": "pilot"}).status_code == 403, \
            "no CSRF token, no move"
        moved = staff.post("/dashboard/fleet/kiosk-2/group", data={"group": "pilot", "csrf": token})
        assert moved.status_code == 303 and moved.headers["location"] == "/dashboard/fleet?moved=kiosk-2"
        page = staff.get(moved.headers["location"]).text
        assert "kiosk-2 is now in group pilot" in page
        row = re.search(r'<tr data-device="kiosk-2".*?</tr>', page, re.DOTALL).group(0)
        assert '<option value="pilot" selected>' in row
        missing = staff.post("/dashboard/fleet/kiosk-2/group", data={"group": "pier-c", "csrf": token})
        assert missing.status_code == 404
    finally:
        staff.close()
    with own_server.engine().connect() as conn:
        row = conn.execute(sa.select(db.devices.c.rollout_group, db.devices.c.epoch)
                           .where(db.devices.c.name == "kiosk-2")).one()
    assert tuple(row) == ("pilot", 1)
    with own_server.staff() as api:
        listed = {d["name"]: d for d in api.get("/api/v1/fleet").json()["devices"]}
    assert (listed["kiosk-2"]["group"], listed["kiosk-2"]["epoch"]) == ("pilot", 1)
    assert (listed["kiosk-1"]["group"], listed["kiosk-1"]["epoch"]) == ("default", 0)
    with own_server.device("kiosk-2") as kiosk:
        manifest = kiosk.get("/api/v1/content/manifest").json()["manifest"]
    assert (manifest["group"], manifest["epoch"]) == ("pilot", 1)
