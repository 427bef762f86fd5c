"""Power cut during `kiosk import`: kill -9 the real command at random moments, over and over,
and the database must hold the whole old library or the whole new one, never a mix or a corrupt
file. Two libraries A and B with different guides, step counts and marker words are imported in
turn, so "old" and "new" are always told apart."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from library_factory import snapshot_counts, write_generated_library

from devtools.procs import wait_for

REPO = Path(__file__).resolve().parent.parent
KIOSK = REPO / ".venv" / "bin" / "kiosk"
KILLS = 20
# Sized so that the whole test stays under a minute on a shared 2-core machine: YAML parsing, not
# SQLite, is most of an import's time, so more guides would mostly lengthen the uninteresting part.
SIZES = {"A": (100, "alphamark", 1), "B": (80, "betamark", 3)}


def content_state(db_path: Path) -> tuple:
    """What a reader sees, in one read transaction; also checks the file is sound."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        state = snapshot_counts(conn)
        conn.execute("BEGIN")
        # Every image a guide names is there (unused ones may linger until the cleanup after a switch).
        missing = conn.execute(
            "SELECT COUNT(*) FROM guide_images WHERE sha256 NOT IN (SELECT sha256 FROM images)"
        ).fetchone()[0]
        conn.execute("COMMIT")
        assert missing == 0, f"{missing} images named by guides are missing"
        return state
    finally:
        conn.close()


def start_import(data_dir: Path, library: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(KIOSK), "import", "--data-dir", str(data_dir), str(library)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )


def wal_written_since(wal: Path, since_ns: int) -> bool:
    """Whether the WAL was written after `since_ns`: a WAL left behind by a killed importer is
    still there when the next one starts, so its mere presence says nothing."""
    try:
        return wal.stat().st_mtime_ns > since_ns
    except FileNotFoundError:
        return False


def wait_for_db_writes(wal: Path, proc: subprocess.Popen, since_ns: int, timeout: float = 60) -> None:
    """Poll until the importer has started writing (its WAL is written) or has exited."""
    wait_for(lambda: proc.poll() is not None or wal_written_since(wal, since_ns), timeout,
             "the importer to start writing", interval=0.002)


@pytest.mark.slow
@pytest.mark.seed(20261201)
def test_kill_9_during_import_leaves_old_or_new_content(tmp_path, seed):
    rng = random.Random(seed)  # when the plug is pulled; a failure report names the seed
    libraries = {
        name: write_generated_library(tmp_path / name, count, marker, seed=s, steps=1 + s % 3)
        for name, (count, marker, s) in SIZES.items()
    }
    data = tmp_path / "data"
    db_path, wal = data / "kiosk.db", data / "kiosk.db-wal"
    # Two whole imports: the content each leaves, how long an import takes, and how long its
    # SQLite part takes (from the first write to exit), to aim half of the kills into that part.
    expected, whole_import, db_phase = {}, 0.0, 0.0
    for name in ("A", "B"):
        started, started_ns = time.perf_counter(), time.time_ns()
        proc = start_import(data, libraries[name])
        wait_for_db_writes(wal, proc, started_ns)
        writing = time.perf_counter()
        assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
        whole_import = max(whole_import, time.perf_counter() - started)
        db_phase = time.perf_counter() - writing  # B's: A's first write also creates the schema
        expected[name] = content_state(db_path)
    assert expected["A"][:5] == (100, 100 * 4, 200, 200, 0)
    assert expected["B"][0] == 80 and expected["B"][4] == 160 and expected["B"][3] == 0
    assert expected["A"][5] != expected["B"][5]

    # Until KILLS imports have been killed mid-run; an import that finished first still has its
    # content checked, and the delays shrink so that later attempts land while it runs.
    current, killed, killed_while_writing, attempt, scale = "B", 0, 0, 0, 1.0
    while killed < KILLS:
        attempt += 1
        assert attempt <= 4 * KILLS, f"seed {seed}: only {killed} of {attempt - 1} imports were killed while running"
        target = "A" if current == "B" else "B"
        started_ns = time.time_ns()
        proc = start_import(data, libraries[target])
        if attempt % 2:
            wait_for_db_writes(wal, proc, started_ns)
            time.sleep(rng.uniform(0, db_phase * 1.5 * scale))
        else:
            time.sleep(rng.uniform(0, whole_import * 1.1 * scale))
        proc.kill()
        code = proc.wait(timeout=30)
        if code == -9:
            killed += 1
            killed_while_writing += wal_written_since(wal, started_ns)
        else:
            scale *= 0.8
        state = content_state(db_path)
        matches = [name for name, want in expected.items() if state == want]
        assert matches, (
            f"seed {seed}, attempt {attempt}: content is neither A nor B: {state}; "
            f"A={expected['A']} B={expected['B']}"
        )
        if code == 0:
            assert matches == [target], f"seed {seed}: a finished import must leave its own content"
        current = matches[0]
    assert killed_while_writing >= 3, f"seed {seed}: only {killed_while_writing} kills landed while writing"
