"""`kiosk import` and `kiosk status` as an operator runs them: the installed command in a
subprocess, on a real data dir."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
from library_factory import base_guides, write_library

from contract.bundle import make_bundle
from contract.guides import LibraryInvalid
from contract.validation import load_library

REPO = Path(__file__).resolve().parent.parent
KIOSK = REPO / ".venv" / "bin" / "kiosk"


@pytest.fixture
def env(tmp_path):
    """The bundled sample library is swapped for the test's own, so a fresh data dir is filled
    with known content whatever state assets/ is in."""
    assets = tmp_path / "assets"
    write_library(assets / "library")
    return {**os.environ, "KIOSK_ASSETS": str(assets), "KIOSK_DATA_DIR": str(tmp_path / "unused")}


def kiosk(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(KIOSK), *args], check=False, env=env, capture_output=True, text=True, timeout=60
    )


def status(env, data_dir: Path) -> dict:
    result = kiosk(env, "status", "--data-dir", str(data_dir), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_import_a_valid_library(env, tmp_path):
    data = tmp_path / "data"
    library = write_library(tmp_path / "library")
    result = kiosk(env, "import", "--data-dir", str(data), str(library))
    assert result.returncode == 0, result.stderr
    assert f"Imported 4 guides from {library}" in result.stdout
    assert "4 added, 0 changed, 0 unchanged, 0 removed; 3 images" in result.stdout
    report = status(env, data)
    assert report["guides"] == 4
    assert report["content_version"].startswith("local-")
    assert report["content_version"] in result.stdout

    again = kiosk(env, "import", "--data-dir", str(data), str(library))
    assert "0 added, 0 changed, 4 unchanged, 0 removed" in again.stdout
    assert status(env, data)["content_version"] == report["content_version"]


def test_a_damaged_database_is_named_in_a_sentence_moved_aside_as_it_was_and_imported_into_anew(env, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    damaged = b"this was a kiosk database once " * 200
    (data / "kiosk.db").write_bytes(damaged)
    result = kiosk(env, "import", "--data-dir", str(data), str(write_library(tmp_path / "library")))
    assert result.returncode == 0, result.stderr
    assert f"the kiosk's database {data / 'kiosk.db'} was damaged; it was moved to" in result.stderr
    assert "Traceback" not in result.stderr
    moved = status(env, data)["recovered"]["moved_to"]
    assert Path(moved).read_bytes() == damaged, "kept as it was, beside the new one"


def test_an_invalid_library_prints_every_problem_and_changes_nothing(env, tmp_path):
    data = tmp_path / "data"
    kiosk(env, "import", "--data-dir", str(data), str(write_library(tmp_path / "good")))
    before = status(env, data)

    guides = base_guides()
    del guides["lost-passport.yaml"]  # would remove a guide if it got in
    guides["airport-wifi.yaml"]["steps"]["done"]["end"] = "finished"
    guides["airport-wifi.yaml"]["steps"]["connect"]["choices"][0]["next"] = "ghost"
    guides["lost-baggage.yaml"]["steps"]["report"]["text"] = {"es": "Vaya"}
    bad = write_library(tmp_path / "bad", guides)
    with pytest.raises(LibraryInvalid) as expected:
        load_library(bad)

    result = kiosk(env, "import", "--data-dir", str(data), str(bad))
    assert result.returncode != 0
    # 4: the ghost choice also leaves 'done' unreachable, and the graph checks run past the ghost
    assert "Not imported: 4 problem(s)" in result.stderr and "unchanged" in result.stderr
    for problem in expected.value.problems:
        assert str(problem) in result.stderr
    assert "Traceback" not in result.stderr
    after = status(env, data)
    assert (after["content_version"], after["guides"]) == (before["content_version"], before["guides"])


def test_a_missing_path_is_a_sentence_not_a_traceback(env, tmp_path):
    result = kiosk(env, "import", "--data-dir", str(tmp_path / "data"), str(tmp_path / "nowhere"))
    assert result.returncode != 0
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_import_a_zip_bundle(env, tmp_path):
    bundle = make_bundle(write_library(tmp_path / "library"), tmp_path / "library.zip")
    result = kiosk(env, "import", "--data-dir", str(tmp_path / "data"), str(bundle))
    assert result.returncode == 0, result.stderr
    assert status(env, tmp_path / "data")["guides"] == 4


def test_import_a_tar_gz_bundle_with_a_top_folder(env, tmp_path):
    library = write_library(tmp_path / "library")
    bundle = tmp_path / "library.tar.gz"
    with tarfile.open(bundle, "w:gz") as tf:
        tf.add(library, arcname="my-library")
    result = kiosk(env, "import", "--data-dir", str(tmp_path / "data"), str(bundle))
    assert result.returncode == 0, result.stderr
    assert status(env, tmp_path / "data")["guides"] == 4


@pytest.mark.parametrize(
    "evil_name", ["../evil.yaml", "../../evil.yaml", "/tmp/evil-abs.yaml", "library/../../evil.yaml"]
)
def test_a_hostile_zip_is_refused(env, tmp_path, evil_name):
    library = write_library(tmp_path / "work" / "library")
    bundle = make_bundle(library, tmp_path / "work" / "hostile.zip")
    with zipfile.ZipFile(bundle, "a") as zf:
        zf.writestr(evil_name, "id: evil\n")
    data = tmp_path / "data"
    result = kiosk(env, "import", "--data-dir", str(data), str(bundle))
    assert result.returncode != 0
    assert "unsafe path" in result.stderr and "Traceback" not in result.stderr
    assert not list(tmp_path.rglob("evil*.yaml"))
    assert not Path("/tmp/evil-abs.yaml").exists()


def test_a_hostile_tar_with_a_link_is_refused(env, tmp_path):
    library = write_library(tmp_path / "library")
    bundle = tmp_path / "hostile.tar.gz"
    with tarfile.open(bundle, "w:gz") as tf:
        tf.add(library, arcname=".")
        link = tarfile.TarInfo("images/passwd.png")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    result = kiosk(env, "import", "--data-dir", str(tmp_path / "data"), str(bundle))
    assert result.returncode != 0 and "unsafe entry" in result.stderr


def test_a_corrupt_bundle_is_refused(env, tmp_path):
    bundle = tmp_path / "broken.zip"
    bundle.write_bytes(b"PK\x03\x04 this is not really a zip")
    result = kiosk(env, "import", "--data-dir", str(tmp_path / "data"), str(bundle))
    assert result.returncode != 0 and "not a readable .zip or .tar.gz" in result.stderr


def test_status_json_on_a_new_data_dir(env, tmp_path):
    report = status(env, tmp_path / "fresh")
    assert set(report) == {"device", "app_version", "data_dir", "content_version", "content_digest", "guides", "languages",
                           "outbox_depth", "outbox_dropped", "server_url", "last_sync", "free_disk_bytes",
                           "rejected_events", "recovered", "group", "epoch"}
    assert report["content_version"] == "sample" and report["guides"] == 4  # filled from the sample
    assert report["data_dir"] == str(tmp_path / "fresh")
    assert report["outbox_depth"] == 0 and report["last_sync"] is None and report["server_url"] is None
    assert report["languages"][0] == "en" and report["free_disk_bytes"] > 0
    assert report["device"] and report["recovered"] is None
    assert (report["group"], report["epoch"]) == (None, 0), "no server has named its rollout group yet"


def test_status_with_a_broken_sample_library_is_a_warning_not_a_traceback(env, tmp_path):
    guides = base_guides()
    guides["lost-passport.yaml"]["start"] = "nowhere"
    write_library(Path(env["KIOSK_ASSETS"]) / "library", guides)
    result = kiosk(env, "status", "--data-dir", str(tmp_path / "fresh"), "--json")
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "sample library" in result.stderr and "start step 'nowhere' does not exist" in result.stderr
    report = json.loads(result.stdout)
    assert report["guides"] == 0 and report["content_version"] is None


def test_status_for_people(env, tmp_path):
    result = kiosk(env, "status", "--data-dir", str(tmp_path / "fresh"))
    assert result.returncode == 0
    assert "Content version sample (4 guides" in result.stdout
    assert "Outbox          0 events waiting" in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "A self-help guide kiosk."),
        (("run",), "--windowed"),
        (("import",), "An invalid library changes nothing."),
        (("status",), "--json"),
    ],
)
def test_help(env, args, expected):
    result = kiosk(env, *args, "--help")
    assert result.returncode == 0 and expected in result.stdout
    assert "--data-dir" in result.stdout or not args


def test_no_subcommand_shows_usage(env):
    result = kiosk(env)
    assert result.returncode == 2 and "usage: kiosk" in result.stderr
