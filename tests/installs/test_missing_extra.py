"""Each console command, run where its extra is missing, says in one sentence which extra to install
and exits 2; where the extra is there it runs the CLI as before."""

from __future__ import annotations

import pytest

from contract.extras import EXTRAS
from installs.blocking import run_blocked

RUN_ENTRY = "import runpy\nrunpy.run_module({module!r}, run_name='__main__')\n"


@pytest.mark.parametrize(("module", "args", "blocked", "extra", "missing"), [
    ("kiosk.entry", ["status"], {"kivy"}, "kiosk", "kivy"),
    ("kiosk.entry", ["run", "--windowed"], {"requests", "sqlite_utils"}, "kiosk", "requests, sqlite_utils"),
    ("server.entry", ["serve"], {"fastapi"}, "server", "fastapi"),
    ("server.entry", ["validate", "assets/library"], {"sqlalchemy", "uvicorn"}, "server", "uvicorn, sqlalchemy"),
])
def test_a_command_without_its_extra_names_the_extra_and_exits_2(module, args, blocked, extra, missing):
    result = run_blocked(blocked, RUN_ENTRY.format(module=module), *args)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one sentence, no traceback
    assert f'pip install "guide-kiosk[{extra}]"' in lines[0]
    assert f"({missing})" in lines[0]


@pytest.mark.parametrize(("module", "usage", "other_side"), [
    ("kiosk.entry", "usage: kiosk ", set(EXTRAS["server"]) - set(EXTRAS["kiosk"])),
    ("server.entry", "usage: kiosk-server ", set(EXTRAS["kiosk"]) - set(EXTRAS["server"])),
])
def test_a_command_with_its_extra_runs_the_cli_without_the_other_sides(module, usage, other_side):
    result = run_blocked(other_side, RUN_ENTRY.format(module=module), "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(usage)
