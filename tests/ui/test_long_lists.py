"""A category of 2,500 guides (issue 16, "Long lists"): the real app, opened by a tap, answers
within a bound measured on its UI thread and grows by a bounded amount of memory; the 2,000th
guide, scrolled to, opens that guide; and the keys alone reach a row past the first screenful,
the list scrolling with the focus and the speech saying that row's title."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from library_factory import write_one_category_library

from tests.ui.conftest import KIOSK
from tests.ui.test_audio_mode import Listener

pytestmark = pytest.mark.ui

GUIDES = 2500
CATEGORY = "Everything"
# shared/DESIGN.md's limits for opening any list, whatever its length (issue 16)
UI_THREAD_MS = 100
GROWTH_MB = 20


def write_long_category(tmp_path: Path) -> list[tuple[str, str]]:
    """2,500 generated guides, all in one category, imported into the data dir the kiosk runs
    with; returns (id, title) of each in the order the list shows them (by title)."""
    rows = write_one_category_library(tmp_path / "library", GUIDES, CATEGORY)
    subprocess.run([str(KIOSK), "import", "--data-dir", str(tmp_path), str(tmp_path / "library")], check=True,
                   capture_output=True, timeout=120)
    return rows


def rss_mb(kiosk) -> float:
    for line in Path(f"/proc/{kiosk.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def guide_rows(snap: dict) -> list[str]:
    return [b["id"] for b in snap["buttons"] if b["id"].startswith("guide:")]


def open_category(kiosk) -> tuple[dict, float, float, float]:
    """Tap the category; returns the settled probe, the UI thread's CPU ms and the wall-clock ms
    from the touch reaching the app to the last frame that changed (the list drawn whole, the
    probe's figures), and the RSS growth in MB."""
    before_mb = rss_mb(kiosk)
    snap = kiosk.tap_and_wait("category:" + CATEGORY.lower(), lambda s: CATEGORY in s["labels"]
                              and guide_rows(s), "the long category's list")
    return (snap, (snap["drawn_cpu"] - snap["input_cpu"]) * 1000, (snap["drawn_t"] - snap["input_t"]) * 1000,
            rss_mb(kiosk) - before_mb)


def test_a_category_of_2500_guides_opens_at_once_and_its_2000th_guide_opens(start_kiosk, tmp_path):
    rows = write_long_category(tmp_path)
    speech = tmp_path / "speech.jsonl"
    kiosk = start_kiosk(KIOSK_TEST_SPEECH=str(speech))
    kiosk.touch_to_start()
    kiosk.wait_button("category:" + CATEGORY.lower())
    snap, ui_ms, wall_ms, grown = open_category(kiosk)
    print(f"open 1: {ui_ms:.0f} ms UI thread ({wall_ms:.0f} ms wall clock), +{grown:.1f} MB")
    assert ui_ms <= UI_THREAD_MS, f"opening 2,500 guides took {ui_ms:.0f} ms of the UI thread"
    assert grown <= GROWTH_MB, f"opening 2,500 guides grew the kiosk by {grown:.1f} MB"
    assert guide_rows(snap)[0] == f"guide:{rows[0][0]}", "the list starts at the first title"

    index = {f"guide:{gid}": n for n, (gid, _title) in enumerate(rows)}

    # the keys alone: the focus goes down the rows past the first screenful, the list scrolling
    # with it, and each row is said by its own title
    ear = Listener(kiosk, speech)
    kiosk.key("Tab")  # the first key turns audio mode on
    kiosk.wait(lambda s: s["audio"] and ear.focused(s) is not None, what="audio mode on")
    first_screen = shown_rows(kiosk.probe(), index)
    snap, _said = ear.press("Up")  # back past the first control: the last one, Accessibility
    assert ear.focused(snap)["id"] == "access"
    snap, said = ear.press("Up")  # the last row on screen
    last = index.get(ear.focused(snap)["id"])
    assert last is not None and last >= first_screen[-1], f"the last row on screen is {first_screen[-1]}: {last}"
    for n in (last + 1, last + 2):  # on past it: the list scrolls and the focus keeps going
        snap, said = ear.press("Tab")
        focus = ear.focused(snap)
        assert index.get(focus["id"]) == n, f"Tab after row {n - 1} focused {focus['id']}"
        assert [s["text"] for s in said] == [rows[n][1]], "the row is said by its own title"
        assert n in shown_rows(snap, index), f"row {n} is focused but not scrolled into view"
    snap, said = ear.press("Up")
    assert index.get(ear.focused(snap)["id"]) == n - 1 and said[-1]["text"] == rows[n - 1][1]

    # the 2,000th guide: a tap on the scroll bar's track jumps near it, the wheel brings it in
    target = 1999
    snap = scroll_to_row(kiosk, snap, index, target)
    gid = rows[target][0]
    kiosk.tap_and_wait(f"guide:{gid}", lambda s: s["screen"] == "step", "the 2,000th guide's first step")
    opened = [e["guide"] for e in kiosk.events() if e["type"] == "step_view"]
    assert opened == [gid], f"the guide tapped is the guide opened: {opened} (tapped {gid})"


def shown_rows(snap: dict, index: dict[str, int]) -> list[int]:
    """The list positions of the rows shown whole."""
    box = snap["lists"][0]["box"]
    return sorted(index[b["id"]] for b in snap["buttons"] if b["id"] in index
                  and b["visible"][1] >= box[1] and b["visible"][3] == b["box"][3])


def scroll_to_row(kiosk, snap: dict, index: dict[str, int], target: int) -> dict:
    """Scroll the long list as a person does until row `target` shows whole: taps on the scroll
    bar's track (it jumps there), then the mouse wheel, row by row."""
    for _attempt in range(12):
        shown = shown_rows(snap, index)
        if shown and shown[0] <= target <= shown[-1]:
            return snap
        lst = snap["lists"][0]
        x, y, w, h = lst["box"]
        bar_x = x + w - lst["bar_width"] // 2 if lst["bar"] == "right" else x + lst["bar_width"] // 2
        if shown and abs(target - shown[0]) < 3 * len(shown):  # close: the wheel, a notch at a time
            button = "5" if target > shown[-1] else "4"
            frame = snap["frame"]
            kiosk.xdotool("mousemove", str(x + w // 2), str(y + h // 2), "click", "--repeat", "3", button)
        else:  # far: a tap on the track where the row's share of the list is
            fraction = target / lst["rows"]
            frame = snap["frame"]
            kiosk.click(bar_x, round(y + fraction * h))
        snap = kiosk.wait(lambda s, f=frame: s["frame"] > f, what="the list to scroll")
    raise AssertionError(f"row {target} never came into view; last shown {shown_rows(snap, index)}")
