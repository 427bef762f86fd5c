"""Which of the distribution's extras an install has: the one table both console commands consult.

A bare `pip install guide-kiosk` is this contract package alone; the kiosk and the server each come
with an extra (pyproject.toml). Console scripts cannot depend on an extra, so every install has both
`kiosk` and `kiosk-server`; their entry modules (kiosk/entry.py, server/entry.py) ask here first and
say in one sentence what to install instead of dying on the first missing import. Standard library
only, and nothing is imported to look (find_spec), so a command's start stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

# The import names of each extra's own packages, as listed in pyproject.toml's
# [project.optional-dependencies]; tests/packaging checks that the two stay the same.
EXTRAS: dict[str, tuple[str, ...]] = {
    "kiosk": ("kivy", "requests", "qrcode", "sqlite_utils", "cryptography", "babel", "rich", "tomli_w",
              "arabic_reshaper", "bidi", "jieba", "pypinyin"),
    "server": ("fastapi", "starlette", "uvicorn", "httptools", "uvloop", "sqlalchemy", "psycopg", "jinja2",
               "markupsafe", "python_multipart", "cryptography", "babel", "tzdata"),
}


def missing(extra: str) -> list[str]:
    """The import names of `extra`'s packages that cannot be imported here."""
    lacking = []
    for name in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(name) is not None
        except ImportError:  # a broken or blocked package is as missing as an absent one
            found = False
        if not found:
            lacking.append(name)
    return lacking


def lacking_sentence(extra: str, command: str) -> str | None:
    """None when `extra` is installed; else the one sentence that tells the user what to install."""
    lacking = missing(extra)
    if not lacking:
        return None
    return (f"The {command} command needs the {extra}'s packages, which this install lacks "
            f"({', '.join(lacking)}): install them with pip install \"guide-kiosk[{extra}]\".")


def run_command(extra: str, command: str, cli_module: str, argv: list[str] | None) -> int:
    """A console command's whole start: refuse in one sentence (exit 2) when `extra` is missing,
    else import `cli_module` (only now: it imports the extra's packages) and run its main."""
    problem = lacking_sentence(extra, command)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    return importlib.import_module(cli_module).main(argv)
