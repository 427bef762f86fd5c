"""`kiosk screenshots` runs for the UI tests, each on an Xvfb of its own sized for the screen, with
the UI probe's snapshot beside every PNG (KIOSK_TOUR_PROBES=1).

The suite takes its pictures once: the portrait tour (`portrait_tour`, session-scoped) walks every
screen at 1080x1920 in en and ar in normal mode, with the staff screens, the keyboards, the modes'
pictures and audio mode's focus ring, beside a second process that walks the customer screens in
large text and high contrast. The layout audit measures those shots and test_screenshots checks the
full set was written; neither starts an app of its own. The four languages in normal mode at every
size are the audit's `languages` fixture (`languages_at`); the modes at the landscape sizes, and
zh and de in the modes, are the matrix's (tests/ui/test_layout_audit.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[2]
KIOSK = Path(sys.executable).with_name("kiosk")
PORTRAIT = "1080x1920"
MODES = ("large", "contrast")
# the customer's screens: attract to the idle overlay, where a person is, the accessibility panel
CUSTOMER_SHOTS = set(range(1, 12)) | {27, 28}
# the modes' tour runs on a branded kiosk (contract/brand.py): the site's colours in the normal
# palette (so in large text) and its logo on the attract screen; high contrast keeps its own colours
BRAND = 'device = "audit-brand"\nbrand_primary = "#7A1F5C"\nbrand_accent = "#1F5C3A"\nbrand_logo = "logo.png"\n'


def run_tour(size: str, langs: str, out: Path, modes: str = "normal", *, customer_only: bool = True,
             keyboards: str = "", brand: str = "") -> Path:
    """`kiosk screenshots` on an Xvfb of exactly `size`, as an unregistered kiosk (the tour still
    shows every screen, handoff included), with `brand` as its kiosk.toml (and a logo) when given;
    returns the folder of PNGs and probe snapshots."""
    width, height = size.split("x")
    env = dict(os.environ, KIOSK_TOUR_PROBES="1", KIOSK_TOUR_SETTLE="0.3", KIOSK_TOUR_KEYBOARDS=keyboards,
               KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1", KIVY_HOME=str(out / "kivy-home"), PYTHONPATH=str(REPO))
    for name in ("DISPLAY", "KIOSK_WINDOW_SIZE", "KIOSK_TOKEN", "KIOSK_PUBLIC_URL", "KIOSK_SERVER_URL",
                 "KIOSK_TOUR_CUSTOMER_ONLY"):
        env.pop(name, None)
    if customer_only:
        env["KIOSK_TOUR_CUSTOMER_ONLY"] = "1"
    shots = out / "shots"
    if brand:
        (out / "data").mkdir(parents=True, exist_ok=True)
        (out / "data" / "kiosk.toml").write_text(brand)
        logo = Image.new("RGBA", (480, 160), (0, 0, 0, 0))
        ImageDraw.Draw(logo).rounded_rectangle((0, 0, 479, 159), radius=40, fill=(122, 31, 92, 255))
        logo.save(out / "data" / "logo.png")
    proc = subprocess.run(["xvfb-run", "-a", "-s", f"-screen 0 {width}x{height}x24 +extension GLX",
                           str(KIOSK), "screenshots", str(shots), "--size", size, "--languages", langs,
                           "--modes", modes, "--data-dir", str(out / "data")],
                          check=False, env=env, cwd=REPO, capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stdout.decode()[-3000:] + proc.stderr.decode()[-3000:]
    return shots


def customer_snapshots(shots: Path, modes: str) -> dict[str, dict]:
    """{shot name: probe snapshot} of the customer screens (CUSTOMER_SHOTS) in the given modes,
    named "<mode>/<lang>-NN-<screen>" in a mode but normal; each snapshot's "png" is its picture."""
    folders = {"" if mode == "normal" else mode for mode in modes.split(",")}
    found = {}
    for path in sorted(shots.rglob("*.json")):
        name = path.relative_to(shots).with_suffix("").as_posix()
        folder = name.rpartition("/")[0]
        if path.name == "probe.json" or folder not in folders:
            continue
        if int(path.stem.split("-")[1]) in CUSTOMER_SHOTS:
            found[name] = dict(json.loads(path.read_text(encoding="utf-8")), png=str(path.with_suffix(".png")))
    assert found, f"no probe snapshots in {shots}"
    return found


def modes_tour(size: str, langs: str, out: Path) -> dict[str, dict]:
    """The customer screens in large text and high contrast at `size`, on the branded kiosk
    (BRAND): {shot name: snapshot}."""
    modes = ",".join(MODES)
    return customer_snapshots(run_tour(size, langs, out, modes, brand=BRAND), modes)


def tours_at(size: str, tmp_path_factory, *, full: bool = False, langs: str = "en,ar") -> tuple[Path, dict[str, dict]]:
    """Normal mode and the modes at `size`, in two processes at once; with `full`, the normal
    tour also takes the staff screens, the en and ar keyboards and audio mode's pictures.
    Returns the normal tour's folder and every customer snapshot."""
    normal_dir = tmp_path_factory.mktemp(f"tour-{size}")
    with ThreadPoolExecutor(2) as pool:
        modes = pool.submit(modes_tour, size, langs, tmp_path_factory.mktemp(f"tour-{size}-modes"))
        normal = run_tour(size, langs, normal_dir, customer_only=not full, keyboards="en,ar" if full else "")
        found = customer_snapshots(normal, "normal")
        found.update(modes.result())
    return normal, found


@pytest.fixture(scope="session")
def portrait_tour(tmp_path_factory) -> tuple[Path, dict[str, dict]]:
    """The suite's one set of pictures (see the module's words): (the normal tour's folder,
    {shot name: snapshot} of every customer screen in normal, large and contrast)."""
    return tours_at(PORTRAIT, tmp_path_factory, full=True)


# The four languages of the audit, in normal mode, at each size; en and ar in portrait are the
# portrait tour's, so portrait walks zh and de only.
LANGUAGE_TOURS = {"1920x1080": "en,zh,ar,de", "1280x800": "en,zh,ar,de", PORTRAIT: "zh,de"}


def languages_at(tmp_path_factory) -> dict[str, dict[str, dict]]:
    """The customer screens in normal mode at every size of LANGUAGE_TOURS, two processes at a time
    (each about 40 s on a quiet 2-core machine): {size: {shot name: snapshot}}."""
    with ThreadPoolExecutor(2) as pool:
        runs = {size: pool.submit(run_tour, size, langs, tmp_path_factory.mktemp(f"languages-{size}"))
                for size, langs in LANGUAGE_TOURS.items()}
        return {size: customer_snapshots(run.result(), "normal") for size, run in runs.items()}
