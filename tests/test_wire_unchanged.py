"""The bytes a fleet depends on stay the same: guide documents and their sha256s, the signed
manifest, an event batch and a heartbeat as the sync client sends them (tests/wire/record.py).
A kiosk of the previous release verifies today's manifest signature only if these hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.wire.record import record

FIXTURES = Path(__file__).parent / "fixtures" / "wire"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict[str, bytes]:
    return record(tmp_path_factory.mktemp("wire"))


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir()))
def test_wire_bytes_unchanged(recorded, name):
    assert recorded[name] == (FIXTURES / name).read_bytes(), (
        f"{name} is no longer byte-identical to what the previous release sent or verified")
