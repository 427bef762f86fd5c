"""Screenshots of every dashboard page, taken in headless Chromium (Playwright, the system's
/usr/bin/chromium; no browser download).

    python -m devtools.server_screenshots DIR                    # a private server on a simulated history
    python -m devtools.server_screenshots DIR --url http://127.0.0.1:8000 --user staff --password ...

Without --url it fills a throwaway SQLite database with a simulated history (devtools.simulate),
starts the real server on loopback in a subprocess, logs in and saves one PNG per page.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devtools.procs import ServerProcess

CHROMIUM = os.environ.get("KIOSK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# (file name, path, what shows the page is drawn): every page staff can open, the per-guide page
# for the busiest sample guide.
PAGES = [
    ("overview", "/dashboard", "svg"),
    ("guides", "/dashboard/guides", "svg"),
    ("guide-lost-baggage", "/dashboard/guides/lost-baggage", "svg"),
    ("feedback", "/dashboard/feedback", "svg"),
    ("people", "/dashboard/people", "svg"),
    ("search", "/dashboard/search", "svg"),
    ("fleet", "/dashboard/fleet", "svg"),
    ("library", "/dashboard/library", "svg"),
    ("alerts", "/dashboard/alerts", "table"),
    ("you-said", "/dashboard/you-said", "table"),
]


@contextmanager
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def log_in(page, base: str, user: str, password: str) -> None:
    page.goto(base + "/dashboard/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/dashboard")


def take(out: Path, base: str, user: str, password: str, query: str = "", only: list[str] | None = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    saved = []
    with browser() as b:
        page = b.new_page(viewport={"width": 1360, "height": 900})
        log_in(page, base, user, password)
        for name, path, drawn in PAGES:
            if only and name not in only:
                continue
            page.goto(base + path + (f"?{query}" if query else ""))
            page.wait_for_selector(drawn)
            target = out / f"{name}.png"
            page.screenshot(path=str(target), full_page=True)
            saved.append(target)
    return saved


def simulated_server_db(data_dir: Path, sessions: int, user: str, password: str) -> str:
    """A SQLite server database holding a simulated history and one staff login."""
    from devtools.simulate import generate
    from devtools.simulate_load import load
    from server import auth

    url = f"sqlite:///{data_dir / 'server.db'}"
    engine = load(url, generate(sessions=sessions))
    auth.set_staff_password(engine, user, password)
    engine.dispose()
    return url


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devtools.server_screenshots", description=__doc__.split("\n\n")[0])
    p.add_argument("dir", type=Path, help="folder for the PNG files")
    p.add_argument("--url", help="a running server (default: start one on a simulated history)")
    p.add_argument("--user", default="staff")
    p.add_argument("--password", default="screenshots-only")
    p.add_argument("--sessions", type=int, default=20_000, help="size of the simulated history")
    args = p.parse_args(argv)
    if args.url:
        saved = take(args.dir, args.url.rstrip("/"), args.user, args.password)
    else:
        with tempfile.TemporaryDirectory(prefix="kiosk-screens-") as tmp:
            data_dir = Path(tmp)
            url = simulated_server_db(data_dir, args.sessions, args.user, args.password)
            with ServerProcess(data_dir, db_url=url, log=data_dir / "server.log") as server:
                saved = take(args.dir, server.url, args.user, args.password, query="")
    for path in saved:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
