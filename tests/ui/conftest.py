"""Drive the real kiosk app from outside, as a customer would.

Each test starts `kiosk run --windowed` in its own process on an X display (the one xvfb-run gives,
or an Xvfb started here) and taps with `xdotool`, which goes through SDL2 exactly like a touch
panel. The app, only because KIOSK_TEST_PROBE is set, writes a JSON probe after every frame that
changed the screen: the screen name, the visible texts and every tappable button with its centre
in screen pixels. Tests wait on the probe (polling with a timeout) and read the outbox from the
real SQLite file.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devtools.procs import wait_for
from tests.ui.tours import portrait_tour  # noqa: F401 (a fixture: the suite's one set of pictures)

REPO = Path(__file__).resolve().parents[2]
KIOSK = Path(sys.executable).with_name("kiosk")
WINDOW = (1280, 720)


class Timeout(AssertionError):
    pass


@pytest.fixture(scope="session")
def display():
    """The X display: xvfb-run's when the tests run under it, otherwise a private Xvfb."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    if not shutil.which("Xvfb"):
        raise RuntimeError("no DISPLAY and no Xvfb: install xvfb or run under xvfb-run")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x720x24",
                             "+extension", "GLX", "-nolisten", "tcp"], pass_fds=[write_fd])
    os.close(write_fd)
    with os.fdopen(read_fd) as fh:
        number = fh.readline().strip()
    yield f":{number}"
    proc.terminate()
    proc.wait(10)


class Kiosk:
    def __init__(self, data_dir: Path, display: str, env: dict[str, str]):
        self.data_dir = data_dir
        self.probe_path = data_dir / "probe.json"
        self.display = display
        self.env = dict(os.environ, DISPLAY=display, KIOSK_TEST_PROBE=str(self.probe_path),
                        KIOSK_WINDOW_SIZE=f"{WINDOW[0]}x{WINDOW[1]}", KIVY_NO_ARGS="1",
                        KIVY_NO_CONSOLELOG="1", KIVY_HOME=str(data_dir / "kivy-home"), **env)
        self.log = open(data_dir / "app-output.txt", "wb")  # noqa: SIM115 - open as long as the app runs
        self.proc = subprocess.Popen([str(KIOSK), "run", "--windowed", "--data-dir", str(data_dir)],
                                     env=self.env, stdout=self.log, stderr=subprocess.STDOUT, cwd=REPO)

    # --- what is on screen ---------------------------------------------------------------------

    def probe(self) -> dict:
        try:
            return json.loads(self.probe_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {"screen": None, "labels": [], "buttons": [], "overlay": False, "frame": 0}

    def wait(self, condition, timeout: float = 15.0, what: str = "condition") -> dict:
        def seen() -> dict | None:
            if self.proc.poll() is not None:
                raise AssertionError(f"the app exited ({self.proc.returncode}) while waiting for {what}:\n"
                                     + self.output())
            snap = self.probe()
            return snap if condition(snap) else None

        try:
            return wait_for(seen, timeout, what, interval=0.03)
        except TimeoutError:
            raise Timeout(f"timed out waiting for {what}; last probe: "
                          f"{json.dumps(self.probe(), ensure_ascii=False)}") from None

    def wait_screen(self, name: str, timeout: float = 15.0) -> dict:
        return self.wait(lambda s: s["screen"] == name and not s.get("overlay"), timeout, f"screen {name}")

    def wait_label(self, text: str, timeout: float = 10.0) -> dict:
        return self.wait(lambda s: any(text in label for label in s["labels"]), timeout, f"label {text!r}")

    def pin_dots(self, snap: dict) -> int:
        """How many digits the staff PIN field shows (one dot each)."""
        return max((label.count("\u25cf") for label in snap["labels"] if set(label) <= {"\u25cf", " "}), default=0)

    @staticmethod
    def lit_stars(snap: dict) -> list[int]:
        """The feedback stars drawn highlighted."""
        return sorted(int(b["id"].split(":")[1]) for b in snap["buttons"] if b["id"].startswith("stars:") and b["primary"])

    def wait_button(self, probe_id: str, timeout: float = 10.0) -> dict:
        return self.wait(lambda s: any(b["id"] == probe_id for b in s["buttons"]), timeout, f"button {probe_id}")

    @staticmethod
    def button(snap: dict, probe_id: str) -> dict:
        found = [b for b in snap["buttons"] if b["id"] == probe_id]
        assert found, f"no button {probe_id!r} on screen {snap['screen']}: {[b['id'] for b in snap['buttons']]}"
        return found[0]

    # --- input, through X and SDL2 like a touch panel ------------------------------------------

    def xdotool(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], env=self.env, check=True, timeout=10)

    def click(self, x: int, y: int) -> None:
        self.xdotool("mousemove", str(x), str(y), "click", "1")

    def tap(self, probe_id: str, timeout: float = 10.0) -> dict:
        """Tap a button once it is on screen; returns the probe the tap was aimed from."""
        snap = self.wait_button(probe_id, timeout)
        target = self.button(snap, probe_id)
        self.click(target["x"], target["y"])
        return snap

    def type_search(self, text: str) -> dict:
        """Open the on-screen keyboard from the search field and type `text` key by key, each key
        checked in the field before the next (a fast tap must not be lost)."""
        self.tap_and_wait("search-field", lambda s: any(b["id"] == f"key:{text[0]}" for b in s["buttons"]),
                          "the keyboard")
        return self.type_search_more(text)

    def type_search_more(self, text: str) -> dict:
        """Type `text` on the open keyboard after what the search field holds, key by key, each
        key checked in the field before the next."""
        held = next(b["text"] for b in self.probe()["buttons"] if b["id"] == "search-field").removesuffix("|")
        snap: dict = {}
        for n, key in enumerate(text, start=1):
            snap = self.tap_and_wait(f"key:{key}", lambda s, n=n: any(
                b["id"] == "search-field" and b["text"] == held + text[:n] + "|" for b in s["buttons"]),
                f"the search field to show {held + text[:n]!r}")
        return snap

    def tap_and_wait(self, probe_id: str, condition, what: str, timeout: float = 10.0) -> dict:
        before = self.tap(probe_id)["frame"]
        return self.wait(lambda s: s["frame"] > before and condition(s), timeout, what)

    def wait_input_ready(self, timeout: float = 15.0) -> None:
        """Right after the window appears X may not deliver input to it yet: move the pointer
        until the app reports where it is."""
        deadline = time.monotonic() + timeout
        x = 40
        while time.monotonic() < deadline:
            x = 40 if x > 200 else x + 7
            self.xdotool("mousemove", str(x), str(WINDOW[1] - 40))
            try:
                self.wait(lambda s, x=x: s.get("mouse", [0, 0])[0] == x
                          and abs(s["mouse"][1] - (WINDOW[1] - 40)) <= 1, 0.5, "the pointer")
                return
            except Timeout:
                continue
        raise Timeout("the app never saw the pointer move")

    def touch_to_start(self, lang: str = "en") -> dict:
        """Tap a language on the attract loop: a session starts in it and home shows. (A touch
        anywhere else starts in the language the loop is showing at that moment.)"""
        self.tap(f"lang:{lang}")
        return self.wait(lambda s: s["screen"] == "home" and s["lang"] == lang, 15, f"home in {lang}")

    def read_qr(self):
        """Decode the QR code on screen from a capture of the X screen, as a phone camera would."""
        import zxingcpp

        raw = subprocess.run(["import", "-window", "root", "-colorspace", "gray", "-depth", "8", "gray:-"],
                             env=self.env, check=True, capture_output=True, timeout=20).stdout

        class Gray:  # zxing-cpp reads any object with the array interface; no numpy needed
            def __init__(self, data: bytes):
                self.__array_interface__ = {"shape": (WINDOW[1], WINDOW[0]), "typestr": "|u1", "data": data,
                                            "version": 3}

        found = zxingcpp.read_barcodes(Gray(raw))
        assert len(found) == 1, f"expected one QR code on screen, found {len(found)}"
        return found[0]

    def screen_image(self):
        """The X screen as a Pillow image, captured from outside the app (what a person sees)."""
        import io

        from PIL import Image

        png = subprocess.run(["import", "-window", "root", "png:-"], env=self.env, check=True,
                             capture_output=True, timeout=20).stdout
        return Image.open(io.BytesIO(png)).convert("RGB")

    def type(self, text: str) -> None:
        self.xdotool("type", "--delay", "30", text)

    def key(self, name: str) -> None:
        self.xdotool("key", name)

    # --- what was recorded ---------------------------------------------------------------------

    def events(self) -> list[dict]:
        with sqlite3.connect(self.data_dir / "kiosk.db") as db:
            return [json.loads(body) for (body,) in db.execute("SELECT body FROM outbox ORDER BY seq")]

    def output(self) -> str:
        self.log.flush()
        return (self.data_dir / "app-output.txt").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


@pytest.fixture
def start_kiosk(tmp_path, display):
    started: list[Kiosk] = []

    def start(**env: str) -> Kiosk:
        kiosk = Kiosk(tmp_path, display, env)
        started.append(kiosk)
        kiosk.wait_screen("attract", timeout=40)
        kiosk.wait_input_ready()
        return kiosk

    yield start
    for kiosk in started:
        kiosk.stop()


@pytest.fixture(scope="session")
def library():
    """The bundled sample library, read with the same code the kiosk uses, for expected texts."""
    from contract.validation import load_library

    return load_library(REPO / "assets" / "library")
