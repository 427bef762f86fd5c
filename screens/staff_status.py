"""Staff status: what this kiosk holds and how its sync is doing, with Sync now, Import from folder,
Back to the kiosk, and Exit (the only way to close the app)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from screens.lists import VirtualList  # noqa: F401 (staff_status.kv draws it)
from screens.widgets import KioskScreen


class StaffStatusScreen(KioskScreen):
    status_text = StringProperty("")
    problem_text = StringProperty("")  # what staff must act on, drawn in the warning colour
    sync_message = StringProperty("")
    sync_progress = NumericProperty(0)
    busy = BooleanProperty(False)
    import_path = StringProperty("")
    import_message = StringProperty("")

    def on_activate(self) -> None:
        self.sync_message = ""
        self.import_message = ""
        self.sync_progress = 0
        self.import_path = ""
        self.refresh()
        self.scan()

    def refresh(self) -> None:
        App.get_running_app().staff.status(self._show_status)

    def _show_status(self, lines: list[str], problems: list[str]) -> None:
        self.status_text = "\n".join(lines)
        self.problem_text = "\n".join(problems)

    def sync_now(self) -> None:
        self.busy = True
        self.sync_progress = 0
        App.get_running_app().staff.sync_now(self._sync_progress, self._sync_done)

    def _sync_progress(self, message: str, fraction: float) -> None:
        self.sync_message = message
        self.sync_progress = max(0.0, min(1.0, fraction)) * 100

    def _sync_done(self, message: str) -> None:
        self.busy = False
        self.sync_message = message
        self.refresh()

    def scan(self) -> None:
        """List what could be imported from USB sticks, as large buttons (a long list: only the
        rows on screen are widgets, screens/lists.py)."""
        self.ids.candidates.clear()
        App.get_running_app().staff.import_candidates(self._show_candidates)

    def _show_candidates(self, paths: list[str]) -> None:
        app = App.get_running_app()
        rows: list[dict] = [{"viewclass": "ListNote", "raw": app.t("No guide library found on a USB stick.")}] \
            if not paths else []
        rows += [{"raw": path, "probe_id": f"import:{Path(path).name}", "font_size": app.theme.font_small,
                  "selected": path == self.import_path, "primary": path == self.import_path,
                  "action": partial(self.choose, path)} for path in paths]
        self.ids.candidates.show(rows)

    def choose(self, path: str) -> None:
        self.import_path = path

        def light(row: dict) -> None:
            if "action" in row:
                row["primary"] = row["selected"] = row["raw"] == path

        self.ids.candidates.update_rows(light)

    def start_import(self) -> None:
        if not self.import_path:
            return
        self.busy = True
        self.import_message = App.get_running_app().t("Importing\u2026")
        App.get_running_app().staff.import_library(self.import_path, self._import_done)

    def _import_done(self, message: str) -> None:
        self.busy = False
        self.import_message = message
        self.refresh()


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
