"""Fuzzing the library loader and the bundle reader (issue 11): whatever hypothesis makes of a
guide file or a bundle, open_library answers with a Library or a LibraryInvalid, each input in a
subprocess of its own with 512 MB of address space and 2 s of CPU: never a crash, a hang or a
MemoryError. CI runs it as its fuzz step (`pytest -m fuzz`).

The subprocesses are forked from one worker that has imported the contract already
(hostile_inputs.ForkJudge), so an input costs milliseconds, not a Python start."""

from __future__ import annotations

import gzip
import io
import random
import tarfile
import zipfile
from pathlib import Path

import pytest
from hostile_inputs import GUIDE_HEAD, ForkJudge, alias_bomb, nested_yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from library_factory import write_library

pytestmark = pytest.mark.fuzz

MAX_MB = 400

@pytest.fixture(scope="module")
def judge():
    with ForkJudge() as reader:

        def ask(path: Path) -> dict:
            answer = reader.read(path)
            where = f"{path}: {answer}"
            assert answer["status"] == 0, f"the reader died (signal or limit) on {where}"
            assert not answer["verdict"].startswith("CRASH"), where
            assert answer["verdict"].startswith(("VALID", "INVALID")), where
            assert answer["peak_mb"] < MAX_MB, where
            return answer

        yield ask


FUZZ = settings(max_examples=70, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# Pieces of YAML that once broke a reader, or that readers disagree on.
FRAGMENTS = ["[", "]", "{", "}", "- ", "? ", ": ", "&a ", "*a", "*b", "&b [*a, *a, *a]", "<<: *a", "!!binary ",
             "!!python/object/apply:os.system ['true']", "%YAML 1.1\n", "--- ", "...\n", "\t", "\x00", "\ufeff",
             "0800", "1.50", "0x1F", "-.inf", "~", "yes", "2026-01-02", "'", '"', "|\n  ", ">-\n  ", "#", "\n",
             "  ", "é", "\ud7ff", "x" * 200, "steps:\n", "choices:\n", "next: ", "guide: ", "image: images/",
             "../../etc/passwd", "end: resolved\n"]

def _spliced(base: str, piece: str, pos: int) -> str:
    at = pos % (len(base) + 1)
    return base[:at] + piece + base[at:]


guide_texts = st.one_of(
    st.builds(lambda k: nested_yaml(k), st.integers(1, 3000)),
    st.just(alias_bomb()),
    st.builds(lambda frags, pos: _spliced(GUIDE_HEAD.format(gid="fuzz"), "".join(frags), pos),
              st.lists(st.sampled_from(FRAGMENTS), max_size=40), st.integers(0, 10**6)),
    st.builds(lambda frag, n: GUIDE_HEAD.format(gid="fuzz") + "keywords: " + frag * n,
              st.sampled_from(["[", "{a: ", "- ", "&x [*x", "[*a, ", "? "]), st.integers(1, 5000)),
    st.text(max_size=400),
)


@FUZZ
@given(text=guide_texts)
def test_the_loader_answers_every_guide_file(judge, tmp_path_factory, text):
    lib = write_library(tmp_path_factory.mktemp("fuzz-yaml"))
    (lib / "fuzz.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    judge(lib)


def _library_zip(lib: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(lib.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(lib).as_posix())
    return buf.getvalue()


def _library_tar(lib: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        tf.add(lib, arcname=".")
    return buf.getvalue()


@pytest.fixture(scope="module")
def clean_bundles(tmp_path_factory):
    lib = write_library(tmp_path_factory.mktemp("fuzz-lib"))
    return {".zip": _library_zip(lib), ".tar.gz": _library_tar(lib)}  # the tar is mutated, then gzipped


mutations = st.lists(st.tuples(st.integers(0, 10**7), st.integers(0, 255), st.sampled_from(["set", "cut", "grow"])),
                     min_size=1, max_size=12)


def mutate(data: bytes, changes, seed: int) -> bytes:
    out = bytearray(data)
    rng = random.Random(seed)
    for pos, value, how in changes:
        if not out:
            break
        at = pos % len(out)
        if how == "set":
            out[at] = value
        elif how == "cut":
            del out[at:at + value]
        else:  # a header field made huge: four bytes of 0xff, or random ones
            out[at:at + 4] = b"\xff\xff\xff\xff" if value % 2 else rng.randbytes(4)
    return bytes(out)


@FUZZ
@given(kind=st.sampled_from([".zip", ".tar.gz"]), changes=mutations, seed=st.integers(0, 2**16))
def test_the_bundle_reader_answers_every_bundle(judge, clean_bundles, tmp_path_factory, kind, changes, seed):
    path = tmp_path_factory.mktemp("fuzz-bundle") / f"library{kind}"
    data = mutate(clean_bundles[kind], changes, seed)
    path.write_bytes(gzip.compress(data, mtime=0) if kind == ".tar.gz" else data)
    judge(path)
