"""The layers hold (import-linter, contracts in pyproject.toml), and the check can fail: a module
that breaks a layer, written into a copy of the tree, makes lint-imports name the broken contract."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from installs.blocking import REPO

PACKAGES = ("contract", "kiosk", "screens", "offline_cache", "server")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def lint_imports(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    # --no-cache: the cache folder would be written into the repo. COLUMNS: one contract, one line.
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo", *args], check=False, cwd=cwd,
                          capture_output=True, text=True, timeout=120, env=dict(os.environ, COLUMNS="300"))


def test_the_layers_hold():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


PROBES = [  # (module written into a copy of the tree, its one line, the contract it breaks, the report)
    ("contract/_probe_a.py", "import kivy", "contract-alone", "contract._probe_a -> kivy"),
    ("contract/_probe_b.py", "from kiosk import engine", "contract-alone", "contract._probe_b -> kiosk.engine"),
    ("offline_cache/_probe_a.py", "from kiosk.engine import SessionEngine", "kiosk-layers",
     "offline_cache._probe_a -> kiosk.engine"),
    ("kiosk/_probe_a.py", "import screens.app", "kiosk-layers", "kiosk._probe_a -> screens.app"),
    ("kiosk/_probe_b.py", "from kivy.clock import Clock", "kiosk-core-no-kivy", "kiosk._probe_b -> kivy"),
    ("screens/_probe_a.py", "import sqlite3", "screens-no-io", "screens._probe_a -> sqlite3"),
    ("offline_cache/_probe_b.py", "import requests", "store-no-network", "offline_cache._probe_b -> requests"),
    ("kiosk/_probe_c.py", "import sqlalchemy", "kiosk-no-server-stack", "kiosk._probe_c -> sqlalchemy"),
    ("server/_probe_a.py", "import kivy.app", "server-no-kiosk", "server._probe_a -> kivy"),
    ("server/_probe_b.py", "from offline_cache.store import Store", "server-no-kiosk",
     "server._probe_b -> offline_cache.store"),
    ("screens/_probe_b.py", "from devtools import tour", "production-no-devtools", "screens._probe_b -> devtools"),
    ("screens/_probe_c.py", "from kiosk.cli import main", "cli-on-top", "screens._probe_c -> kiosk.cli"),
    ("kiosk/_probe_d.py", "from kiosk import cli", "cli-on-top", "kiosk._probe_d -> kiosk.cli"),
    ("screens/_probe_d.py", "from screens.devtools import probe", "screens-devtools-attached",
     "screens._probe_d -> screens.devtools.probe"),
]


@pytest.fixture(scope="module")
def broken_tree_report(tmp_path_factory) -> str:
    """lint-imports' report on a copy of the production packages with every probe written in: one
    run (half a second) for all of them."""
    tree = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(REPO / package, tree / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tree / "pyproject.toml")
    for module, line, _, _ in PROBES:
        (tree / module).write_text(f'"""A temporary violation."""\n{line}\n')
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    return result.stdout


def _broken_sections(report: str) -> dict[str, str]:
    """The 'Broken contracts' part of a report: each broken contract's name and what it says."""
    broken = report.split("\nBroken contracts\n", 1)[1]
    parts = re.split(r"\n([^\n]+)\n-+\n", broken)  # a name, then a line of dashes under it
    return dict(zip(parts[1::2], parts[2::2], strict=True))


@pytest.mark.parametrize(("module", "line", "contract", "reported"), PROBES)
def test_a_forbidden_import_breaks_its_contract(broken_tree_report, module, line, contract, reported):
    name = next(c["name"] for c in CONTRACTS if c["id"] == contract)
    assert f"{name} BROKEN" in broken_tree_report
    sections = _broken_sections(broken_tree_report)
    assert name in sections, f"{name!r} is not among the broken contracts: {sorted(sections)}"
    assert reported in sections[name]
