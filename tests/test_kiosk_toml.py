"""kiosk.toml as an operator meets it: a file the kiosk cannot use stops every `kiosk` command with one
paragraph naming the file and what is wrong (never a traceback, never a kiosk quietly running on
defaults without its device name or server), and the file, which holds the device token and the
staff PIN's hash, is only ever written readable by the kiosk's user alone, atomically."""

from __future__ import annotations

import io
import os
import stat
import sys
import tomllib
from pathlib import Path

import pytest

from kiosk import cli

SAMPLE = Path(__file__).resolve().parents[1] / "assets" / "library"

COMMANDS = {
    "run": ["run"],
    "status": ["status"],
    "status --json": ["status", "--json"],
    "import": ["import", str(SAMPLE)],
    "sync": ["sync"],
    "config show": ["config", "show"],
    "config set-pin": ["config", "set-pin", "--pin-stdin"],
    "screenshots": ["screenshots", "SHOTS"],
}

BAD_FILES = {
    "bad TOML syntax": ('device = "gate-b12"\nidle_timeout = \n', "is not valid TOML"),
    "a wrong type": ('device = "gate-b12"\nidle_timeout = "soon"\n', "'idle_timeout' should be a number, not 'soon'"),
    "an unknown key": ('device = "gate-b12"\nidel_timeout = 30\n', "unknown setting 'idel_timeout'"),
    "an unknown language": ('device = "gate-b12"\nlanguages = ["en", "klingon"]\n', "klingon"),
}


class GotPastTheSettings(AssertionError):
    pass


@pytest.mark.parametrize("bad", list(BAD_FILES))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_refuses_an_invalid_kiosk_toml_in_one_paragraph(command, bad, tmp_path, monkeypatch, capsys):
    def not_reached(*_a, **_k):
        raise GotPastTheSettings(f"`kiosk {command}` went on with an invalid kiosk.toml")

    monkeypatch.setattr(cli, "open_store", not_reached)  # run and screenshots stop here, not in Kivy
    monkeypatch.setattr(sys, "stdin", io.StringIO("4826\n"))
    text, problem = BAD_FILES[bad]
    path = tmp_path / "kiosk.toml"
    path.write_text(text)
    args = [a.replace("SHOTS", str(tmp_path / "shots")) for a in COMMANDS[command]]

    code = cli.main([*args[:2], "--data-dir", str(tmp_path), *args[2:]] if args[0] == "config"
                    else [args[0], "--data-dir", str(tmp_path), *args[1:]])

    err = capsys.readouterr().err
    assert code == 2, f"exit {code}: {err}"
    assert str(path) in err and problem in err, err
    assert "Traceback" not in err and "pydantic" not in err.lower()
    assert "\n\n" not in err.strip() and err.strip(), f"one paragraph: {err!r}"
    assert "kiosk config check" in err, "it says how to see every problem"
    assert path.read_text() == text, "an invalid file is never overwritten (set-pin would lose the token)"
    assert not (tmp_path / "kiosk.db").exists(), "nothing else happened"


def test_config_check_still_lists_every_problem_of_an_invalid_file(tmp_path, capsys):
    (tmp_path / "kiosk.toml").write_text('device = "gate-b12"\nidle_timeout = "soon"\nidel_timeout = 30\n')
    assert cli.main(["config", "check", "--data-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "'idle_timeout' should be a number" in out and "unknown setting 'idel_timeout'" in out


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_set_pin_writes_kiosk_toml_for_the_kiosk_user_only_and_atomically(tmp_path, monkeypatch, capsys):
    path = tmp_path / "kiosk.toml"
    path.write_text('device = "gate-b12"\ntoken = "gkd_secret-token"\n')
    path.chmod(0o644)
    inode = path.stat().st_ino
    renamed: list[tuple[str, int]] = []
    real_replace = os.replace

    def replace(src, dst, *a, **k):
        renamed.append((str(dst), _mode(Path(src))))
        return real_replace(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(sys, "stdin", io.StringIO("4826\n"))
    assert cli.main(["config", "set-pin", "--pin-stdin", "--data-dir", str(tmp_path)]) == 0

    assert _mode(path) == 0o600, f"kiosk.toml holds the token and the PIN hash: {oct(_mode(path))}"
    assert renamed == [(str(path), 0o600)], "written to a 0600 temp file, then renamed over kiosk.toml"
    assert path.stat().st_ino != inode
    saved = tomllib.loads(path.read_text())
    assert saved["token"] == "gkd_secret-token" and saved["staff_pin_hash"].startswith("scrypt$")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kiosk.toml"], "no temp file left behind"


def test_a_new_kiosk_toml_is_made_for_the_kiosk_user_only(tmp_path, capsys):
    old = os.umask(0o022)
    try:
        assert cli.main(["status", "--data-dir", str(tmp_path)]) == 0
    finally:
        os.umask(old)
    assert _mode(tmp_path / "kiosk.toml") == 0o600
