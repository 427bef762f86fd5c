"""PostgreSQL databases for the tests, in the throwaway server that scripts/test-postgres starts
(its URL in KIOSK_TEST_PG_URL; started here when that is unset)."""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@functools.cache
def admin_url() -> str:
    """KIOSK_TEST_PG_URL, or the URL of the server scripts/test-postgres starts (once per run;
    remembered here rather than written into the process's environment)."""
    url = os.environ.get("KIOSK_TEST_PG_URL")
    if not url:
        url = subprocess.run([str(REPO / "scripts" / "test-postgres")], check=True, capture_output=True,
                             text=True).stdout.strip()
    return url


def recreate(name: str) -> str:
    """An empty database called `name` (dropped first if a previous run left it); its URL."""
    import psycopg

    admin = admin_url()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin.rsplit("/", 1)[0] + "/" + name


@contextlib.contextmanager
def fresh(label: str) -> Iterator[str]:
    """A new database of its own for the duration, dropped afterwards."""
    import psycopg

    name = f"ks_{label}_{uuid.uuid4().hex[:8]}".lower()
    url = recreate(name)
    try:
        yield url
    finally:
        with psycopg.connect(admin_url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def copy_of(template_url: str, label: str) -> Iterator[str]:
    """A new database that starts as a copy of the one at `template_url` (CREATE DATABASE ...
    TEMPLATE, a file-level copy: much faster than building the state again), dropped afterwards.
    Connections still open on the template (an engine left in a pool) are closed first, since
    PostgreSQL copies only a database nobody is connected to."""
    import psycopg

    template = template_url.rsplit("/", 1)[-1]
    name = f"ks_{label}_{uuid.uuid4().hex[:8]}".lower()
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = %s AND pid <> pg_backend_pid()", [template])
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield admin_url().rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
