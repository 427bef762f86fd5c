"""One pinyin lexicon per test run: built once (a few seconds) into a temporary folder, shared by
the unit tests and copied into the data dir of a UI test's kiosk."""

from __future__ import annotations

import shutil
import tempfile
from functools import cache
from pathlib import Path

from offline_cache.lexicon import build


@cache
def lexicon_file() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="kiosk-test-lexicon-"))
    return build(folder / "pinyin.sqlite")


def copy_into(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(lexicon_file(), data_dir / "pinyin.sqlite"))
