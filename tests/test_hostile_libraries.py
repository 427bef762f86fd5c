"""Hostile libraries and bundles (issue 11), through every way a library enters: the contract's
reader (what the kiosk's USB import and publish call), `kiosk import`, `kiosk-server validate`, and
the kiosk's staff-mode USB import. Each must end in a refusal that names the problem, in bounded
time and memory, never a crash (a segfault, a MemoryError, a traceback) or a silent change.
(The publish endpoint on the real server is tests/server/test_publish_hostile.py.)"""

from __future__ import annotations

import json

import pytest
from hostile_inputs import (
    FAKE_JPEG,
    FAKE_PNG,
    PYTHON,
    REPO,
    ForkJudge,
    alias_bomb,
    library_with,
    library_with_image,
    library_with_image_loop,
    library_with_outside_link,
    long_ids,
    lying_zip,
    many_entries_tar_gz,
    mutual_jumps,
    nested_yaml,
    non_utf8_tar,
    open_library_bounded,
    png_bomb,
    run_bounded,
    several_problems,
    sparse_file,
    tar_gz_bomb,
    text_as_written,
    zip_bomb,
)
from library_factory import write_library

from contract.validation import load_library

MAX_MB = 300  # the most any reader may hold for one hostile library (a bare reader needs ~40 MB)
MAX_S = 10.0  # and the longest it may take to say no (each is well under a second on a quiet machine)


@pytest.fixture(scope="module")
def payloads(tmp_path_factory):
    """Every hostile input once per module (the tar of 100,001 entries takes a moment to make):
    name -> (path, the words its refusal must contain)."""
    tmp = tmp_path_factory.mktemp("hostile")
    found = {
        "nested": (library_with(tmp / "nested", {"deep.yaml": nested_yaml(50_000)}), "nested too deeply"),
        "alias bomb": (library_with(tmp / "alias", {"bomb.yaml": alias_bomb()}), "alias"),
        "sparse 3 GB": (sparse_file(write_library(tmp / "sparse") / "huge.yaml"), "at most 1 MB"),
        "lying zip": (lying_zip(tmp / "lying.zip"), "lying.zip"),
        "zip bomb": (zip_bomb(tmp / "bomb.zip"), "more than 20 MB"),
        "100,001 entries": (many_entries_tar_gz(tmp / "many.tar.gz"), "entries"),
        "tar.gz bomb": (tar_gz_bomb(tmp / "bomb.tar.gz"), "more than 20 MB"),
        "png bomb": (library_with_image(tmp / "pngbomb", png_bomb()), "20000x20000"),
        "fake png": (library_with_image(tmp / "fakepng", FAKE_PNG), "cannot be decoded"),
        "fake jpeg": (library_with_image(tmp / "fakejpeg", FAKE_JPEG, "images/wifi.jpg"), "cannot be decoded"),
        "long ids": (library_with(tmp / "long", {"long.yaml": long_ids()}), "at most 80 characters"),
        "non-UTF-8 tar name": (non_utf8_tar(tmp / "nonutf8.tar.gz"), "not UTF-8"),
        "image link loop": (library_with_image_loop(tmp / "loop"), "images/belt.png"),
        "outside link": (library_with_outside_link(tmp / "outside"), "outside the library"),
        "mutual jumps": (library_with(tmp / "jumps", mutual_jumps()), "never reach"),
    }
    # the sparse file sits inside a library folder: the folder is what gets imported
    found["sparse 3 GB"] = (found["sparse 3 GB"][0].parent, found["sparse 3 GB"][1])
    return found


ALL = ["nested", "alias bomb", "sparse 3 GB", "lying zip", "zip bomb", "100,001 entries", "tar.gz bomb", "png bomb", "fake png",
       "fake jpeg", "long ids", "non-UTF-8 tar name", "image link loop", "outside link", "mutual jumps"]


def assert_named_refusal(result, words: str, where: str) -> None:
    assert not result.timed_out, f"{where} was still reading after {result.seconds:.0f} s"
    assert result.returncode == 1, f"{where} ended with {result.returncode}:\n{result.output[-3000:]}"
    assert "Traceback" not in result.output, result.output[-3000:]
    assert words in result.output, f"{where} did not say {words!r}:\n{result.output[-3000:]}"
    assert result.seconds < MAX_S, f"{where} took {result.seconds:.1f} s"
    assert result.peak_mb < MAX_MB, f"{where} peaked at {result.peak_mb:.0f} MB"


# --- the contract's reader: open_library, as every entry calls it ------------------------------


@pytest.fixture(scope="module")
def reader():
    with ForkJudge(cpu_seconds=int(MAX_S)) as judge:
        yield judge


@pytest.mark.parametrize("kind", ALL)
def test_the_reader_refuses_each_hostile_library_by_name(payloads, reader, kind):
    """Each in a process of its own (forked), with 512 MB of address space."""
    path, words = payloads[kind]
    answer = reader.read(path)
    assert answer["status"] == 0, f"open_library({kind}) died: {answer}"
    assert answer["verdict"].startswith("INVALID"), f"open_library({kind}): {answer['verdict'][:2000]}"
    assert words in answer["verdict"], f"open_library({kind}) did not say {words!r}: {answer['verdict'][:2000]}"
    assert answer["seconds"] < MAX_S, f"open_library({kind}) took {answer['seconds']:.1f} s"
    assert answer["peak_mb"] < MAX_MB, f"open_library({kind}) peaked at {answer['peak_mb']:.0f} MB"


# --- `kiosk import` and `kiosk-server validate`, the installed commands ------------------------


@pytest.mark.parametrize("kind", ["nested", "alias bomb", "sparse 3 GB", "zip bomb"])
def test_kiosk_import_refuses_by_name_and_keeps_its_content(payloads, kind, tmp_path):
    path, words = payloads[kind]
    data = tmp_path / "data"
    result = run_bounded([str(REPO / ".venv" / "bin" / "kiosk"), "import", "--data-dir", str(data), str(path)],
                         env={"KIOSK_ASSETS": str(write_library(tmp_path / "assets" / "library").parent)})
    assert_named_refusal(result, words, f"kiosk import ({kind})")
    assert "Not imported" in result.stderr


@pytest.mark.parametrize("kind", ["nested", "lying zip"])
def test_server_validate_refuses_by_name(payloads, kind, tmp_path):
    path, words = payloads[kind]
    result = run_bounded([str(REPO / ".venv" / "bin" / "kiosk-server"), "validate", str(path)],
                         env={"KIOSK_SERVER_DATA_DIR": str(tmp_path)})
    assert_named_refusal(result, words, f"kiosk-server validate ({kind})")
    assert "problem(s)" in result.stderr


# --- the kiosk's USB import (staff mode), through its controller -------------------------------

USB_IMPORT = """
import json, sys
from kivy.clock import Clock
from devtools.procs import wait_for
from kiosk.settings import Settings
from offline_cache.store import Store
from screens.staff import StaffController

store = Store(sys.argv[1])
controller = StaffController(Settings(device="kiosk-usb", data_dir=sys.argv[2]), store, sync_service=None,
                             translate=lambda m: m, content_changed=lambda: None)
answers = {}
for path in sys.argv[3:]:
    got = []
    controller.import_library(path, got.append)
    wait_for(lambda: got, 20, "the import to answer", interval=0, pause=lambda _: Clock.tick())
    answers[path] = got[0]
print(json.dumps(answers))
"""


def test_the_kiosk_usb_import_refuses_each_by_name(payloads, tmp_path):
    kinds = ["nested", "alias bomb", "lying zip", "100,001 entries", "png bomb", "non-UTF-8 tar name",
             "image link loop", "long ids"]
    paths = [str(payloads[k][0]) for k in kinds]
    result = run_bounded([str(PYTHON), "-c", USB_IMPORT, str(tmp_path / "kiosk.db"), str(tmp_path), *paths],
                         timeout=60, env={"KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1",
                                          "KIVY_HOME": str(tmp_path / "kivy")})
    assert result.returncode == 0, result.output[-3000:]
    assert result.peak_mb < MAX_MB, f"the USB import peaked at {result.peak_mb:.0f} MB"
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    for kind, path in zip(kinds, paths, strict=True):
        answer = answers[path]
        assert answer.startswith("Not imported:"), (kind, answer)
        assert "content is unchanged" in answer, (kind, answer)
        assert payloads[kind][1] in answer, (kind, answer)


# --- what validation reads, as written ---------------------------------------------------------


def test_text_fields_keep_the_text_as_written(tmp_path):
    """The README promises the text they show: 0800 stays 0800, 1.50 stays 1.50."""
    lib = load_library(library_with(tmp_path / "lib", {"numbers.yaml": text_as_written()}))
    guide = lib.guides["numbers"]
    assert guide.title == {"en": "0800"}
    assert guide.steps["s1"].text == {"en": "1.50"}
    assert [c.label["en"] for c in guide.steps["s1"].choices] == ["0800", "2026-01-02"]
    assert guide.steps["s2"].text == {"en": "1e3"}


def test_every_problem_is_reported_in_one_pass_around_a_missing_step(tmp_path):
    result = open_library_bounded(library_with(tmp_path / "lib", {"many.yaml": several_problems()}))
    problems = [line for line in result.stdout.splitlines() if line.startswith("PROBLEM many.yaml")]
    text = "\n".join(problems)
    assert "step 'missing', which does not exist" in text, text
    assert "(step 'orphan'): cannot be reached from the start step" in text, text
    assert "(step 'b'): is part of a loop with no way to an end" in text, text
    assert "(step 'c'): is part of a loop with no way to an end" in text, text


def test_problem_messages_stay_short_whatever_the_value(tmp_path):
    """A problem quotes what it found, never all of it: a 300 KB id is not written out whole."""
    huge = "X" * 300_000
    doc = f"id: {huge}\ntitle: T\nlanguage: {huge}\nstart: s\nsteps:\n  s:\n    text: t\n    end: {huge}\n"
    result = open_library_bounded(library_with(tmp_path / "lib", {"huge.yaml": doc}))
    problems = [line for line in result.stdout.splitlines() if line.startswith("PROBLEM huge.yaml")]
    assert len(problems) >= 3, result.output[-2000:]
    assert all(len(line) < 400 for line in problems), [len(line) for line in problems]


def test_the_server_stores_every_id_validation_lets_through():
    """One limit: an id the validator accepts fits every column and every event field it lands in."""
    from contract.limits import MAX_ID_LENGTH
    from server import db

    for column in (db.guide_versions.c.guide_id, db.content_guides.c.guide_id, db.events.c.guide, db.events.c.step):
        assert column.type.length >= MAX_ID_LENGTH, column
