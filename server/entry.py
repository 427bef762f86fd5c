"""The `kiosk-server` console command: check that this install has the [server] extra, then run
server.cli.

Every install has this command (console scripts cannot depend on an extra); where the server's
packages are missing it says which extra to install and exits 2 instead of a traceback.
"""

from __future__ import annotations

import sys

from contract.extras import run_command


def main(argv: list[str] | None = None) -> int:
    return run_command("server", "kiosk-server", "server.cli", argv)


if __name__ == "__main__":
    sys.exit(main())
