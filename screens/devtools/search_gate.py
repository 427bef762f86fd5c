"""The UI tests' slow search: `kiosk run` with KIOSK_TEST_SEARCH_GATE naming a file holds every
search the kiosk runs while that file exists, as a search on a slow disk or a huge library would
take its time. Each search first appends its query and the thread it runs on to `<file>.log` (JSON
lines), so a test knows a search is being held before it types on, and which searches ran.
"""

from __future__ import annotations

import json
import os
import threading
import time

POLL_SECONDS = 0.01  # how often a held search looks whether the gate is open


class SearchGate:
    def __init__(self, path: str):
        self.path = path
        self.log_path = path + ".log"

    def attach(self, app) -> None:
        search = app.search_results

        def held(text: str, lang: str | None = None):
            with open(self.log_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"query": text, "thread": threading.current_thread().name},
                                    ensure_ascii=False) + "\n")
            while os.path.exists(self.path):  # the gate is the file: the test removes it
                time.sleep(POLL_SECONDS)
            return search(text, lang)

        app.search_results = held
