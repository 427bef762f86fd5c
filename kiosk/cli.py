"""The `kiosk` command: run the app, import a library, show status.

Every subcommand has --help. Errors for people are sentences on stderr with a non-zero exit;
tracebacks go to the log, not the terminal.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from contract.bundle import open_library
from contract.guides import LibraryInvalid
from kiosk import __version__
from kiosk.settings import Settings, SettingsInvalid, load_command_settings
from kiosk.status import open_store, status_report
from offline_cache.errors import StoreError
from offline_cache.store import Store

log = logging.getLogger("kiosk")


def _server_options(settings: Settings, args: argparse.Namespace) -> None:
    """--server and --token (run, sync) override kiosk.toml for this command only."""
    if args.server:
        settings.server_url = args.server
    if args.token:
        settings.token = args.token


def _confirm_identity(settings: Settings, store: Store) -> bool:
    """The device name this kiosk's token belongs to, asked from the server (kiosk/identity.py);
    False (the sentence printed) when the kiosk must not start."""
    from kiosk.identity import IdentityRefused, confirm_device_name

    try:
        confirm_device_name(settings, store)
    except IdentityRefused as exc:
        print(exc, file=sys.stderr)  # `kiosk run` under systemd: stderr is the journal
        return False
    return True


def cmd_import(args: argparse.Namespace) -> int:
    settings = load_command_settings(args.data_dir)
    try:
        library = open_library(args.path)
    except LibraryInvalid as exc:
        print(f"Not imported: {len(exc.problems)} problem(s) in {args.path}. "
              "The kiosk's content is unchanged.", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    from kiosk.logs import setup_logging

    setup_logging(settings.log_dir)  # the traceback of a failed import goes there, not to the terminal
    try:
        store = open_store(settings, seed=False)  # a damaged database is rebuilt, then imported into
        counts = store.import_library(library)
    except StoreError as exc:
        log.exception("import into %s failed", settings.db_path)
        print(f"Not imported: {exc}. The kiosk's content is unchanged.", file=sys.stderr)
        return 1
    langs = sorted({lang for g in library.guides.values() for lang in g.languages})
    print(f"Imported {len(library)} guides from {args.path} as content version {store.content_version}: "
          f"{counts['added']} added, {counts['changed']} changed, {counts['unchanged']} unchanged, "
          f"{counts['removed']} removed; {len(library.images)} images; languages {', '.join(langs)}.")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    settings = load_command_settings(args.data_dir)
    store = open_store(settings)
    from kiosk.identity import confirmed_name

    # The name the events carry once the server confirmed it, not the guess kiosk.toml was made with.
    settings.device = confirmed_name(settings, store) or settings.device
    report = status_report(settings, store)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    last = report["last_sync"] or {}
    print(f"Device          {report['device']}")
    print(f"Content version {report['content_version']} ({report['guides']} guides; "
          f"languages {', '.join(report['languages'])})")
    print(f"Outbox          {report['outbox_depth']} events waiting"
          + (f"; {report['rejected_events']} rejected by the server" if report["rejected_events"] else ""))
    print(f"Server          {report['server_url'] or 'none configured (offline kiosk)'}")
    if report["group"]:
        print(f"Rollout group   {report['group']} (epoch {report['epoch']})")
    print(f"Last sync       {last.get('result', 'never')} {last.get('at', '')} {last.get('error') or ''}".rstrip())
    print(f"Free disk       {report['free_disk_bytes'] / 1e9:.1f} GB")
    if rec := report["recovered"]:
        lost = "an unknown number" if rec["outbox_lost"] is None else rec["outbox_lost"]
        print(f"Database        rebuilt {rec['at']}: the damaged one is {rec['moved_to']}; "
              f"{rec['outbox_kept']} waiting events kept, {lost} lost")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """What a traveller typing TEXT in a language sees on the home screen, in rank order, with
    why each guide matched: staff check a library (and its _library.yaml synonyms) with it."""
    from contract.guides import LANGUAGE

    settings = load_command_settings(args.data_dir)
    lang = args.lang or settings.default_language
    if not LANGUAGE.match(lang):
        print(f"error: --lang {lang!r} is not a language code (en, es, fr, de, zh, ar, ...)", file=sys.stderr)
        return 2
    store = open_store(settings)
    results = store.search_results(args.text, lang, limit=args.limit)
    if args.json:
        print(json.dumps({
            "query": args.text, "lang": lang, "suggestion": results.suggestion,
            "hits": [{"rank": n, "guide": h.guide_id, "title": h.title, "category": h.category,
                      "match": h.match, "score": round(h.rank, 4)} for n, h in enumerate(results.hits, 1)],
        }, ensure_ascii=False, indent=2))
        return 0
    if not results.hits:
        print(f"No guide matches \u201c{args.text}\u201d in {lang}.")
        return 0
    if results.suggestion:
        print(f"No guide matches \u201c{args.text}\u201d as typed; the kiosk shows "
              f"\u201cDid you mean {results.suggestion}?\u201d and these:")
    else:
        print(f"\u201c{args.text}\u201d in {lang}:")
    width = max(len(h.guide_id) for h in results.hits)
    for n, h in enumerate(results.hits, 1):
        print(f"{n:3}. {h.guide_id:<{width}}  {h.match:<9}  {h.title}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_command_settings(args.data_dir)
    if args.windowed:
        settings.fullscreen = False
    _server_options(settings, args)
    from kiosk.logs import setup_logging

    setup_logging(settings.log_dir)
    store = open_store(settings)
    if not _confirm_identity(settings, store):
        return 2
    # Search's spelling vocabulary is read off the UI thread, now and after every content switch
    # (offline_cache/store.py, prepare_search), so no keystroke waits for it.
    import threading

    store.prepare_search_after_install = True
    threading.Thread(target=store.prepare_search, name="prepare-search", daemon=True).start()
    from kiosk.sync import start_background_sync
    from screens.app import run_app  # Kivy is imported only here: other commands start fast

    dev_tools = []
    probe = os.environ.get("KIOSK_TEST_PROBE")  # the UI tests' view of the screen (tests/ui)
    if probe:
        from screens.devtools.probe import Probe

        dev_tools.append(Probe(probe).attach)
    gate = os.environ.get("KIOSK_TEST_SEARCH_GATE")  # the UI tests' slow search (tests/ui)
    if gate:
        from screens.devtools.search_gate import SearchGate

        dev_tools.append(SearchGate(gate).attach)
    sync_service = start_background_sync(settings, store)  # None for an offline-only kiosk
    try:
        return run_app(settings, store, sync_service=sync_service, dev_tools=dev_tools)
    finally:
        if sync_service is not None:
            sync_service.stop()


def cmd_screenshots(args: argparse.Namespace) -> int:
    """Render every screen in English, Chinese and Arabic to PNG files, with the real app."""
    import tempfile

    out = Path(args.dir).resolve()
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="kiosk-shots-")
    os.environ.setdefault("KIOSK_WINDOW_SIZE", args.size)
    # read by the tour when it is imported (screens/devtools/tour.py)
    if args.languages:
        os.environ["KIOSK_TOUR_LANGUAGES"] = args.languages
    if args.modes:
        os.environ["KIOSK_TOUR_MODES"] = args.modes
    settings = load_command_settings(data_dir)
    settings.fullscreen = False
    settings.idle_timeout = 3600  # the tour opens the idle overlay itself
    from kiosk.handoff import HandoffLinks

    if not HandoffLinks(settings).available:
        # Screenshot names are a shared contract (<lang>-NN-<screen>.png, shared/DESIGN.md): an
        # unregistered kiosk gets a placeholder registration for the tour, in this process only and
        # never saved, so the handoff screen exists. Running for real it offers no handoff (docs/ui.md).
        settings.token = settings.token or "gkd_screenshot-tour"
        settings.public_url = settings.public_url or "https://kiosk.example.invalid"
    from kiosk.logs import setup_logging

    setup_logging(settings.log_dir)
    store = open_store(settings)
    from kiosk.speech import RecordingBackend, Speaker
    from screens.app import run_app
    from screens.devtools.tour import ScreenshotTour

    # the tour walks the audio mode's focus too: what it says is recorded, never played
    speaker = Speaker(RecordingBackend(), volume=settings.speech_volume)
    run_app(settings, store, dev_tools=[ScreenshotTour(out).attach], speaker=speaker)
    shots = sorted(out.rglob("*.png"))  # the modes but normal are in DIR/<mode>/
    print(f"Wrote {len(shots)} screenshots to {out}")
    return 0 if shots else 1


def cmd_sync(args: argparse.Namespace) -> int:
    """One sync round now, with a progress bar per stage (docs/sync.md)."""
    settings = load_command_settings(args.data_dir)
    _server_options(settings, args)
    if not settings.server_url:
        print("No server configured: set server_url and token in kiosk.toml, or pass --server and "
              "--token.", file=sys.stderr)
        return 2
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from kiosk.sync import STAGES, SyncService

    # seed=False: a kiosk about to fetch the server's library need not unpack the sample first.
    store = open_store(settings, seed=False)
    if not _confirm_identity(settings, store):
        return 2
    service = SyncService.from_settings(settings, store)
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description:<9}"), BarColumn(), MofNCompleteColumn(),
                  console=console, disable=args.json or not console.is_terminal) as bar:
        tasks = {stage: bar.add_task(stage, total=None) for stage in STAGES}

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(tasks[stage], completed=done, total=max(total, done))

        result = service.sync_once(progress=progress)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(f"Sync {result.result}: content version {result.content_version}; "
              f"{result.guides_downloaded} guides and {result.images_downloaded} images downloaded "
              f"({result.bytes_downloaded / 1e6:.1f} MB); {result.events_sent} events sent, "
              f"{result.events_rejected} rejected, {result.outbox_depth} waiting.")
        if result.error:
            print(f"Problem: {result.error}", file=sys.stderr)
    return 0 if result.ok else 1

def cmd_config(args: argparse.Namespace) -> int:
    from kiosk.config_check import check_config

    if args.action != "check":
        load_command_settings(args.data_dir)  # show and set-pin refuse a file they cannot use
    if args.action == "check":
        findings = check_config(args.data_dir)
        for finding in findings:
            print(finding)
        errors = sum(f.level == "error" for f in findings)
        print(f"{errors} error(s), {len(findings) - errors} warning(s)." if findings else "The configuration is fine.")
        return 1 if errors else 0
    if args.action == "set-pin":
        import getpass

        from kiosk.settings import save_staff_pin, valid_new_pin

        pin = sys.stdin.readline().strip() if args.pin_stdin else getpass.getpass("New staff PIN: ")
        problem = valid_new_pin(pin)
        if problem:
            print(problem, file=sys.stderr)
            return 1
        path, _ = save_staff_pin(args.data_dir, pin)  # KIOSK_* overrides stay out of the file
        print(f"Staff PIN saved (hashed) in {path}.")
        return 0
    from kiosk.config_check import show_config

    print(show_config(args.data_dir), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description="A self-help guide kiosk.")
    parser.add_argument("--version", action="version", version=f"kiosk {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def data_dir(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", help="the kiosk's data folder (default: $KIOSK_DATA_DIR or "
                                          "~/.local/share/guide-kiosk)")

    p = sub.add_parser("run", help="run the full-screen kiosk app",
                       description="Run the kiosk. A new data dir is filled from the bundled sample library.")
    data_dir(p)
    p.add_argument("--windowed", action="store_true", help="run in a window instead of full screen")
    p.add_argument("--server", help="central server URL (overrides the config file)")
    p.add_argument("--token", help="this device's token (overrides the config file)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("import", help="validate and load a library folder or bundle",
                       description="Validate a guide library (folder, .zip or .tar.gz) and load it into "
                                   "the offline cache in one transaction. An invalid library changes nothing.")
    data_dir(p)
    p.add_argument("path", help="library folder or bundle file")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("status", help="content version, guide count, outbox depth, last sync",
                       description="Show what this kiosk holds and how its last sync went.")
    data_dir(p)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("search", help="what a traveller typing TEXT sees, ranked, and why",
                       description="Search the installed library as the home screen does: the guides a "
                                   "traveller typing TEXT in language L sees, in rank order, with each "
                                   "guide's id and why it matched (exact, prefix, synonym, pinyin, "
                                   "corrected), and the \"Did you mean\" the kiosk offers.")
    data_dir(p)
    p.add_argument("text", help="what the traveller types")
    p.add_argument("--lang", help="the session's language (default: the kiosk's default_language)")
    p.add_argument("--limit", type=int, default=20, help="results shown (default 20, as on screen)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("screenshots", help="save a PNG of every screen in en, zh and ar",
                       description="Run the app in a window, walk it through every screen in English, "
                                   "Chinese and Arabic, and save one PNG per screen into DIR. Needs a "
                                   "display (use xvfb-run on a headless machine).")
    data_dir(p)
    p.add_argument("dir", help="folder for the PNG files")
    p.add_argument("--size", default="1280x720", help="window size, e.g. 1920x1080 (default 1280x720)")
    p.add_argument("--languages", help="comma-separated language codes (default en,zh,ar)")
    p.add_argument("--modes", help="comma-separated modes: normal, large, contrast, reach; each but "
                                   "normal goes to DIR/<mode>/ (default normal)")
    p.set_defaults(func=cmd_screenshots)

    p = sub.add_parser("sync", help="one sync round now, with progress",
                       description="Pull new content from the server and push waiting events, once. "
                                   "A failed round changes no content; `kiosk status` shows why it failed.")
    data_dir(p)
    p.add_argument("--server", help="central server URL (overrides the config file)")
    p.add_argument("--token", help="this device's token (overrides the config file)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_sync)

    p = sub.add_parser("config", help="check or change this kiosk's settings (kiosk.toml)",
                       description="check: say in plain words what is wrong in kiosk.toml; set-pin: store a "
                                   "new staff PIN (hashed); show: print every setting as the kiosk uses it, "
                                   "marking what the environment overrides.")
    data_dir(p)
    p.add_argument("action", choices=["check", "set-pin", "show"])
    p.add_argument("--pin-stdin", action="store_true", help="read the PIN from standard input (set-pin)")
    p.set_defaults(func=cmd_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SettingsInvalid as exc:
        print(exc, file=sys.stderr)
        return 2
    except StoreError as exc:
        # One the commands above do not handle themselves (a database that cannot be opened, not
        # even rebuilt: no permission, a full disk). A sentence, not a traceback; the log has both.
        log.error("%s", exc, exc_info=exc)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
