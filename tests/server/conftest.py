"""Fixtures for the server tests: a database per test module (a SQLite file, and a fresh
PostgreSQL database in the server from KIOSK_TEST_PG_URL) and the real server on loopback."""

from __future__ import annotations

import pytest
from server_testkit import fresh_pg_database, prepare, start, stop


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def db_url(request, tmp_path_factory):
    if request.param == "sqlite":
        yield str(tmp_path_factory.mktemp("sqlite") / "server.db")
    else:
        with fresh_pg_database(request.module.__name__.rsplit(".", 1)[-1]) as url:
            yield url


@pytest.fixture(scope="module")
def server(db_url, tmp_path_factory):
    srv = start(prepare(tmp_path_factory.mktemp("server"), db_url), "--stale-after", "60")
    yield srv
    stop(srv)
    text = srv.log.read_text(errors="replace")
    assert "Traceback" not in text, f"the server logged an error:\n{text[-4000:]}"
