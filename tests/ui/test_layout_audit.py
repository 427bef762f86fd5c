"""The layout audit (issue 12): the real app walked through every customer screen by `kiosk
screenshots` on an Xvfb sized for the screen (tests/ui/tours.py: KIOSK_TOUR_PROBES=1 writes the UI
probe's snapshot beside each PNG), then measured in millimetres on the configured panel (the
default 23.8" panel whose lower edge is 700 mm above the floor):

- every touch target at least 15 mm both ways, and at least 5 mm between two targets;
- in portrait every control's centre 380-1220 mm above the floor (EN 301 549 §8.3, ADA reach);
- in Arabic each control's centre at W - x of the same control in English, within 2 mm;
- no label's text larger than its box (clipped), and nothing outside the window;
- Arabic text as Kivy drew it reads in its own order: first words on the top line, each line
  right to left (tests/ui/reading.py);
- contrast measured from the screenshot's pixels inside each probed box: text against its
  background at least 4.5:1, a control's boundary (its frame, or its fill) against what surrounds
  it at least 3:1 (WCAG 2.2 1.4.3 and 1.4.11).
- every probed control takes the audio mode's focus (Tab, sent as Window key events), and what is
  said for it is exactly its drawn label (with "selected" when it is).

The suite audits the portrait panel, 1080x1920 (the reach rule, the narrowest lines), in en and ar,
in normal mode, large text and high contrast (the modes on a branded kiosk, tests/ui/tours.py BRAND:
a site's colours and logo, which high contrast overrides): the pictures the suite takes once (the
`portrait_tour` fixture, shared with test_screenshots). It audits the four languages (en, zh, ar,
de) in normal mode at 1920x1080, 1080x1920 and 1280x800 (the `languages` fixture, three tours two
at a time). The modes at the landscape sizes, and zh and de in the modes, are marked `matrix`,
which .ci/run runs as a step of its own.
"""

from __future__ import annotations

import math

import pytest
from PIL import Image

from tests.ui.pixels import colours, frame_colour, ratio, ring_colour, text_ratio
from tests.ui.reading import reading_order_problems
from tests.ui.tours import (
    LANGUAGE_TOURS,
    MODES,
    PORTRAIT,
    customer_snapshots,
    languages_at,
    modes_tour,
    run_tour,
)

# the first test builds the session's pictures (tests/ui/tours.py): minutes on a loaded machine
pytestmark = [pytest.mark.ui, pytest.mark.timeout(600)]

# portrait is the suite's (the reach rule, the narrowest lines); the landscape sizes are the matrix's
SIZES = [PORTRAIT, "1920x1080", "1280x800"]
MIN_TARGET_MM, MIN_GAP_MM, MIRROR_MM = 15.0, 5.0, 2.0
MIN_TEXT_RATIO, MIN_BOUNDARY_RATIO = 4.5, 3.0
REACH_MM = (380.0, 1220.0)
# Keyboards keep their layout's own key order in every language (issue 13 owns the layouts); a
# keyboard is not mirrored, so its keys are left out of the mirror rule.
NOT_MIRRORED = ("key:",)
# Lists of content (categories, guides) are sorted in each language's own order: the k-th slot of a
# list is the same control in both languages, whatever it holds.
SLOTS = ("category:", "guide:")


@pytest.fixture(scope="module")
def shots(portrait_tour) -> dict[str, dict]:
    """{shot: snapshot} of every customer screen at 1080x1920 in en and ar, normal, large text and
    high contrast: the suite's one set of pictures (tests/ui/tours.py)."""
    return portrait_tour[1]


@pytest.fixture(scope="module")
def languages(tmp_path_factory) -> dict[str, dict[str, dict]]:
    """en, zh, ar and de in normal mode at the two landscape sizes, zh and de in portrait (en and
    ar there are the portrait tour's): {size: {shot: snapshot}} (tests/ui/tours.py)."""
    return languages_at(tmp_path_factory)


@pytest.fixture(scope="module")
def landscape(tmp_path_factory) -> dict[str, dict[str, dict]]:
    """The matrix's: the two landscape sizes, en and ar, in large text and high contrast (normal
    mode is the suite's): {size: {shot: snapshot}}."""
    return {size: modes_tour(size, "en,ar", tmp_path_factory.mktemp(f"modes-{size}")) for size in SIZES[1:]}


# --- contrast, from the screenshot's pixels (tests/ui/pixels.py) ---------------------------------

def contrast_problems(name: str, snap: dict) -> list[str]:
    image = Image.open(snap["png"]).convert("RGB")
    px = snap["mm"]
    out = []
    for b in snap["buttons"]:
        x, y, w, h = b["visible"]
        if w < px * 6 or h < px * 6:
            continue  # a control scrolled nearly out of view
        box = (x, y, x + w, y + h)
        what = b["id"] or b["text"][:30]
        inset = round(px * 3)  # inside the frame (and a selected control's thicker one)
        inside = (x + inset, y + inset, x + w - inset, y + h - inset)
        text = text_ratio(image, inside)
        if text is not None and text < MIN_TEXT_RATIO - 0.05:
            out.append(f"{name}: {what!r} text is {text:.2f}:1 on its button (< {MIN_TEXT_RATIO:g}:1)")
        if b["visible"] != b["box"]:
            continue  # cut by a scroll view: its frame is partly out of view
        fill = colours(image, inside)
        around = ring_colour(image, box, round(px * 1), round(px * 2.5))
        frame = frame_colour(image, box, around, max(2, round(px * 1.2))) if around else None
        if around is None or not fill:
            continue
        boundary = max(ratio(around, fill[0][1]), ratio(around, frame) if frame else 1.0)
        if boundary < MIN_BOUNDARY_RATIO - 0.05:
            out.append(f"{name}: {what!r} boundary is {boundary:.2f}:1 against what surrounds it "
                       f"(< {MIN_BOUNDARY_RATIO:g}:1)")
    for label in snap["label_boxes"]:
        x, y, w, h = label["visible"]
        if w < 2 or h < 2:
            continue
        text = text_ratio(image, (x, y, x + w, y + h))
        if text is not None and text < MIN_TEXT_RATIO - 0.05:
            out.append(f"{name}: text {label['text'][:40]!r} is {text:.2f}:1 on its background "
                       f"(< {MIN_TEXT_RATIO:g}:1)")
    return out


def mm(snap: dict, px: float) -> float:
    return px / snap["mm"]


def rect_gap(a: list[int], b: list[int]) -> float:
    """The shortest distance in pixels between two boxes (left, top, width, height); 0 if they touch."""
    dx = max(0, b[0] - (a[0] + a[2]), a[0] - (b[0] + b[2]))
    dy = max(0, b[1] - (a[1] + a[3]), a[1] - (b[1] + b[3]))
    return math.hypot(dx, dy)


def overlaps(a: list[int], b: list[int]) -> bool:
    return (a[0] < b[0] + b[2] and b[0] < a[0] + a[2]) and (a[1] < b[1] + b[3] and b[1] < a[1] + a[3])


def target_problems(name: str, snap: dict) -> list[str]:
    out = []
    buttons = snap["buttons"]
    for b in buttons:
        w, h = mm(snap, b["box"][2]), mm(snap, b["box"][3])
        if w < MIN_TARGET_MM - 0.05 or h < MIN_TARGET_MM - 0.05:
            out.append(f"{name}: {b['id'] or b['text']!r} is {w:.1f} x {h:.1f} mm (< {MIN_TARGET_MM:g} mm)")
    for i, a in enumerate(buttons):
        for b in buttons[i + 1:]:
            gap = mm(snap, rect_gap(a["visible"], b["visible"]))  # what a scroll view shows
            if gap < MIN_GAP_MM - 0.05:
                out.append(f"{name}: {a['id'] or a['text']!r} and {b['id'] or b['text']!r} are {gap:.1f} mm "
                           f"apart (< {MIN_GAP_MM:g} mm)")
    return out


def reach_problems(name: str, snap: dict) -> list[str]:
    out = []
    height = snap["window"][1]
    for b in snap["buttons"]:
        above = snap["panel_bottom_mm"] + mm(snap, height - b["y"])
        if not REACH_MM[0] <= above <= REACH_MM[1]:
            out.append(f"{name}: {b['id'] or b['text']!r} centre is {above:.0f} mm above the floor")
    return out


def box_problems(name: str, snap: dict) -> list[str]:
    out = []
    width, height = snap["window"]
    for item in snap["label_boxes"] + snap["buttons"]:
        x, y, w, h = item["box"]
        tw, th = item["texture"]
        what = item.get("id") or item["text"][:40]
        if tw > w + 2 or th > h + 2:
            out.append(f"{name}: {what!r} text is {tw}x{th} px in a {w}x{h} px box (clipped)")
        if not item.get("scrolls") and (x < -1 or y < -1 or x + w > width + 1 or y + h > height + 1):
            out.append(f"{name}: {what!r} box {item['box']} is outside the {width}x{height} window")
    return out


def slot_keys(buttons: list[dict]) -> list[tuple[str, dict]]:
    """Each button with the name the mirror rule matches it by: its probe id, or for a list of
    content its list and place in it ("category:#2")."""
    seen: dict[str, int] = {}
    out = []
    for b in buttons:
        key = b["id"]
        for prefix in SLOTS:
            if key.startswith(prefix):
                seen[prefix] = seen.get(prefix, -1) + 1
                key = f"{prefix}#{seen[prefix]}"
        out.append((key, b))
    return out


def mirror_problems(shots: dict[str, dict]) -> list[str]:
    out = []
    for name, en in shots.items():
        folder, _, stem = name.rpartition("/")
        if not stem.startswith("en-"):
            continue
        ar = shots.get(f"{folder}/ar-{stem[3:]}" if folder else f"ar-{stem[3:]}")
        assert ar is not None, f"no Arabic shot for {name}"
        if not ar["rtl"]:
            continue  # the attract loop: no session yet, so no customer's language to mirror for
        width = en["window"][0]
        keyed_en, keyed_ar = slot_keys(en["buttons"]), slot_keys(ar["buttons"])
        ids_en, ids_ar = [k for k, _ in keyed_en], [k for k, _ in keyed_ar]
        for pid, b in keyed_en:
            if not pid or pid.startswith(NOT_MIRRORED) or ids_en.count(pid) != 1 or ids_ar.count(pid) != 1:
                continue
            other = next(c for k, c in keyed_ar if k == pid)
            error = mm(en, abs(other["x"] - (width - b["x"])))
            if error > MIRROR_MM:
                out.append(f"{name.replace('en-', '', 1)}: {pid!r} is at x={other['x']} in Arabic, not {width - b['x']} "
                           f"(W - x of English's {b['x']}): {error:.1f} mm off")
    return out


def reading_problems(name: str, snap: dict) -> list[str]:
    """Right-to-left text drawn in its own order, line by line (tests/ui/reading.py)."""
    return [p for item in snap["label_boxes"] + snap["buttons"] if item.get("lines")
            for p in reading_order_problems(f"{name}: {(item.get('id') or item['text'])[:30]!r}", item["text"], item["lines"])]


def focus_problems(name: str, snap: dict) -> list[str]:
    """Every control the probe lists must take the focus on a round of Tab, and what is said for
    it must be its drawn label: a control added to any screen later is checked by itself."""
    from collections import Counter

    from kiosk.i18n import tr

    walk = snap["focus_walk"]
    took = Counter((w["id"], w["text"]) for w in walk)
    out = []
    for (pid, text), n in Counter((b["id"], b.get("spoken") or b["text"]) for b in snap["buttons"]).items():
        if took[(pid, text)] < n:
            out.append(f"{name}: {pid or text!r} ({text!r}) never takes the focus")
    selected = {(b["id"], b.get("spoken") or b["text"]): b.get("selected") for b in snap["buttons"]}
    for w in walk:
        label = w["text"]
        words = tr("{label}, selected", snap["lang"]).format(label=label) if selected.get((w["id"], label)) else label
        if (w["id"], label) in selected and w["said"] != [words]:
            out.append(f"{name}: focus on {w['id']!r} said {w['said']!r}, not [{words!r}]")
    return out


def every_problem(shots: dict[str, dict], portrait: bool) -> list[str]:
    """Every rule on every shot: what the matrix checks at each size in one go."""
    problems = [p for name, snap in shots.items()
                for p in target_problems(name, snap) + box_problems(name, snap) + contrast_problems(name, snap)
                + reading_problems(name, snap) + focus_problems(name, snap)
                + (reach_problems(name, snap) if portrait else [])]
    return problems + mirror_problems(shots)


def test_the_suite_audits_portrait_in_every_mode(shots):
    assert all(snap["window"] == [1080, 1920] for snap in shots.values())
    assert {name.split("/")[0] for name in shots if "/" in name} == set(MODES)
    assert {name.rsplit("/", 1)[-1][:2] for name in shots} == {"en", "ar"}


def test_targets_are_15_mm_and_5_mm_apart(shots):
    problems = [p for name, snap in shots.items() for p in target_problems(name, snap)]
    assert not problems, "\n".join(problems)


def test_no_text_is_clipped_and_nothing_leaves_the_window(shots):
    problems = [p for name, snap in shots.items() for p in box_problems(name, snap)]
    assert not problems, "\n".join(problems)


def test_arabic_text_reads_top_line_first_in_every_mode(shots):
    """Every Arabic label and button as Kivy drew it, large text included: the first words on the
    top line, each line right to left (the step's question is bold: measured bold)."""
    assert any(snap.get("lines") for name, s in shots.items() if "large/ar-05" in name for snap in s["label_boxes"])
    problems = [p for name, snap in shots.items() for p in reading_problems(name, snap)]
    assert not problems, "\n".join(problems)


def test_arabic_mirrors_the_whole_layout(shots):
    problems = mirror_problems(shots)
    assert not problems, "\n".join(problems)


def test_text_and_boundaries_keep_their_contrast_in_every_mode(shots):
    problems = [p for name, snap in shots.items() for p in contrast_problems(name, snap)]
    assert not problems, "\n".join(problems)


def test_every_control_takes_the_focus_and_says_its_label(shots):
    problems = [p for name, snap in shots.items() for p in focus_problems(name, snap)]
    assert not problems, "\n".join(problems)


def test_in_portrait_every_control_is_within_reach(shots):
    problems = [p for name, snap in shots.items() for p in reach_problems(name, snap)]
    assert not problems, "\n".join(problems)


def test_sizes_come_from_the_panel(shots):
    """Pixels per millimetre from the panel's diagonal and the window, and a bar button 18 mm tall."""
    step = shots["en-05-step"]
    assert step["mm"] == pytest.approx(math.hypot(1080, 1920) / (23.8 * 25.4))
    back = next(b for b in step["buttons"] if b["id"] == "back")
    assert mm(step, back["box"][3]) == pytest.approx(18.0, abs=0.5)


def test_the_suite_audits_four_languages_at_every_size(languages):
    assert set(languages) == set(SIZES) == set(LANGUAGE_TOURS)
    for size, shots in languages.items():
        assert all(snap["window"] == [int(n) for n in size.split("x")] for snap in shots.values())
        assert {name[:2] for name in shots} == set(LANGUAGE_TOURS[size].split(","))
        assert {name[3:] for name in shots if name.startswith("zh-")} == {name[3:] for name in shots if name.startswith("de-")}


@pytest.mark.parametrize("size", SIZES)
def test_every_rule_in_four_languages_at_every_size(languages, size):
    """Targets, gaps, clipping, contrast, reading order, focus and (landscape, en against ar) the
    mirror, on every customer screen in zh and de (and en and ar at the landscape sizes); in
    portrait the reach rule too."""
    problems = every_problem(languages[size], portrait=size == PORTRAIT)
    assert not problems, "\n".join(problems)


def test_the_same_millimetres_at_every_resolution(languages):
    """The same panel (23.8") at two resolutions: the same millimetres, different pixels."""
    big, small = languages["1920x1080"]["en-05-step"], languages["1280x800"]["en-05-step"]
    assert big["mm"] == pytest.approx(math.hypot(1920, 1080) / (23.8 * 25.4))
    assert small["mm"] == pytest.approx(math.hypot(1280, 800) / (23.8 * 25.4))
    heights = [{b["id"]: mm(snap, b["box"][3]) for b in snap["buttons"]} for snap in (big, small)]
    assert heights[0]["back"] == pytest.approx(heights[1]["back"], abs=0.5)


@pytest.mark.matrix
@pytest.mark.parametrize("size", SIZES[1:])
def test_every_rule_at_the_landscape_sizes_in_the_matrix(landscape, size):
    problems = every_problem(landscape[size], portrait=False)
    assert not problems, "\n".join(problems)


@pytest.mark.matrix
@pytest.mark.parametrize("size", SIZES)
def test_every_language_in_the_matrix(tmp_path, size):
    """zh and de in large text and high contrast (normal mode is the suite's)."""
    modes = ",".join(MODES)
    shots = customer_snapshots(run_tour(size, "zh,de", tmp_path, modes), modes)
    problems = every_problem(shots, portrait=size == PORTRAIT)
    assert not problems, "\n".join(problems)
