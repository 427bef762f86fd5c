"""The whole system as the README tells it, in one run.

PostgreSQL and the central server; the sample library published; two kiosks added and started,
each in its own real Kivy window on its own Xvfb screen, syncing on their own background threads.
Kiosk A is tapped through a guide (xdotool, as a touch panel would) to feedback and a QR handoff;
the QR code is read off a screenshot of the kiosk's screen and opened in headless Chromium at phone
size, where the guide is finished and rated. After the kiosk syncs, the staff dashboard shows the
session, both feedbacks and the handoff. Then a changed guide is published and reaches both kiosks.

Screenshots land in screenshots/e2e/ (listed at the end of the test's output).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pg_databases
import pytest
import sqlalchemy as sa
from playwright.sync_api import sync_playwright
from ui.conftest import Kiosk, Timeout

from contract.validation import load_library
from devtools.procs import ServerProcess, wait_for
from server import db

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SHOTS = REPO / "screenshots" / "e2e"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
STAFF_USER, STAFF_PASSWORD = "e2e-staff", "a long and careful password"
PG_DATABASE = "kiosk_e2e"


def server_cli(env: dict, *args: str, stdin: str | None = None) -> str:
    out = subprocess.run([str(BIN / "kiosk-server"), *args], check=False, env=env, input=stdin, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, f"kiosk-server {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def pg_database(label: str = PG_DATABASE):
    """A database of its own (dropped afterwards): another run on the same PostgreSQL cannot
    drop it under this one."""
    return pg_databases.fresh(label)


def start_xvfb() -> tuple[subprocess.Popen, str]:
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x720x24", "+extension", "GLX",
                             "-nolisten", "tcp"], pass_fds=[write_fd], stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as fh:
        number = fh.readline().strip()
    return proc, f":{number}"


def kiosk_db(kiosk: Kiosk) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{kiosk.data_dir / 'kiosk.db'}?mode=ro", uri=True)


def content_version(kiosk: Kiosk) -> str | None:
    with kiosk_db(kiosk) as conn:
        row = conn.execute("SELECT value FROM sync_state WHERE key = 'content_version'").fetchone()
    return str(json.loads(row[0])) if row else None


def outbox_depth(kiosk: Kiosk) -> int:
    with kiosk_db(kiosk) as conn:
        return conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]


def guide_title(kiosk: Kiosk, guide_id: str) -> str | None:
    with kiosk_db(kiosk) as conn:
        row = conn.execute("SELECT title FROM guides WHERE id = ?", [guide_id]).fetchone()
    return json.loads(row[0])["en"] if row else None


def screenshot(display: str, name: str) -> Path:
    """The whole X screen as a person in front of the kiosk sees it."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    subprocess.run(["import", "-display", display, "-window", "root", str(path)], check=True, timeout=30)
    return path


def read_qr_from(path: Path) -> str:
    """Decode the QR code in a screenshot file, as a phone camera would."""
    import zxingcpp

    raw = subprocess.run(["convert", str(path), "-colorspace", "Gray", "-depth", "8", "gray:-"],
                         check=True, capture_output=True, timeout=30).stdout
    width, height = 1280, 720
    assert len(raw) == width * height
    found = zxingcpp.read_barcodes(memoryview(raw).cast("B", (height, width)))
    assert found, f"no QR code could be read from {path}"
    return found[0].text


def tile(page: str, key: str) -> str:
    match = re.search(rf'id="{key}"[^>]*>(?:<span class="n">)?([^<]+)<', page)
    assert match, f"no tile {key} on the page"
    return match.group(1).strip()


@pytest.fixture
def system(tmp_path):
    """PostgreSQL database, server with the sample library published, two registered kiosks."""
    with pg_database() as db_url:
        env = dict(os.environ, KIOSK_SERVER_DB=db_url, KIOSK_SERVER_DATA_DIR=str(tmp_path / "server"))
        published = server_cli(env, "publish", str(REPO / "assets" / "library"), "--by", STAFF_USER)
        tokens = {}
        for name, location in (("kiosk-a", "Terminal 1, gate A4"), ("kiosk-b", "Mall, level 2")):
            out = server_cli(env, "device", "add", name, "--location", location)
            tokens[name] = re.search(r"([A-Za-z0-9_-]{32,})", out).group(1)
        server_cli(env, "staff", "add", STAFF_USER, "--password-stdin", stdin=STAFF_PASSWORD + "\n")
        public_key = server_cli(env, "key").strip().splitlines()[-1].strip()
        with ServerProcess(tmp_path / "server", env=env, log=tmp_path / "server.log") as server:
            yield {"env": env, "base": server.url, "tokens": tokens, "key": public_key, "published": published,
                   "db_url": db_url, "tmp": tmp_path}


def start_kiosk(system: dict, name: str, display: str) -> Kiosk:
    data_dir = system["tmp"] / name
    data_dir.mkdir()
    (data_dir / "kiosk.toml").write_text(
        f'device = "{name}"\nserver_url = "{system["base"]}"\ntoken = "{system["tokens"][name]}"\n'
        f'server_key = "{system["key"]}"\npublic_url = "{system["base"]}"\n'
        'sync_interval = 0.05\nidle_timeout = 12.0\nidle_countdown = 3.0\n')
    kiosk = Kiosk(data_dir, display, {})
    kiosk.wait_screen("attract", timeout=60)
    kiosk.wait_input_ready()
    return kiosk


def test_publish_two_kiosks_guide_feedback_handoff_phone_dashboard_update(system):
    library = load_library(REPO / "assets" / "library")
    steps = library.guides["lost-baggage"].steps
    xvfbs = [start_xvfb(), start_xvfb()]
    kiosks: list[Kiosk] = []
    try:
        a = start_kiosk(system, "kiosk-a", xvfbs[0][1])
        b = start_kiosk(system, "kiosk-b", xvfbs[1][1])
        kiosks += [a, b]
        # Both pull the published library on their own, at the attract screen.
        for k in (a, b):
            wait_for(lambda k=k: content_version(k) == "1", 90, f"{k.data_dir.name} to sync content version 1")
        screenshot(xvfbs[0][1], "01-kiosk-a-attract")

        # --- kiosk A: search, a guide, the QR handoff, on to an outcome and feedback ----------
        a.touch_to_start()
        a.type_search("bag")
        a.wait_button("guide:lost-baggage")
        screenshot(xvfbs[0][1], "02-kiosk-a-search")
        a.tap("guide:lost-baggage")
        a.wait_label(steps["belt"].text["en"])
        a.tap_and_wait("choice:0", lambda s: steps["waited"].text["en"] in s["labels"], "step waited")
        snap = a.tap_and_wait("handoff", lambda s: s["screen"] == "handoff", "the QR code")
        shown_url = next(label for label in snap["labels"] if label.startswith("http"))
        qr_shot = screenshot(xvfbs[0][1], "03-kiosk-a-handoff-qr")
        url = read_qr_from(qr_shot)
        assert url == shown_url and url.startswith(system["base"] + "/c/kiosk-a/lost-baggage/1/waited?")
        a.tap_and_wait("handoff:close", lambda s: steps["waited"].text["en"] in s["labels"], "back on the step")
        a.tap_and_wait("choice:1", lambda s: steps["wait-more"].text["en"] in s["labels"], "step wait-more")
        a.tap("choice:0")
        a.wait_screen("outcome")
        a.tap("helped:yes")
        a.wait_screen("thanks")
        a.tap("thanks:more")
        a.wait_screen("feedback")
        a.tap_and_wait("stars:5", lambda s: a.lit_stars(s) == [1, 2, 3, 4, 5], "five stars lit")
        a.type("Kiosk e2e comment")
        a.wait_label("Kiosk e2e comment")
        screenshot(xvfbs[0][1], "04-kiosk-a-feedback")
        a.tap("feedback:send")
        a.wait_screen("thanks")
        session = a.probe()["session"]
        assert session

        # --- the phone: the QR's URL in Chromium at phone size, three more choices, feedback --
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
            phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                        has_touch=True).new_page()
            phone.goto(url)
            assert phone.locator("#step-text").inner_text() == steps["waited"].text["en"]
            assert steps["belt"].choices[0].label["en"] in phone.locator("ol.path").inner_text()
            SHOTS.mkdir(parents=True, exist_ok=True)
            phone.screenshot(path=str(SHOTS / "05-phone-continue.png"), full_page=True)
            for step_id, index in (("waited", 1), ("wait-more", 1), ("tag", 0)):
                phone.get_by_role("link", name=steps[step_id].choices[index].label["en"]).click()
            assert phone.locator("#step-text").inner_text() == steps["report"].text["en"]
            phone.get_by_label("Yes").check()
            phone.get_by_label("4").check()
            phone.get_by_label("Comment (optional)").fill("Phone e2e comment")
            phone.get_by_role("button", name="Send feedback").click()
            assert phone.locator("#thanks").is_visible()
            phone.screenshot(path=str(SHOTS / "06-phone-thanks.png"), full_page=True)
            browser.close()

        # --- kiosk A syncs its events on its own; the dashboard shows them --------------------
        a.wait_screen("attract", timeout=30)  # the thanks screen ended the session on its own
        wait_for(lambda: outbox_depth(a) == 0, 90, "kiosk A's outbox to drain to the server")
        with httpx.Client(base_url=system["base"], timeout=30) as staff:
            r = staff.post("/dashboard/login", data={"username": STAFF_USER, "password": STAFF_PASSWORD})
            assert r.status_code in (200, 303), r.text
            overview = staff.get("/dashboard").text
            assert tile(overview, "sessions") == "1"
            assert tile(overview, "resolved") == "1"
            assert tile(overview, "handoffs") == "1" and tile(overview, "handoffs-opened") == "1"
            assert "(2 ratings)" in overview and tile(overview, "rating") == "4.50"
            feedback = staff.get("/dashboard/feedback").text
            assert "Kiosk e2e comment" in feedback and "Phone e2e comment" in feedback
            fleet = staff.get("/dashboard/fleet").text
            assert "kiosk-a" in fleet and "kiosk-b" in fleet and "Terminal 1, gate A4" in fleet
        with sa.create_engine(db.normalize_url(system["db_url"])).connect() as conn:
            rows = conn.execute(sa.select(db.events.c.channel, db.events.c.type)
                                .where(db.events.c.session == session)).all()
        assert ("kiosk", "handoff_shown") in rows and ("mobile", "handoff_opened") in rows
        assert sum(1 for r in rows if r.type == "feedback") == 2

        # --- a changed guide reaches both kiosks (A only once its customer has gone) ---------
        changed = system["tmp"] / "library-v2"
        shutil.copytree(REPO / "assets" / "library", changed)
        wifi = changed / "airport-wifi.yaml"
        old_title = library.guides["airport-wifi"].title["en"]
        wifi.write_text(wifi.read_text().replace(old_title, "Free Wi-Fi, updated", 1))
        out = server_cli(system["env"], "publish", str(changed), "--by", STAFF_USER)
        assert "content version 2" in out, out
        for k in (a, b):
            wait_for(lambda k=k: content_version(k) == "2", 120, f"{k.data_dir.name} to install content version 2")
            assert guide_title(k, "airport-wifi") == "Free Wi-Fi, updated"
        a.wait_screen("attract", timeout=30)  # the idle timeout ended A's session before the switch
        b.touch_to_start()
        b.wait(lambda s: any(x["text"] == "Free Wi-Fi, updated" for x in s["buttons"]), 15, "the new title on B")
        screenshot(xvfbs[1][1], "07-kiosk-b-updated-home")
        print("\nscreenshots:\n" + "\n".join(f"  {p}" for p in sorted(SHOTS.glob("*.png"))))
    except Timeout:
        for k in kiosks:
            print(k.output())
        raise
    finally:
        for k in kiosks:
            k.stop()
        for proc, _ in xvfbs:
            proc.terminate()
            proc.wait(10)
