"""A destroyed kiosk.db never stops the kiosk or sends it into a restart loop: the bad file is moved
aside with its -wal and -shm under a timestamped name, the kiosk rebuilds from the bundled library,
keeps every outbox event it can still read from the bad file, and says so (`kiosk status --json`
shows `recovered: {at, moved_to, outbox_kept, outbox_lost}`). `kiosk config check` names the damage.
The events of a power cut are written with synchronous=FULL, so a commit that returned survives it."""

from __future__ import annotations

import gc
import json
import re
import shutil
import sqlite3
from pathlib import Path

import damage
import pytest

from kiosk import cli
from kiosk.config_check import check_config
from offline_cache.store import Store

EVENTS = 300
SAMPLE = Path(__file__).resolve().parents[1] / "assets" / "library"


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> tuple[Path, list[str]]:
    """A kiosk that has run for a while: kiosk.toml, the sample content and EVENTS waiting events."""
    data = tmp_path_factory.mktemp("template")
    assert cli.main(["status", "--data-dir", str(data)]) == 0
    gc.collect()  # the command's own connection, so the checkpoint below gets the whole file
    uuids = damage.add_events(data / "kiosk.db", EVENTS)
    return data, uuids


@pytest.fixture
def kiosk_dir(template, tmp_path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    for name in ("kiosk.toml", "kiosk.db"):
        shutil.copy2(template[0] / name, data / name)
    return data


def status(data: Path, capsys) -> tuple[int, dict, str]:
    capsys.readouterr()
    code = cli.main(["status", "--json", "--data-dir", str(data)])
    gc.collect()
    out = capsys.readouterr()
    return code, json.loads(out.out) if code == 0 else {}, out.err


def outbox_uuids(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {u for (u,) in conn.execute("SELECT uuid FROM outbox")}


# (damage, outbox rows the kiosk must keep, rows it must count as lost); None: not knowable
CASES = {
    "an outbox page flipped": (damage.flip_outbox_page, "all but the page", "the page"),
    "truncated to a third": (damage.truncate, None, None),
    "not a database": (damage.not_a_database, 0, None),
    "zero-length": (damage.zero_length, 0, None),
    "a directory": (damage.a_directory, 0, None),
    "the schema page flipped": (damage.flip_schema, 0, None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_destroyed_database_is_moved_aside_and_rebuilt_keeping_what_can_be_read(case, kiosk_dir, template,
                                                                                capsys):
    db = kiosk_dir / "kiosk.db"
    hurt, kept, lost = CASES[case]
    destroyed_rows = hurt(db)
    wal, _shm = damage.garbage_wal_and_shm(db)
    bad_bytes = None if db.is_dir() else db.read_bytes()

    code, report, err = status(kiosk_dir, capsys)

    assert code == 0, err
    assert "Traceback" not in err
    assert "damaged" in err and "moved" in err, f"the operator is told: {err!r}"
    recovered = report.get("recovered")
    assert recovered, f"status says nothing of the rebuild: {report}"
    assert set(recovered) == {"at", "moved_to", "outbox_kept", "outbox_lost"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)", recovered["at"]), recovered["at"]
    moved = Path(recovered["moved_to"])
    assert moved.parent == kiosk_dir and re.search(r"\d{8}T\d{6}", moved.name), moved
    if bad_bytes is None:
        assert (moved / "stray-file").exists(), "the folder was moved aside whole"
    else:
        assert moved.read_bytes() == bad_bytes, "the bad file is kept as it was, for a post-mortem"
    assert Path(f"{moved}-wal").read_bytes() == wal, "its -wal goes with it, as it was (the last commits)"
    assert Path(f"{moved}-shm").exists(), "and its -shm (a stale one beside the new file would be taken for its own)"
    assert report["guides"] > 0 and report["content_version"] == "sample", "rebuilt from the bundled library"

    if kept == "all but the page":
        kept, lost = EVENTS - destroyed_rows, destroyed_rows
    if kept is not None:
        assert recovered["outbox_kept"] == kept
    if lost is not None:
        assert recovered["outbox_lost"] == lost
    assert report["outbox_depth"] == recovered["outbox_kept"]
    assert outbox_uuids(db) <= set(template[1]), "kept events are the kiosk's own, unchanged"
    store = Store(db)
    assert store.integrity_check() == "ok"
    store.close()

    again, report2, err2 = status(kiosk_dir, capsys)
    assert again == 0 and report2["recovered"] == recovered, "the rebuild stays on record, and happens once"
    assert "damaged" not in err2
    assert len([p for p in kiosk_dir.iterdir() if re.search(r"\d{8}T\d{6}", p.name) and
                not p.name.endswith(("-wal", "-shm"))]) == 1


def test_a_flipped_outbox_page_costs_only_the_events_on_it(kiosk_dir, template, capsys):
    db = kiosk_dir / "kiosk.db"
    with sqlite3.connect(db) as conn:
        before = [u for (u,) in conn.execute("SELECT uuid FROM outbox ORDER BY seq")]
    destroyed = damage.flip_outbox_page(db)
    code, _report, err = status(kiosk_dir, capsys)
    assert code == 0, err
    kept = outbox_uuids(db)
    assert len(kept) == EVENTS - destroyed
    with sqlite3.connect(db) as conn:
        order = [u for (u,) in conn.execute("SELECT uuid FROM outbox ORDER BY seq")]
    assert order == [u for u in before if u in kept], "the kept events keep their order"
    assert before[0] in kept and before[-1] in kept, "events on both sides of the bad page are kept"


def test_garbage_wal_and_shm_beside_a_good_database_cost_nothing(kiosk_dir, capsys):
    damage.garbage_wal_and_shm(kiosk_dir / "kiosk.db")
    code, report, err = status(kiosk_dir, capsys)
    assert code == 0, err
    assert "Traceback" not in err
    assert report["outbox_depth"] == EVENTS and report["guides"] > 0
    assert report.get("recovered") is None, "a good database is not thrown away"


def test_import_into_a_destroyed_database_rebuilds_it_and_imports(kiosk_dir, capsys):
    damage.not_a_database(kiosk_dir / "kiosk.db")
    code = cli.main(["import", "--data-dir", str(kiosk_dir), str(SAMPLE)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err
    code, report, _ = status(kiosk_dir, capsys)
    assert report["recovered"]["outbox_kept"] == 0 and report["guides"] > 0


def test_config_check_names_a_damaged_database_and_leaves_it_where_it_is(kiosk_dir, capsys):
    db = kiosk_dir / "kiosk.db"
    damage.flip_outbox_page(db)
    bad = db.read_bytes()
    findings = [f for f in check_config(kiosk_dir) if f.level == "error"]
    assert any(str(db) in f.message and "damaged" in f.message for f in findings), findings
    capsys.readouterr()
    assert cli.main(["config", "check", "--data-dir", str(kiosk_dir)]) == 1
    assert "damaged" in capsys.readouterr().out
    assert db.read_bytes() == bad, "checking changes nothing"


def test_a_healthy_database_is_fine_for_config_check_and_status(kiosk_dir, capsys):
    assert not any("kiosk.db" in f.message for f in check_config(kiosk_dir))
    code, report, _ = status(kiosk_dir, capsys)
    assert code == 0 and report["recovered"] is None and report["outbox_depth"] == EVENTS


def test_events_are_committed_so_that_a_power_cut_keeps_them(tmp_path):
    """WAL with synchronous=NORMAL may lose the last commits to a power cut (SQLite syncs the WAL
    only at checkpoints); FULL syncs it at every commit. A real power cut cannot be made in a test:
    the setting every store connection (UI thread and sync thread alike) runs with is checked."""
    import threading

    store = Store(tmp_path / "kiosk.db")
    seen = [store.db.execute("PRAGMA synchronous").fetchone()[0]]
    other = threading.Thread(target=lambda: seen.append(store.db.execute("PRAGMA synchronous").fetchone()[0]))
    other.start()
    other.join()
    store.close()
    assert seen == [2, 2], "synchronous=FULL (2) on every connection"


def test_a_damaged_database_another_process_has_open_is_left_in_place_until_it_closes(kiosk_dir, capsys):
    """`kiosk status` beside the running app must not move the file out from under it: it says so,
    and the rebuild happens when the app's store is closed (its next start)."""
    db = kiosk_dir / "kiosk.db"
    app = Store(db)  # the running app's store
    damage.flip_outbox_page(db)
    code, _, err = status(kiosk_dir, capsys)
    assert code == 1 and "has it open" in err and "Traceback" not in err, err
    assert not [p for p in kiosk_dir.iterdir() if "damaged-" in p.name], "nothing was moved"
    app.close()
    code, report, err = status(kiosk_dir, capsys)
    assert code == 0 and report["recovered"], err
