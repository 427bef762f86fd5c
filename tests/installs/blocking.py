"""Run Python in a subprocess as if some packages were not installed: a meta-path finder placed
first raises ModuleNotFoundError for them, exactly what a missing distribution raises. This is how
the tests check a kiosk-only or server-only install without building one."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

BLOCKER = """\
import sys

class _NotInstalled:
    blocked = frozenset({blocked!r})

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.blocked:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not in this install)", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
"""


def run_blocked(blocked: Iterable[str], code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `code` with the top-level packages `blocked` made unimportable; the repo comes first on
    sys.path so the checked-out code (not an installed copy) is what runs."""
    env = dict(os.environ, PYTHONPATH=str(REPO), KIVY_NO_ARGS="1")
    script = BLOCKER.format(blocked=sorted(blocked)) + code
    return subprocess.run([sys.executable, "-c", script, *args], check=False, cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
