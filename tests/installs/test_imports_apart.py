"""Every module of each side imports where the other side's packages are not installed: the server
and the contract with Kivy and the kiosk's packages blocked, the kiosk core, the store and the
contract with FastAPI, SQLAlchemy, uvicorn and psycopg blocked. The packages are walked with pkgutil,
so a module added later is covered without editing this test."""

from __future__ import annotations

import json

import pytest

from contract.extras import EXTRAS
from installs.blocking import REPO, run_blocked

KIOSK_ONLY = set(EXTRAS["kiosk"]) - set(EXTRAS["server"])  # kivy, requests, sqlite_utils, qrcode, ...
SERVER_ONLY = (set(EXTRAS["server"]) - set(EXTRAS["kiosk"])) | {"psycopg_binary", "multipart"}

IMPORT_ALL = """
import importlib, json, pkgutil, traceback
try:
    import {probe}
except ImportError:
    pass
else:
    raise SystemExit("the blocker let {probe} through")
imported, failed = [], {{}}
for top in {packages!r}:
    package = importlib.import_module(top)
    # A subpackage that fails while walked is still listed, and its import below records why.
    names = [top] + [info.name for info in pkgutil.walk_packages(package.__path__, top + ".",
                                                                  onerror=lambda name: None)]
    for name in names:
        try:
            module = importlib.import_module(name)
        except BaseException as exc:
            failed[name] = "".join(traceback.format_exception_only(exc)).strip()
        else:
            imported.append((name, module.__file__))
print(json.dumps({{"imported": imported, "failed": failed}}))
"""


def _import_everything(packages: list[str], blocked: set[str]) -> dict:
    probe = min(blocked)
    result = run_blocked(blocked, IMPORT_ALL.format(packages=packages, probe=probe))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for name, path in report["imported"]:
        assert path.startswith(str(REPO)), f"{name} came from {path}, not from this checkout"
    return report


def _modules_on_disk(package: str) -> set[str]:
    names = set()
    for path in (REPO / package).rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


@pytest.mark.parametrize(("side", "packages", "blocked"), [
    ("server", ["contract", "server"], KIOSK_ONLY),
    ("kiosk", ["contract", "kiosk", "offline_cache"], SERVER_ONLY),
])
def test_every_module_of_one_side_imports_without_the_other_sides_packages(side, packages, blocked):
    report = _import_everything(packages, blocked)
    assert report["failed"] == {}, f"the {side} install would break on these imports"
    imported = {name for name, _ in report["imported"]}
    on_disk = set().union(*(_modules_on_disk(p) for p in packages))
    assert on_disk <= imported, f"modules never imported: {sorted(on_disk - imported)}"


def test_the_check_fails_for_a_module_that_needs_the_other_side():
    """The control: the UI needs Kivy, so with the kiosk's packages blocked it must fail to import."""
    report = _import_everything(["screens"], KIOSK_ONLY)
    assert "screens.widgets" in report["failed"]
    assert "kivy" in report["failed"]["screens.widgets"]


def test_only_run_and_screenshots_start_the_ui(tmp_path):
    """kiosk.cli is the composition root, and only its `run` and `screenshots` import the UI: the
    other commands work (and start fast) where Kivy cannot even be imported."""
    code = (f"from kiosk.cli import main\n"
            f"import sys\n"
            f"codes = [main(['status', '--data-dir', {str(tmp_path)!r}]),\n"
            f"         main(['import', 'assets/library', '--data-dir', {str(tmp_path)!r}])]\n"
            f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('screens', 'kivy'))\n"
            f"print(codes, loaded)\n")
    result = run_blocked({"kivy", "screens"}, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[0, 0] []"
