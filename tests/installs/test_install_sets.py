"""What each install pulls in, resolved by pip itself (`pip install --dry-run --report`, nothing
installed): a kiosk gets no FastAPI, SQLAlchemy, psycopg or uvicorn, a server no Kivy, and a bare
`pip install .` only the contract's packages. Plus: the table the console commands use to name a
missing extra (contract/extras.py) lists exactly the packages pyproject.toml puts in each extra.

pip resolves against the package index (as scripts/setup does), about 6 s per install, the two side
by side; the bare install is the closure of the project's own requirements within the kiosk's
resolution (a subset of it). pyproject.toml and README.md are copied to a temp dir first: building
the metadata writes an egg-info folder beside pyproject.toml, and nothing may write into the repo."""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from contract.extras import EXTRAS
from installs.blocking import REPO

SERVER_STACK = {"fastapi", "starlette", "sqlalchemy", "psycopg", "psycopg-binary", "uvicorn", "uvloop",
                "httptools", "jinja2", "python-multipart"}
KIOSK_STACK = {"kivy", "kivy-garden", "requests", "sqlite-utils", "qrcode"}
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def _name(requirement: str) -> str:
    """The canonical distribution name of a requirement string (PEP 503)."""
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement).group()).lower()


@pytest.fixture(scope="module")
def resolved(tmp_path_factory) -> dict[str, set[str]]:
    src = tmp_path_factory.mktemp("project")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    specs = {"kiosk": ".[kiosk]", "server": ".[server]"}
    runs = {}
    for install, spec in specs.items():
        report = src / f"{install}.json"
        runs[install] = (report, subprocess.Popen(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
             "--report", str(report), spec],
            cwd=src, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    sets, reports = {}, {}
    for install, (report, proc) in runs.items():
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, f"pip could not resolve {specs[install]}: {err}"
        reports[install] = json.loads(report.read_text())["install"]
        sets[install] = {_name(item["metadata"]["name"]) for item in reports[install]}
    sets["bare"] = _closure_without_extras(reports["kiosk"])
    return sets


def _closure_without_extras(items: list[dict]) -> set[str]:
    """The distributions a bare `pip install .` pulls in, read off a resolution that contains them."""
    by_name = {_name(item["metadata"]["name"]): item["metadata"] for item in items}
    todo, seen = ["guide-kiosk"], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for line in by_name[name].get("requires_dist", []):
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(_name(requirement.name))
    return seen - {"guide-kiosk"}


def test_a_kiosk_install_has_no_server_packages(resolved):
    kiosk = resolved["kiosk"]
    assert KIOSK_STACK <= kiosk
    assert kiosk & SERVER_STACK == set()


def test_a_server_install_has_no_kivy(resolved):
    server = resolved["server"]
    assert {"fastapi", "sqlalchemy", "uvicorn", "psycopg"} <= server
    assert server & KIOSK_STACK == set()


def test_a_bare_install_is_the_contract_alone(resolved):
    bare = resolved["bare"]
    assert {"pydantic", "pydantic-settings", "ruamel-yaml", "pyyaml"} <= bare
    assert bare & (KIOSK_STACK | SERVER_STACK | {"cryptography"}) == set()


def test_every_requirement_is_pinned():
    extras = PYPROJECT["project"]["optional-dependencies"]
    for requirement in PYPROJECT["project"]["dependencies"] + [r for e in extras.values() for r in e]:
        assert "==" in requirement or requirement.startswith("guide-kiosk["), f"not pinned: {requirement}"


@pytest.mark.parametrize("extra", ["kiosk", "server"])
def test_the_missing_extra_table_lists_the_extras_packages(extra):
    """contract/extras.py names a package by what it imports; pyproject.toml by distribution. The
    two must cover each other, or a command would start without a package it needs."""
    imports_of: dict[str, set[str]] = {}
    for top, dists in importlib.metadata.packages_distributions().items():
        for dist in dists:
            imports_of.setdefault(_name(dist), set()).add(top)
    table = set(EXTRAS[extra])
    listed = {_name(r) for r in PYPROJECT["project"]["optional-dependencies"][extra]}
    for dist in listed:
        assert imports_of.get(dist, set()) & table, f"{dist} (in [{extra}]) is not in contract/extras.py"
    covered = set().union(*(imports_of.get(dist, set()) for dist in listed))
    assert table <= covered, f"contract/extras.py names {sorted(table - covered)}, not in [{extra}]"


def test_a_wheel_install_carries_every_file_of_the_sample_library():
    """assets/ is no package, so only [tool.setuptools.data-files] puts the sample library into a
    non-editable install; a file its globs miss (a new image type, a subfolder) would be missing
    from every kiosk installed that way, which would start with a broken library."""
    data_files = PYPROJECT["tool"]["setuptools"]["data-files"]
    shipped = {path for patterns in data_files.values() for pattern in patterns for path in REPO.glob(pattern)}
    on_disk = {path for path in (REPO / "assets").rglob("*") if path.is_file()}
    assert on_disk - shipped == set()
    for target, patterns in data_files.items():
        for pattern in patterns:
            # share/guide-kiosk/<dir> mirrors assets/<dir>, where kiosk/paths.py looks for it
            assert target.removeprefix("share/guide-kiosk") == str(Path(pattern).parent).removeprefix("assets")
