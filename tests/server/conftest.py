"""Fixtures for the server tests: a database per test module (a SQLite file, and a fresh
PostgreSQL database in the server from KIOSK_TEST_PG_URL) prepared once as a template, and the
real server on loopback on a copy of it: one shared by a module's tests, and one of its own for
a test that changes the server's state in ways other tests could see."""

from __future__ import annotations

import pytest
from server_testkit import fresh_pg_database, prepare, serving_copy


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def db_url(request, tmp_path_factory):
    if request.param == "sqlite":
        yield str(tmp_path_factory.mktemp("sqlite") / "server.db")
    else:
        with fresh_pg_database(request.module.__name__.rsplit(".", 1)[-1]) as url:
            yield url


@pytest.fixture(scope="module")
def prepared(db_url, tmp_path_factory):
    """The library published, two devices and a staff login, as an operator would: never served,
    only copied."""
    return prepare(tmp_path_factory.mktemp("template"), db_url)


@pytest.fixture(scope="module")
def server(prepared, tmp_path_factory):
    """Shared by the module's tests."""
    with serving_copy(prepared, tmp_path_factory.mktemp("server"), "shared") as srv:
        yield srv


@pytest.fixture
def own_server(prepared, tmp_path, request):
    """A server of its own, in the prepared state, for a test that changes what the server holds."""
    with serving_copy(prepared, tmp_path, request.node.originalname[:20]) as srv:
        yield srv
