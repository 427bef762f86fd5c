"""The layout audit (issue 12): the real app at 1920x1080, 1080x1920 and 1280x800, each on an Xvfb
of its own sized for the screen, walked through every customer screen by `kiosk screenshots`
(KIOSK_TOUR_PROBES=1 writes the UI probe's snapshot beside each PNG), then measured in millimetres
on the configured panel (the default 23.8" panel whose lower edge is 700 mm above the floor):

- every touch target at least 15 mm both ways, and at least 5 mm between two targets;
- in portrait every control's centre 380-1220 mm above the floor (EN 301 549 §8.3, ADA reach);
- in Arabic each control's centre at W - x of the same control in English, within 2 mm;
- no label's text larger than its box (clipped), and nothing outside the window;
- contrast measured from the screenshot's pixels inside each probed box: text against its
  background at least 4.5:1, a control's boundary (its frame, or its fill) against what surrounds
  it at least 3:1 (WCAG 2.2 1.4.3 and 1.4.11).
- every probed control takes the audio mode's focus (Tab, sent as Window key events), and what is
  said for it is exactly its drawn label (with "selected" when it is).

The suite audits en and ar in normal mode at the three sizes, and in large text and high contrast
at 1280x800 on a branded kiosk (BRAND: a site's colours and logo, which high contrast overrides);
the rest of the matrix (zh, de, and the modes at the other sizes) is marked
`matrix`, which .ci/run runs as a step of its own.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from tests.ui.pixels import colours, frame_colour, ratio, ring_colour, text_ratio

pytestmark = pytest.mark.ui

REPO = Path(__file__).resolve().parents[2]
KIOSK = Path(sys.executable).with_name("kiosk")
SIZES = ["1920x1080", "1080x1920", "1280x800"]
MIN_TARGET_MM, MIN_GAP_MM, MIRROR_MM = 15.0, 5.0, 2.0
MIN_TEXT_RATIO, MIN_BOUNDARY_RATIO = 4.5, 3.0
# the customer's screens: attract to the idle overlay, where a person is, the accessibility panel
CUSTOMER_SHOTS = set(range(1, 12)) | {27, 28}
MODES = ("large", "contrast")
# the suite audits the modes at the smallest landscape panel resolution (the most crowded, and the
# quickest to shoot); the matrix audits them at the other two sizes
MODES_SIZE = "1280x800"
REACH_MM = (380.0, 1220.0)
# the modes' tour runs on a branded kiosk (contract/brand.py): the site's colours in the normal
# palette (so in large text) and its logo on the attract screen; high contrast keeps its own colours
BRAND = 'device = "audit-brand"\nbrand_primary = "#7A1F5C"\nbrand_accent = "#1F5C3A"\nbrand_logo = "logo.png"\n'
# Keyboards keep their layout's own key order in every language (issue 13 owns the layouts); a
# keyboard is not mirrored, so its keys are left out of the mirror rule.
NOT_MIRRORED = ("key:",)
# Lists of content (categories, guides) are sorted in each language's own order: the k-th slot of a
# list is the same control in both languages, whatever it holds.
SLOTS = ("category:", "guide:")


def run_tour(size: str, langs: str, out: Path, modes: str = "normal", brand: str = "") -> dict[str, dict]:
    """`kiosk screenshots` on an Xvfb of exactly `size`; returns {shot name: probe snapshot} for
    the customer screens (CUSTOMER_SHOTS), named "<mode>/<lang>-NN-<screen>" in a mode but
    normal; each snapshot's "png" is its screenshot's path."""
    width, height = size.split("x")
    env = dict(os.environ, KIOSK_TOUR_PROBES="1", KIOSK_TOUR_SETTLE="0.3", KIOSK_TOUR_CUSTOMER_ONLY="1",
               KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_HOME=str(out / "kivy-home"),
               PYTHONPATH=str(REPO))
    env.pop("DISPLAY", None)
    env.pop("KIOSK_WINDOW_SIZE", None)
    shots = out / "shots"
    if brand:
        from PIL import ImageDraw

        (out / "data").mkdir(parents=True, exist_ok=True)
        (out / "data" / "kiosk.toml").write_text(brand)
        logo = Image.new("RGBA", (480, 160), (0, 0, 0, 0))
        ImageDraw.Draw(logo).rounded_rectangle((0, 0, 479, 159), radius=40, fill=(122, 31, 92, 255))
        logo.save(out / "data" / "logo.png")
    proc = subprocess.run(["xvfb-run", "-a", "-s", f"-screen 0 {width}x{height}x24 +extension GLX",
                           str(KIOSK), "screenshots", str(shots), "--size", size, "--languages", langs,
                           "--modes", modes,
                           "--data-dir", str(out / "data")],
                          check=False, env=env, cwd=REPO, capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stdout.decode()[-3000:] + proc.stderr.decode()[-3000:]
    found = {}
    for path in sorted(shots.rglob("*.json")):
        if path.name == "probe.json":
            continue
        number = int(path.stem.split("-")[1])
        if number in CUSTOMER_SHOTS:
            name = path.relative_to(shots).with_suffix("").as_posix()
            found[name] = dict(json.loads(path.read_text(encoding="utf-8")), png=str(path.with_suffix(".png")))
    assert found, f"no probe snapshots in {shots}"
    return found


@pytest.fixture(scope="module")
def tours(tmp_path_factory) -> dict[str, dict[str, dict]]:
    """The three sizes at once (each its own Xvfb and app): {size: {shot: snapshot}}."""
    def one(size):
        return size, run_tour(size, "en,ar", tmp_path_factory.mktemp(f"audit-{size}"))

    with ThreadPoolExecutor(len(SIZES) + 1) as pool:
        modes = pool.submit(run_tour, MODES_SIZE, "en,ar", tmp_path_factory.mktemp("audit-modes"),
                            ",".join(MODES), BRAND)
        found = dict(pool.map(one, SIZES))
    found[MODES_SIZE].update(modes.result())
    return found


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


@pytest.mark.parametrize("size", SIZES)
def test_targets_are_15_mm_and_5_mm_apart(tours, size):
    problems = [p for name, snap in tours[size].items() for p in target_problems(name, snap)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("size", SIZES)
def test_no_text_is_clipped_and_nothing_leaves_the_window(tours, size):
    problems = [p for name, snap in tours[size].items() for p in box_problems(name, snap)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("size", SIZES)
def test_arabic_mirrors_the_whole_layout(tours, size):
    problems = mirror_problems(tours[size])
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("size", SIZES)
def test_text_and_boundaries_keep_their_contrast_in_every_mode(tours, size):
    shots = tours[size]
    if size == MODES_SIZE:
        assert {name.split("/")[0] for name in shots if "/" in name} == set(MODES), "the modes were audited"
    problems = [p for name, snap in shots.items() for p in contrast_problems(name, snap)]
    assert not problems, "\n".join(problems)


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


@pytest.mark.parametrize("size", SIZES)
def test_every_control_takes_the_focus_and_says_its_label(tours, size):
    problems = [p for name, snap in tours[size].items() for p in focus_problems(name, snap)]
    assert not problems, "\n".join(problems)


def test_in_portrait_every_control_is_within_reach(tours):
    shots = tours["1080x1920"]
    assert all(snap["window"] == [1080, 1920] for snap in shots.values())
    problems = [p for name, snap in shots.items() for p in reach_problems(name, snap)]
    assert not problems, "\n".join(problems)


def test_sizes_come_from_the_panel(tours):
    """The same panel (23.8") at two resolutions: the same millimetres, different pixels."""
    landscape, small = tours["1920x1080"]["en-05-step"], tours["1280x800"]["en-05-step"]
    assert landscape["mm"] == pytest.approx(math.hypot(1920, 1080) / (23.8 * 25.4))
    assert small["mm"] == pytest.approx(math.hypot(1280, 800) / (23.8 * 25.4))
    big = {b["id"]: mm(landscape, b["box"][3]) for b in landscape["buttons"]}
    little = {b["id"]: mm(small, b["box"][3]) for b in small["buttons"]}
    assert big["back"] == pytest.approx(little["back"], abs=0.5)


@pytest.mark.matrix
@pytest.mark.parametrize("size", SIZES)
def test_every_language_in_the_matrix(tmp_path, size):
    shots = run_tour(size, "zh,de", tmp_path, "normal," + ",".join(MODES))
    problems = [p for name, snap in shots.items()
                for p in target_problems(name, snap) + box_problems(name, snap) + contrast_problems(name, snap)
                + focus_problems(name, snap)
                + (reach_problems(name, snap) if size == "1080x1920" else [])]
    assert not problems, "\n".join(problems)


@pytest.mark.matrix
@pytest.mark.parametrize("size", [s for s in SIZES if s != MODES_SIZE])
def test_the_modes_at_every_size_in_the_matrix(tmp_path, size):
    shots = run_tour(size, "en,ar", tmp_path, ",".join(MODES))
    problems = [p for name, snap in shots.items()
                for p in target_problems(name, snap) + box_problems(name, snap) + contrast_problems(name, snap)
                + (reach_problems(name, snap) if size == "1080x1920" else [])]
    problems += mirror_problems(shots)
    assert not problems, "\n".join(problems)
