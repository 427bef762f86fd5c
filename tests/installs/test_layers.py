"""The layers hold (import-linter, contracts in pyproject.toml), and the check can fail: a module
that breaks a layer, written into a copy of the tree, makes lint-imports name the broken contract."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from installs.blocking import REPO

PACKAGES = ("contract", "kiosk", "screens", "offline_cache", "server")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    # --no-cache: the cache folder would be written into the repo.
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", *args], check=False, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_the_layers_hold():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A copy of the production packages and pyproject.toml, free to break."""
    dest = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(REPO / package, dest / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", dest / "pyproject.toml")
    return dest


@pytest.mark.parametrize(("module", "line", "contract", "reported"), [
    ("contract/_probe.py", "import kivy", "contract-alone", "contract._probe -> kivy"),
    ("contract/_probe.py", "from kiosk import engine", "contract-alone", "contract._probe -> kiosk.engine"),
    ("offline_cache/_probe.py", "from kiosk.engine import SessionEngine", "kiosk-layers",
     "offline_cache._probe -> kiosk.engine"),
    ("kiosk/_probe.py", "import screens.app", "kiosk-layers", "kiosk._probe -> screens.app"),
    ("kiosk/_probe.py", "from kivy.clock import Clock", "kiosk-core-no-kivy", "kiosk._probe -> kivy"),
    ("screens/_probe.py", "import sqlite3", "screens-no-io", "screens._probe -> sqlite3"),
    ("offline_cache/_probe.py", "import requests", "store-no-network", "offline_cache._probe -> requests"),
    ("kiosk/_probe.py", "import sqlalchemy", "kiosk-no-server-stack", "kiosk._probe -> sqlalchemy"),
    ("server/_probe.py", "import kivy.app", "server-no-kiosk", "server._probe -> kivy"),
    ("server/_probe.py", "from offline_cache.store import Store", "server-no-kiosk",
     "server._probe -> offline_cache.store"),
    ("screens/_probe.py", "from devtools import tour", "production-no-devtools", "screens._probe -> devtools"),
])
def test_a_forbidden_import_breaks_its_contract(tree, module, line, contract, reported):
    probe = tree / module
    probe.write_text(f'"""A temporary violation."""\n{line}\n')
    try:
        result = lint_imports(tree, "--contract", contract)
    finally:
        probe.unlink()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
    assert reported in result.stdout, result.stdout
