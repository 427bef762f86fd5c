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


@pytest.mark.parametrize(("module", "usage"), [("kiosk.entry", "usage: kiosk "),
                                               ("server.entry", "usage: kiosk-server ")])
def test_a_command_with_its_extra_runs_the_cli(module, usage):
    result = run_blocked((), RUN_ENTRY.format(module=module), "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(usage)


def test_the_kiosk_command_does_not_need_the_server_and_the_server_command_not_kivy():
    kiosk = run_blocked(set(EXTRAS["server"]) - set(EXTRAS["kiosk"]), RUN_ENTRY.format(module="kiosk.entry"),
                        "--help")
    server = run_blocked(set(EXTRAS["kiosk"]) - set(EXTRAS["server"]), RUN_ENTRY.format(module="server.entry"),
                         "--help")
    assert (kiosk.returncode, server.returncode) == (0, 0), kiosk.stderr + server.stderr
