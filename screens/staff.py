"""Staff mode's controller: the PIN check (with its wait after wrong PINs, and the new PIN that
replaces the factory one: kiosk/staff_pin.py), the status lines, Sync now and the USB import.

Everything here can be slow (scrypt, a status query, a sync round, a dead USB drive), so each call
does its work with `run_in_background` and hands the result to `done` on the UI thread; the staff
screens only show what comes back.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.clock import mainthread

from contract.bundle import BUNDLE_SUFFIXES, open_library
from contract.guides import LibraryInvalid
from kiosk.settings import Settings
from kiosk.staff_pin import PinCheck, PinGuard, PinRefused
from kiosk.status import status_report
from offline_cache.store import Store
from screens.background import run_in_background

log = logging.getLogger(__name__)


class StaffController:
    def __init__(self, settings: Settings, store: Store, *, sync_service: Any, translate: Callable[[str], str],
                 content_changed: Callable[[], None]):
        self.settings, self.store = settings, store
        # kiosk.sync.SyncService, or None for a kiosk with no server: sync_now(progress) -> str,
        # reachable() -> bool; it calls content_changed() after installing new content.
        self.sync_service = sync_service
        self.t = translate
        self.content_changed = content_changed
        self.pins = PinGuard(settings, store)

    def check_pin(self, pin: str, done: Callable[[PinCheck], None]) -> None:
        """done(PinCheck): right or not, how long the pad must wait, whether to choose a new PIN."""
        run_in_background(lambda: self.pins.check(pin), done, name="pin-check")

    def pin_wait(self, done: Callable[[float], None]) -> None:
        """done(seconds) until the pad takes a PIN again (the store holds it: a restart keeps it)."""
        run_in_background(self.pins.wait_left, done, name="pin-wait")

    def set_new_pin(self, pin: str, done: Callable[[str | None], None]) -> None:
        """Save the new staff PIN; done(None) once it is saved, else done(why not, translated)."""
        def work() -> str | None:
            try:
                self.pins.set_new(pin)
            except PinRefused as exc:
                return self.t(str(exc))
            return None

        def failed(exc: Exception) -> None:
            log.error("the new staff PIN could not be saved: %s", exc)
            done(self.t("The new PIN could not be saved: {error}").format(error=exc))

        run_in_background(work, done, failed=failed, name="pin-save")

    def status(self, done: Callable[[list[str], list[str]], None]) -> None:
        """done(lines, problems): what the kiosk holds, and what staff must act on."""
        def work() -> tuple[list[str], list[str]]:
            report = status_report(self.settings, self.store)
            return self._status_lines(report, self._server_reachability()), self._problems(report)

        def failed(exc: Exception) -> None:  # staff stay in staff mode and see why
            done([], [self.t("The status could not be read: {error}").format(error=exc)])

        run_in_background(work, lambda status: done(*status), failed=failed, name="staff-status")

    def _server_reachability(self) -> str:
        """Asked of the kiosk core (the sync service's transport asks the server's /healthz), on
        the status thread: the UI itself never opens a connection."""
        if self.sync_service is None:
            return self.t("no server configured")
        return self.t("reachable") if self.sync_service.reachable() else self.t("not reachable")

    def _status_lines(self, report: dict, reach: str) -> list[str]:
        last = report.get("last_sync") or {}
        last_text = (f"{last.get('result', '')} {last.get('at', '')} {last.get('error') or ''}".strip()
                     or self.t("never"))
        return [
            self.t("Device: {value}").format(value=report["device"]),
            self.t("Content version: {value}").format(value=report["content_version"]),
            self.t("Guides: {value}").format(value=report["guides"]),
            self.t("Languages: {value}").format(value=", ".join(report["languages"])),
            self.t("Last sync: {value}").format(value=last_text),
            self.t("Events waiting to send: {value}").format(value=report["outbox_depth"]),
            self.t("Server: {value}").format(value=reach),
            self.t("Free disk: {value} GB").format(value=f"{report['free_disk_bytes'] / 1e9:.1f}"),
            self.t("App version: {value}").format(value=report["app_version"]),
        ]

    def _problems(self, report: dict) -> list[str]:
        problems = []
        rejected = report.get("rejected_events") or 0
        if rejected:
            # The usual cause: a token that belongs to another device, so the server refuses
            # every event this kiosk sends (issue #10); nothing else on screen would say so.
            message = ("1 event was refused by the server \u2014 check this kiosk's token" if rejected == 1 else
                       "{n} events were refused by the server \u2014 check this kiosk's token")
            problems.append(self.t(message).format(n=rejected))
        return problems

    def sync_now(self, progress: Callable[[str, float], None], done: Callable[[str], None]) -> None:
        if self.sync_service is None:
            done(self.t("No server is configured, so there is nothing to sync."))
            return

        def work() -> str:
            result = self.sync_service.sync_now(progress=mainthread(progress))
            return str(result) if result else self.t("Sync finished.")

        def failed(exc: Exception) -> None:
            done(self.t("Sync failed: {error}").format(error=exc))

        run_in_background(work, done, failed=failed, name="staff-sync")

    def import_candidates(self, done: Callable[[list[str]], None]) -> None:
        """Folders and bundle files that look like a guide library on mounted media (USB sticks),
        found on a thread: a slow or dead drive must not freeze the screen."""
        roots = os.environ.get("KIOSK_IMPORT_ROOTS", "/media:/run/media:/mnt").split(os.pathsep)
        run_in_background(lambda: find_libraries(roots), done, name="import-scan")

    def import_library(self, path: str, done: Callable[[str], None]) -> None:
        def work() -> tuple[str, bool]:
            try:
                library = open_library(path)
                counts = self.store.import_library(library)
            except LibraryInvalid as exc:
                head = self.t("Not imported: {n} problem(s). The kiosk's content is unchanged.").format(
                    n=len(exc.problems))
                return "\n".join([head, *(f"- {p}" for p in exc.problems[:30])]), False
            message = self.t("Imported {n} guides ({added} added, {changed} changed, {removed} removed).").format(
                n=len(library), added=counts["added"], changed=counts["changed"], removed=counts["removed"])
            return message, True

        def imported(outcome: tuple[str, bool]) -> None:
            message, changed = outcome
            done(message)
            if changed:
                self.content_changed()

        def failed(exc: Exception) -> None:
            done(self.t("Not imported: {error}").format(error=exc))

        run_in_background(work, imported, failed=failed, name="staff-import")


def find_libraries(roots: list[str], limit: int = 30) -> list[str]:
    """Folders holding guide files, and bundle files, at most three levels under each root."""
    found: list[str] = []
    for root in roots:
        for folder, dirs, files in os.walk(root):
            depth = Path(folder).relative_to(root).parts
            if len(depth) >= 3:
                dirs.clear()
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            if any(f.endswith((".yaml", ".yml")) for f in files):
                found.append(folder)
            found += [str(Path(folder) / f) for f in sorted(files) if f.lower().endswith(BUNDLE_SUFFIXES)]
            if len(found) >= limit:
                break
    return found[:limit]
