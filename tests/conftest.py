"""Shared test set-up. Kivy reads its environment at first import, so it is set here, before any
test module can import kivy: no argv parsing, default config, a throwaway KIVY_HOME."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_USE_DEFAULTCONFIG", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="kivy-home-"))

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "assets" / "library"
sys.path.insert(0, str(REPO))


@pytest.fixture
def sample_library_dir(tmp_path: Path) -> Path:
    """A private copy of the bundled sample library, free to edit."""
    dest = tmp_path / "library"
    shutil.copytree(SAMPLE, dest)
    return dest


@pytest.fixture
def store(tmp_path: Path):
    from offline_cache.store import Store

    s = Store(tmp_path / "kiosk.db")
    yield s
    s.close()


@pytest.fixture
def loaded_store(store, sample_library_dir):
    from contract.validation import load_library

    store.import_library(load_library(sample_library_dir), content_version="test-1")
    return store
