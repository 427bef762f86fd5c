"""Hostile bundles sent to POST /api/v1/publish on the real server (loopback, SQLite): each is
refused with 422 naming the problem, quickly, the server stays up and its memory stays bounded,
and nothing is published. (The same inputs through the other entries: tests/test_hostile_libraries.py.)"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hostile_inputs import (
    FAKE_PNG,
    alias_bomb,
    bundle_of,
    library_with,
    library_with_image,
    library_with_image_loop,
    long_ids,
    lying_zip,
    many_entries_tar_gz,
    nested_yaml,
    non_utf8_tar,
    png_bomb,
    zip_bomb,
)
from server_testkit import prepare, serving_copy, zip_bytes

MAX_GROWTH_MB = 100  # the server's peak RSS may grow this much over all the hostile uploads together
MAX_S = 10.0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    prepared = prepare(tmp_path_factory.mktemp("template"), str(tmp_path_factory.mktemp("sqlite") / "server.db"),
                       devices=())
    with serving_copy(prepared, tmp_path_factory.mktemp("server"), "hostile") as srv:
        yield srv


def peak_mb(srv) -> float:
    status = Path(f"/proc/{srv.process.proc.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024


def payloads(tmp: Path) -> dict[str, tuple[str, bytes, str]]:
    """name -> (upload file name, bytes, words the refusal must contain)."""
    def zipped(folder: Path) -> bytes:
        return zip_bytes(folder)

    return {
        "nested": ("lib.zip", zipped(library_with(tmp / "nested", {"deep.yaml": nested_yaml(50_000)})),
                   "nested too deeply"),
        "alias bomb": ("lib.zip", zipped(library_with(tmp / "alias", {"bomb.yaml": alias_bomb()})), "alias"),
        "lying zip": ("lib.zip", lying_zip(tmp / "lying.zip").read_bytes(), "not a readable"),
        "zip bomb": ("lib.zip", zip_bomb(tmp / "bomb.zip").read_bytes(), "more than 20 MB"),
        "100,001 entries": ("lib.tar.gz", many_entries_tar_gz(tmp / "many.tar.gz").read_bytes(), "entries"),
        "png bomb": ("lib.zip", zipped(library_with_image(tmp / "pngbomb", png_bomb())), "20000x20000"),
        "fake png": ("lib.zip", zipped(library_with_image(tmp / "fakepng", FAKE_PNG)), "cannot be decoded"),
        "long ids": ("lib.zip", zipped(library_with(tmp / "long", {"long.yaml": long_ids()})),
                     "at most 80 characters"),
        "non-UTF-8 tar name": ("lib.tar.gz", non_utf8_tar(tmp / "nonutf8.tar.gz").read_bytes(), "not UTF-8"),
        "link loop in a tar": ("lib.tar.gz", bundle_of(library_with_image_loop(tmp / "loop"),
                                                       tmp / "loop.tar.gz").read_bytes(), "unsafe entry"),
    }


def test_publish_refuses_each_hostile_bundle_by_name(server, tmp_path):
    with server.staff() as staff:
        before = staff.get("/api/v1/content/versions").json()["versions"]
        start_mb = peak_mb(server)
        for kind, (name, body, words) in payloads(tmp_path).items():
            started = time.monotonic()
            r = staff.post("/api/v1/publish", files={"library": (name, body, "application/octet-stream")})
            took = time.monotonic() - started
            assert r.status_code == 422, f"{kind}: {r.status_code} {r.text[:2000]}"
            problems = r.json()["problems"]
            assert any(words in p["text"] for p in problems), f"{kind}: {problems[:5]}"
            assert all(len(p["text"]) < 1000 for p in problems), kind
            assert took < MAX_S, f"{kind} took {took:.1f} s"
            assert server.process.proc.poll() is None, f"the server died on {kind}"
            assert staff.get("/healthz").status_code == 200
        grew = peak_mb(server) - start_mb
        assert grew < MAX_GROWTH_MB, f"the server's peak RSS grew {grew:.0f} MB"
        assert staff.get("/api/v1/content/versions").json()["versions"] == before  # nothing was published
