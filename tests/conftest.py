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
# Nothing a test run makes goes into the checkout: Hypothesis keeps its example database (the
# failing examples it replays first) outside it, in one folder that lasts across runs.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(Path(tempfile.gettempdir()) / "guide-kiosk-hypothesis"))

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


# --- markers and replayable randomness -----------------------------------------------------------

SEED_VARIABLE = "KIOSK_TEST_SEED"


def pytest_configure(config):
    config.addinivalue_line("markers", f"seed(n): the test's default random seed; {SEED_VARIABLE} overrides it")


def pytest_collection_modifyitems(items):
    """Every test that needs PostgreSQL carries the `postgres` marker (`-m "not postgres"` runs the
    rest): the [postgres] params of the server and dashboard fixtures, and the end-to-end tests."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if (callspec and "postgres" in callspec.params.values()) or item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def seed(request) -> int:
    """The random seed of a test that acts at random moments (kill -9 tests): the test's
    @pytest.mark.seed(n), or KIOSK_TEST_SEED to replay a failure; a failure report names it."""
    marker = request.node.get_closest_marker("seed")
    value = int(os.environ.get(SEED_VARIABLE) or (marker.args[0] if marker else 1))
    request.node.user_properties.append(("seed", value))
    return value


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        for name, value in item.user_properties:
            if name == "seed":
                report.sections.append(("seed", f"replay this failure with {SEED_VARIABLE}={value} pytest {item.nodeid}"))
    return report
