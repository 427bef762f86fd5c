"""Hostile libraries and bundles (issue 11), written into temp folders, and a way to run whatever
reads them in a subprocess with a hard memory and time budget, measuring what it really used.

Each builder writes one member of a family of inputs that once crashed or froze a reader: a
nesting that overflows the C stack, aliases that expand to billions of values, a file or an
archive that is (or says it is) far larger than a library can be, images that explode when
decoded, names and links that no file system check expected. The tests then assert the outcome a
user would notice: a refusal that names the problem, within seconds and a bounded amount of memory.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import os
import signal
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from library_factory import base_guides, dump_yaml, write_library

REPO = Path(__file__).resolve().parent.parent
PYTHON = REPO / ".venv" / "bin" / "python"
ADDRESS_SPACE = 512 * 1024**2  # what each reader gets in the tests: an alias bomb once took gigabytes


# --- running a reader with a budget ------------------------------------------------------------


@dataclass
class Bounded:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float  # the child's peak resident set, from the kernel's rusage for that child
    timed_out: bool

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


# Starts the command for run_bounded from a fresh, small Python: a child's peak RSS (ru_maxrss)
# includes the memory of the process it was forked from, so forking it from pytest (hundreds of MB
# late in the suite) would measure pytest. The launcher sets the limit in the child, waits for it with
# wait4 and writes that child's own figures to a file.
LAUNCHER = """
import json, os, resource, sys
limit, report, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
pid = os.fork()
if pid == 0:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.execvp(argv[0], argv)
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as f:
    json.dump({"returncode": os.waitstatus_to_exitcode(status), "peak_kb": usage.ru_maxrss}, f)
"""


def run_bounded(argv: list[str], *, timeout: float = 20.0, address_space: int = ADDRESS_SPACE,
                env: dict[str, str] | None = None) -> Bounded:
    """Run argv with RLIMIT_AS = address_space, killed after `timeout` seconds, and report its own
    peak RSS (from wait4 in a small launcher, see LAUNCHER)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           **(env or {})}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "rusage.json"
        started = time.monotonic()
        proc = subprocess.Popen([str(PYTHON), "-c", LAUNCHER, str(address_space), str(report), *argv],
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        try:
            proc.wait(timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the launcher and the command it started
            proc.wait()
            timed_out = True
        seconds = time.monotonic() - started
        figures = json.loads(report.read_text()) if report.exists() else {"returncode": proc.returncode, "peak_kb": 0}
        out.seek(0)
        err.seek(0)
        return Bounded(figures["returncode"], out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                       seconds, figures["peak_kb"] / 1024, timed_out)


# The contract's reader, as `kiosk import`, publish and the kiosk's USB import all call it: prints
# "VALID <n>" or one "PROBLEM <text>" line per problem; anything else (a traceback, a signal) is a bug.
OPEN_LIBRARY = """
import sys
from contract.bundle import open_library
from contract.guides import LibraryInvalid
try:
    library = open_library(sys.argv[1])
except LibraryInvalid as exc:
    for p in exc.problems:
        print("PROBLEM", str(p)[:2000])
    sys.exit(1)
print("VALID", len(library.guides))
"""


def open_library_bounded(path: Path, timeout: float = 20.0) -> Bounded:
    return run_bounded([str(PYTHON), "-c", OPEN_LIBRARY, str(path)], timeout=timeout)


# Reads one path a line; forks a child per path (RLIMIT_AS, RLIMIT_CPU, a wall-clock alarm) that
# runs open_library; answers one JSON line: how the child ended, its peak RSS, its time, its verdict.
FORK_WORKER = r"""
import json, os, resource, signal, sys, time
from contract.bundle import open_library
from contract.guides import LibraryInvalid
address_space, cpu = int(sys.argv[1]), int(sys.argv[2])
for line in sys.stdin:
    path = line.rstrip("\n")
    read, write = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        signal.alarm(cpu * 5)
        try:
            library = open_library(path)
            verdict = f"VALID {len(library.guides)}"
        except LibraryInvalid as exc:
            verdict = "INVALID " + "\n".join("PROBLEM " + str(p)[:2000] for p in exc.problems[:50])
        except BaseException as exc:
            verdict = f"CRASH {type(exc).__name__}: {str(exc)[:300]}"
        os.write(write, verdict.encode("utf-8", "replace"))
        os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    _, status, usage = os.wait4(pid, 0)
    print(json.dumps({"status": os.waitstatus_to_exitcode(status), "peak_mb": usage.ru_maxrss / 1024,
                      "seconds": time.monotonic() - started, "verdict": b"".join(chunks).decode()}), flush=True)
"""


class ForkJudge:
    """One worker that has imported the contract, forking a child per library to read: each
    input still runs in a process of its own with its own limits (ADDRESS_SPACE, `cpu_seconds`
    of CPU), for milliseconds instead of a Python start."""

    def __init__(self, cpu_seconds: int = 2):
        path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        self.proc = subprocess.Popen([str(PYTHON), "-c", FORK_WORKER, str(ADDRESS_SPACE), str(cpu_seconds)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONPATH": path})

    def read(self, path: Path) -> dict:
        """{status, peak_mb, seconds, verdict}: verdict is VALID n, INVALID + problem lines, or CRASH."""
        self.proc.stdin.write(f"{path}\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


# --- guide files -------------------------------------------------------------------------------

GUIDE_HEAD = """\
id: {gid}
title: A hostile guide
start: s1
steps:
  s1:
    text: Hello
    end: resolved
"""


def library_with(root: Path, files: dict[str, str | bytes]) -> Path:
    """The factory's valid library plus (or with some replaced by) `files`."""
    guides: dict = base_guides()
    guides.update(files)
    return write_library(root, guides)


def nested_yaml(depth: int = 50_000) -> str:
    """A guide whose title is a list nested `depth` deep: ~25,000 levels overflowed libyaml's C stack."""
    return GUIDE_HEAD.format(gid="deep") + "keywords: " + "[" * depth + "]" * depth + "\n"


def alias_bomb() -> str:
    """Billion laughs: nine levels of ten aliases, 10^9 strings once expanded, in under 1 KB."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, 10):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]")
    # formatted into a problem message ("language '...' is not a language code") it took gigabytes
    return "\n".join(lines) + "\n" + GUIDE_HEAD.format(gid="bomb") + "language: *a9\n"


def sparse_file(path: Path, size: int = 3 * 10**9) -> Path:
    """A file that says it is `size` bytes (a hole on disk: costs nothing to make)."""
    with path.open("wb") as f:
        f.truncate(size)
    return path


def long_ids() -> str:
    """A guide id and a step id of 120 characters: the server keeps 80 of an event's guide and step."""
    gid, sid = "g" * 120, "s" * 120
    return f"id: {gid}\ntitle: Long\nstart: {sid}\nsteps:\n  {sid}:\n    text: Hello\n    end: resolved\n"


def text_as_written() -> str:
    """YAML 1.1 would read these as numbers: 0800 as 800 (octal to some), 1.50 as 1.5."""
    return ("id: numbers\ntitle: 0800\nstart: s1\nsteps:\n  s1:\n    text: 1.50\n    choices:\n"
            "      - {label: 0800, next: s2}\n      - {label: 2026-01-02, next: s2}\n"
            "  s2:\n    text: 1e3\n    end: resolved\n")


def mutual_jumps() -> dict[str, str]:
    """Two guides whose only ways on are jumps to each other: no end reachable across the jumps."""
    ping = ("id: ping\ntitle: Ping\nstart: a\nsteps:\n  a:\n    text: To pong\n    choices:\n"
            "      - {label: Pong, guide: pong}\n")
    pong = ("id: pong\ntitle: Pong\nstart: b\nsteps:\n  b:\n    text: To ping\n    choices:\n"
            "      - {label: Ping, guide: ping}\n")
    return {"ping.yaml": ping, "pong.yaml": pong}


def several_problems() -> str:
    """A missing step, an unreachable step and a trap loop in one guide: one pass must name all three."""
    return ("id: many\ntitle: Many\nstart: a\nsteps:\n"
            "  a:\n    text: Start\n    choices:\n      - {label: Gone, next: missing}\n"
            "      - {label: Loop, next: b}\n      - {label: Done, next: done}\n"
            "  b:\n    text: Loop one\n    choices:\n      - {label: On, next: c}\n"
            "  c:\n    text: Loop two\n    choices:\n      - {label: Back, next: b}\n"
            "  done:\n    text: Done\n    end: resolved\n"
            "  orphan:\n    text: Nobody comes here\n    end: resolved\n")


# --- images ------------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(side: int = 20_000) -> bytes:
    """A real, complete PNG of side x side black pixels (1 bit each): ~60 KB on disk, 1.6 GB as
    RGBA once decoded. Rows are compressed in one stream, a row at a time."""
    comp = zlib.compressobj(9)
    row = b"\x00" * (1 + (side + 7) // 8)
    parts = [comp.compress(row * 1000) for _ in range(side // 1000)] + [comp.compress(row * (side % 1000))]
    idat = b"".join(parts) + comp.flush()
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
            + _chunk(b"IDAT", idat) + _chunk(b"IEND", b""))


FAKE_PNG = b"\x89PNG\r\n\x1a\n" + b"this is no picture at all, only its first eight bytes are" * 20
FAKE_JPEG = b"\xff\xd8\xff\xe0" + b"not a jpeg" * 50


def library_with_image(root: Path, data: bytes, name: str = "images/belt.png") -> Path:
    """The factory's library with the image the first guide shows replaced by `data`."""
    lib = write_library(root)
    (lib / name).write_bytes(data)
    return lib


# --- links -------------------------------------------------------------------------------------


def library_with_image_loop(root: Path) -> Path:
    """images/belt.png is a link to itself, and images/spin a folder link to its own folder."""
    lib = write_library(root)
    (lib / "images" / "belt.png").unlink()
    os.symlink("belt.png", lib / "images" / "belt.png")
    os.symlink(".", lib / "images" / "spin")
    return lib


def library_with_outside_link(root: Path) -> Path:
    """A .yaml in the library that is a link to a guide file outside it."""
    lib = write_library(root / "library")
    outside = root / "outside.yaml"
    outside.write_text(GUIDE_HEAD.format(gid="outside"), encoding="utf-8")
    os.symlink(outside, lib / "outside.yaml")
    return lib


# --- bundles -----------------------------------------------------------------------------------


def zip_library(lib: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(lib.rglob("*")):
            if p.is_file() and not p.is_symlink():
                zf.write(p, p.relative_to(lib).as_posix())
    return out


def _deflated_zeros(megabytes: int) -> tuple[bytes, int]:
    """A raw deflate stream of `megabytes` MiB of zero bytes, and their CRC-32, made in a blink:
    one MiB is compressed once (a sync flush ends it on a byte boundary and it refers to nothing
    before it), repeated, and closed with an empty final block."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(b"\x00" * (1 << 20)) + comp.flush(zlib.Z_SYNC_FLUSH)
    crc, zeros = 0, b"\x00" * (1 << 20)
    for _ in range(megabytes):
        crc = zlib.crc32(zeros, crc)
    return block * megabytes + zlib.compressobj(9, zlib.DEFLATED, -15).flush(), crc


def _append_raw_entry(out: Path, name: str, data: bytes, file_size: int, crc: int) -> None:
    """Add a deflated entry whose headers say `file_size` and `crc`, whatever `data` holds."""
    with zipfile.ZipFile(out, "a") as zf:
        info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.file_size, info.compress_size, info.CRC = file_size, len(data), crc
        info.header_offset = zf.fp.tell()
        zf.fp.write(info.FileHeader(False))
        zf.fp.write(data)
        zf.filelist.append(info)
        zf.NameToInfo[info.filename] = info
        zf.start_dir = zf.fp.tell()
        zf._didModify = True


def zip_bomb(out: Path, megabytes: int = 200) -> Path:
    """A valid library plus one honest entry of `megabytes` MiB of zeros (~200 KB compressed):
    a 459 KB zip once made a reader hold 951 MB."""
    zip_library(write_library(out.parent / (out.stem + "-lib")), out)
    data, crc = _deflated_zeros(megabytes)
    _append_raw_entry(out, "images/huge.png", data, megabytes << 20, crc)
    return out


def lying_zip(out: Path, megabytes: int = 200, claimed: int = 100) -> Path:
    """A valid library plus an entry whose headers (local and central) say it holds `claimed`
    bytes, while its deflate stream inflates to `megabytes` MiB."""
    zip_library(write_library(out.parent / (out.stem + "-lib")), out)
    data, _ = _deflated_zeros(megabytes)
    _append_raw_entry(out, "images/liar.png", data, claimed, 0)
    return out


def _empty_file_header(name: str) -> bytes:
    """One ustar header block for an empty regular file (what tarfile writes, made directly:
    tarfile itself needs seconds for 100,000 of them)."""
    h = bytearray(512)
    h[0:len(name)] = name.encode()
    h[100:108], h[108:116], h[116:124] = b"0000644\0", b"0000000\0", b"0000000\0"
    h[124:136], h[136:148], h[148:156] = b"00000000000\0", b"15000000000\0", b" " * 8
    h[156:157], h[257:263], h[263:265] = b"0", b"ustar\0", b"00"
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def many_entries_tar_gz(out: Path, entries: int = 100_001) -> Path:
    """A valid library plus `entries` empty files: under 1 MB as .tar.gz, once 7 s to unpack."""
    out.write_bytes(_many_entries_bytes(entries))
    return out


@functools.cache  # made once per test process, shared by the test modules that send it
def _many_entries_bytes(entries: int) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        lib = write_library(Path(tmp) / "lib")
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tf:
            tf.add(lib, arcname=".")
    head = raw.getvalue().rstrip(b"\0")
    head += b"\0" * (-len(head) % 512)
    body = b"".join(_empty_file_header(f"junk/{n}.txt") for n in range(entries))
    return gzip.compress(head + body + b"\0" * 1024, compresslevel=1, mtime=0)


def tar_gz_bomb(out: Path, megabytes: int = 400) -> Path:
    """A .tar.gz of ~400 KB holding one member of `megabytes` MiB of zeros: reading past it, to the
    next header, means inflating all of it. (Its gzip CRC is left 0: no reader should get that far.)"""
    info = tarfile.TarInfo("images/huge.png")
    info.size = megabytes << 20
    head = info.tobuf(format=tarfile.GNU_FORMAT)
    first = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = first.compress(head) + first.flush(zlib.Z_SYNC_FLUSH)
    zeros = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = zeros.compress(b"\x00" * (1 << 20)) + zeros.flush(zlib.Z_SYNC_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15)
    data += block * megabytes + end.compress(b"\x00" * 1024) + end.flush()
    out.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + data + struct.pack("<II", 0, (megabytes << 20) & 0xFFFFFFFF))
    return out


def non_utf8_tar(out: Path) -> Path:
    """A valid library plus a member whose name holds the byte 0xff (no UTF-8 text)."""
    lib = write_library(out.parent / (out.stem + "-lib"))
    with tarfile.open(out, "w:gz", encoding="utf-8", errors="surrogateescape", format=tarfile.GNU_FORMAT) as tf:
        tf.add(lib, arcname=".")
        data = b"id: x\n"
        info = tarfile.TarInfo("caf\udcff.yaml")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return out


def bundle_of(lib: Path, out: Path) -> Path:
    """A .tar.gz of a library folder (links kept as links)."""
    with tarfile.open(out, "w:gz") as tf:
        tf.add(lib, arcname=".")
    return out


def guide_yaml(doc: dict) -> str:
    return dump_yaml(doc)


if __name__ == "__main__":  # python tests/hostile_inputs.py DIR: write every payload there to try by hand
    target = Path(sys.argv[1])
    target.mkdir(parents=True, exist_ok=True)
    library_with(target / "nested", {"deep.yaml": nested_yaml()})
    library_with(target / "alias-bomb", {"bomb.yaml": alias_bomb()})
    many_entries_tar_gz(target / "many.tar.gz")
    print("written to", target)
