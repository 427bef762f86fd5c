"""`kiosk-server` administration commands against a real database (SQLite file and PostgreSQL)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from server_testkit import cli, fresh_pg_database, make_library

from contract.handoff import handoff_key
from server import db
from server.auth import device_for_token, token_digest

KIOSK_SERVER = Path(sys.executable).parent / "kiosk-server"


@pytest.fixture(params=["sqlite", "postgres"])
def ks(request, tmp_path):
    """Run kiosk-server against a fresh database; returns (run, engine)."""

    def setup(url):
        data_dir = tmp_path / "data"

        def run(*args, stdin=""):
            return cli(*args, "--db", url, "--data-dir", str(data_dir), stdin=stdin)

        run.data_dir = data_dir
        run.engine = db.make_engine(url, pool_size=1)
        return run

    if request.param == "sqlite":
        run = setup(str(tmp_path / "server.db"))
        yield run
        run.engine.dispose()
    else:
        with fresh_pg_database("cli") as url:
            run = setup(url)
            yield run
            run.engine.dispose()


def broken_library(tmp_path: Path) -> Path:
    lib = make_library(tmp_path / "broken")
    text = (lib / "lost-bag.yaml").read_text()
    text = text.replace("next: damaged", "next: nowhere").replace("image: images/belt.png", "image: images/gone.png")
    (lib / "lost-bag.yaml").write_text(text)
    (lib / "wifi.yaml").write_text((lib / "wifi.yaml").read_text().replace("end: escalate", "end: maybe"))
    return lib


def test_validate_prints_every_problem(tmp_path):
    code, _, err = cli("validate", str(broken_library(tmp_path)))
    assert code == 1
    assert "nowhere" in err and "images/gone.png" in err and "maybe" in err
    code, out, err = cli("validate", str(make_library(tmp_path / "good")))
    assert code == 0 and "2 guide(s), 1 image(s)" in out


def test_an_invalid_library_publishes_nothing(ks, tmp_path):
    code, _, err = ks("publish", str(broken_library(tmp_path)))
    assert code == 1 and "nothing was published" in err and "nowhere" in err and "maybe" in err
    db.migrate(ks.engine)
    with ks.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.content_versions)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(db.guide_versions)).scalar() == 0


def guide_versions(engine, content_version):
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(db.content_guides.c.guide_id, db.content_guides.c.guide_version)
                                 .where(db.content_guides.c.content_version == content_version)).all())


def test_guide_versions_move_only_when_content_changes_and_rollback_republishes(ks, tmp_path):
    lib = make_library(tmp_path / "lib")
    (lib / "extra.yaml").write_text("id: extra\ntitle: Extra\nstart: a\nsteps:\n  a: {text: Done., end: resolved}\n")
    assert ks("publish", str(lib), "--by", "ana")[1].startswith("Published content version 1")
    code, out, _ = ks("publish", str(lib))
    assert code == 0 and "content version 2" in out and "new versions: none" in out
    assert guide_versions(ks.engine, 2) == {"lost-bag": 1, "wifi": 1, "extra": 1}
    make_library(lib, wifi_text="Do you see AIRPORT-FREE?")
    code, out, _ = ks("publish", str(lib))
    assert "wifi v2" in out and "lost-bag" not in out.split("new versions:")[1]
    assert guide_versions(ks.engine, 3) == {"lost-bag": 1, "wifi": 2, "extra": 1}
    (lib / "extra.yaml").unlink()
    code, out, _ = ks("publish", str(lib))
    assert "removed: extra" in out and guide_versions(ks.engine, 4) == {"lost-bag": 1, "wifi": 2}

    code, out, _ = ks("rollback", "1")
    assert code == 0 and "content version 5" in out
    # the old content comes back as a new version; nothing old was deleted
    assert guide_versions(ks.engine, 5) == {"lost-bag": 1, "wifi": 3, "extra": 1}
    with ks.engine.connect() as conn:
        docs = dict(conn.execute(sa.select(db.guide_versions.c.version, db.guide_versions.c.sha256)
                                 .where(db.guide_versions.c.guide_id == "wifi")).all())
        manifest = json.loads(conn.execute(sa.select(db.content_versions.c.manifest_json)
                                           .where(db.content_versions.c.version == 5)).scalar())
        rollback_of = conn.execute(sa.select(db.content_versions.c.rollback_of)
                                   .where(db.content_versions.c.version == 5)).scalar()
    assert docs[3] == docs[1] != docs[2] and rollback_of == 1
    assert manifest["guides"]["wifi"] == {"version": 3, "sha256": docs[1], "size": manifest["guides"]["wifi"]["size"]}
    code, _, err = ks("rollback", "99")
    assert code == 1 and "does not exist" in err


def test_devices_are_added_listed_and_revoked_with_only_a_token_hash_kept(ks):
    code, out, _ = ks("device", "add", "gate-4", "--location", "Terminal 1, gate 4")
    assert code == 0
    token = out.strip().splitlines()[-1]
    # a fixed prefix: never read as an option (`--token -abc`), and findable by secret scanners
    assert re.fullmatch(r"gkd_[A-Za-z0-9_-]{43}", token), token
    with ks.engine.connect() as conn:
        row = conn.execute(sa.select(db.devices).where(db.devices.c.name == "gate-4")).mappings().one()
    assert token not in json.dumps({k: str(v) for k, v in row.items()})
    assert row["token_sha256"] == token_digest(token) and row["handoff_key"] == handoff_key(token).hex()
    assert ks("device", "add", "gate-4")[0] == 2  # names are unique
    assert ks("device", "add", "bad name!")[0] == 2
    code, out, _ = ks("device", "list")
    assert "gate-4" in out and "Terminal 1, gate 4" in out and "active" in out
    assert ks("device", "revoke", "gate-4")[0] == 0
    assert "revoked" in ks("device", "list")[1]
    assert ks("device", "revoke", "gate-4")[0] == 1


def test_rotating_a_device_gives_it_a_new_token_and_retires_the_old_one(ks):
    old = ks("device", "add", "gate-7", "--location", "Terminal 2")[1].strip().splitlines()[-1]
    code, out, err = ks("device", "rotate", "gate-7")
    assert code == 0, err
    assert "old one no longer works" in out
    new = out.strip().splitlines()[-1]
    assert re.fullmatch(r"gkd_[A-Za-z0-9_-]{43}", new) and new != old
    with ks.engine.connect() as conn:
        row = conn.execute(sa.select(db.devices).where(db.devices.c.name == "gate-7")).mappings().one()
    assert row["token_sha256"] == token_digest(new) and row["handoff_key"] == handoff_key(new).hex()
    assert row["location"] == "Terminal 2" and row["revoked_at"] is None, "the device itself is unchanged"
    assert device_for_token(ks.engine, old) is None and device_for_token(ks.engine, new).name == "gate-7"
    code, _, err = ks("device", "rotate", "gate-nine")
    assert code == 1 and "no active device called 'gate-nine'" in err
    assert ks("device", "revoke", "gate-7")[0] == 0
    assert ks("device", "rotate", "gate-7")[0] == 1, "a revoked device stays revoked"


def test_staff_passwords_are_stored_as_scrypt_hashes(ks):
    code, out, _ = ks("staff", "add", "maria", "--password-stdin", stdin="a long secret phrase\n")
    assert code == 0 and "added" in out
    code, out, _ = ks("staff", "add", "maria", "--password-stdin", stdin="another secret phrase\n")
    assert code == 0 and "password changed" in out
    assert ks("staff", "add", "bob", "--password-stdin", stdin="short\n")[0] == 2
    with ks.engine.connect() as conn:
        stored = conn.execute(sa.select(db.staff.c.password_hash)).scalar_one()
    assert stored.startswith("scrypt$") and "secret" not in stored
    from server.auth import check_staff

    assert check_staff(ks.engine, "maria", "another secret phrase")
    assert not check_staff(ks.engine, "maria", "a long secret phrase")


def test_schema_is_versioned_and_migrating_again_changes_nothing(ks):
    assert ks("device", "list")[0] == 0
    assert db.migrate(ks.engine) == db.SCHEMA_VERSION
    with ks.engine.connect() as conn:
        versions = conn.execute(sa.select(db.schema_version.c.version)).scalars().all()
    assert versions == [m[0] for m in db.MIGRATIONS]


def test_key_is_made_once_private_and_stable(tmp_path):
    data = tmp_path / "data"
    first = subprocess.run([str(KIOSK_SERVER), "key", "--data-dir", str(data)], capture_output=True, text=True, check=False)
    second = subprocess.run([str(KIOSK_SERVER), "key", "--data-dir", str(data)], capture_output=True, text=True, check=False)
    assert first.returncode == 0 and first.stdout == second.stdout and len(first.stdout.strip()) == 44
    assert (data / "server_key.pem").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("args", [[], ["serve"], ["validate"], ["publish"], ["rollback"], ["device", "add"],
                                  ["device", "list"], ["device", "revoke"], ["device", "rotate"], ["staff", "add"], ["key"]])
def test_every_command_has_help(args, capsys):
    from server.cli import main

    with pytest.raises(SystemExit) as exc:
        main([*args, "--help"])
    assert exc.value.code == 0
    assert "usage: kiosk-server" in capsys.readouterr().out


def test_the_entry_point_runs():
    run = subprocess.run([str(KIOSK_SERVER), "--help"], capture_output=True, text=True, check=False)
    assert run.returncode == 0 and "serve" in run.stdout and "publish" in run.stdout
