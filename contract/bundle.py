"""A library can arrive as a folder or as one bundle file (.zip, .tar.gz), e.g. on a USB stick or
uploaded to the server. Bundles are unpacked into a temporary folder with every path checked, so a
hostile archive cannot write outside it, and then validated like any folder.

An archive's headers are not believed about sizes: each entry is decompressed in chunks and its
bytes counted as they come, against MAX_IMAGE_BYTES for one entry (no file of a library is larger)
and MAX_LIBRARY_BYTES for all; the entries are counted against MAX_LIBRARY_ENTRIES before any is
unpacked (a zip's directory) or as they are read (a tar). Whatever an archive does wrong ends in a
LibraryInvalid that names the bundle, never in an exception of the archive library itself."""

from __future__ import annotations

import contextlib
import lzma
import os
import struct
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from contract.guides import Library, LibraryInvalid, Problem, shown
from contract.limits import MAX_IMAGE_BYTES, MAX_LIBRARY_BYTES, MAX_LIBRARY_ENTRIES
from contract.validation import load_library

MAX_BUNDLE_BYTES = MAX_LIBRARY_BYTES  # unpacked; a library of guides and photos is far smaller
BUNDLE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
CHUNK = 1 << 16
# What archive libraries raise on a damaged or hostile archive: each means "not a readable bundle".
_UNREADABLE = (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError, EOFError, OSError, KeyError,
               zlib.error, lzma.LZMAError, NotImplementedError, RuntimeError, ValueError, struct.error,
               UnicodeError, OverflowError, IndexError)


def is_bundle(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(BUNDLE_SUFFIXES)


def _refuse(bundle: Path, message: str) -> LibraryInvalid:
    return LibraryInvalid([Problem(bundle.name, message)])


def _too_large_entry(bundle: Path, name: str) -> LibraryInvalid:
    return _refuse(bundle, f"has an entry '{shown(name, 80)}' that unpacks to more than "
                           f"{MAX_IMAGE_BYTES // 1_000_000} MB; no file of a library is that large")


def _safe_name(name: str) -> PurePosixPath | None:
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        return None
    return p


def _zip_entry_count(bundle: Path) -> int:
    """The entry count a zip's end record states, read before zipfile parses its directory (which
    it would do whole, however large). A zip64 end record is refused: no library needs one."""
    with bundle.open("rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - (1 << 16) - 22))
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise zipfile.BadZipFile("no end of central directory record")
    entries, directory_size = struct.unpack("<HI", tail[at + 10:at + 16])
    if entries == 0xFFFF or directory_size == 0xFFFFFFFF or tail[max(0, at - 20):at - 16] == b"PK\x06\x07":
        raise zipfile.LargeZipFile("a zip64 archive; a library bundle never needs one")
    if directory_size > MAX_LIBRARY_ENTRIES * 1024:
        return MAX_LIBRARY_ENTRIES + 1  # a directory that large lists too many entries, or lies
    return entries


def _entries(bundle: Path, stack: contextlib.ExitStack) -> Iterator[tuple[str, bool, Callable[[], IO[bytes]]]]:
    """(name, is a plain file, open) for every non-folder entry of a .zip or a tar, counting every
    entry (folders too) against MAX_LIBRARY_ENTRIES."""
    if bundle.name.lower().endswith(".zip"):
        if _zip_entry_count(bundle) > MAX_LIBRARY_ENTRIES:
            raise _refuse(bundle, f"has more than {MAX_LIBRARY_ENTRIES:,} entries; a library is far smaller")
        zf = stack.enter_context(zipfile.ZipFile(bundle))
        infos = zf.infolist()
        if len(infos) > MAX_LIBRARY_ENTRIES:
            raise _refuse(bundle, f"has more than {MAX_LIBRARY_ENTRIES:,} entries; a library is far smaller")
        for info in infos:  # a header that says "too large" is believed; "small" is not
            if info.file_size > MAX_IMAGE_BYTES:
                raise _too_large_entry(bundle, info.filename)
        for info in infos:
            if not info.is_dir():
                yield info.filename, True, lambda i=info: zf.open(i)
    else:
        tf = stack.enter_context(tarfile.open(bundle, errors="surrogateescape"))  # noqa: SIM115 - closed by the stack
        # Headers first, counted before anything is written: 100,001 empty files once took 7 s
        # to unpack before a check could look at them.
        members, claimed = [], 0
        for member in tf:
            members.append(member)
            if len(members) > MAX_LIBRARY_ENTRIES:
                raise _refuse(bundle, f"has more than {MAX_LIBRARY_ENTRIES:,} entries; a library is far smaller")
            # Reading on to the next header means inflating this member's bytes: a header that
            # says "too large" is believed at once (one that says "small" is not: see _copy_capped).
            claimed += member.size
            if member.size > MAX_IMAGE_BYTES:
                raise _too_large_entry(bundle, member.name)
            if claimed > MAX_BUNDLE_BYTES:
                raise _refuse(bundle, f"unpacks to more than {MAX_BUNDLE_BYTES // 1_000_000} MB")
        for member in members:
            if not member.isdir():
                yield member.name, member.isfile(), lambda m=member: tf.extractfile(m)


def _copy_capped(source: IO[bytes], target: Path, bundle: Path, name: str, budget: list[int]) -> None:
    """Copy in chunks, counting the bytes that really come out of the decompressor."""
    written = 0
    with target.open("wb") as out:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            budget[0] += len(chunk)
            if written > MAX_IMAGE_BYTES:
                raise _too_large_entry(bundle, name)
            if budget[0] > MAX_BUNDLE_BYTES:
                raise _refuse(bundle, f"unpacks to more than {MAX_BUNDLE_BYTES // 1_000_000} MB")
            out.write(chunk)


def unpack(bundle: Path, into: Path) -> None:
    """Unpack `bundle` into `into`, refusing absolute paths, '..', links and oversized content."""
    budget = [0]
    try:
        with contextlib.ExitStack() as stack:
            for raw_name, is_file, open_entry in _entries(bundle, stack):
                if raw_name != raw_name.encode("utf-8", "surrogateescape").decode("utf-8", "replace"):
                    raise _refuse(bundle, f"contains a file name that is not UTF-8 text ('{shown(raw_name, 80)}')")
                name = _safe_name(raw_name)
                if name is None:
                    raise _refuse(bundle, f"contains an unsafe path '{shown(raw_name, 80)}'")
                if not is_file:  # a link or device node could point anywhere once unpacked
                    raise _refuse(bundle, f"contains an unsafe entry '{shown(raw_name, 80)}'")
                target = into / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with open_entry() as source:
                    _copy_capped(source, target, bundle, raw_name, budget)
    except LibraryInvalid:
        raise
    except _UNREADABLE as exc:
        reason = shown(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 120)
        raise _refuse(bundle, f"is not a readable .zip or .tar.gz library bundle ({reason})") from exc


def open_library(path: str | Path) -> Library:
    """Load and validate a library from a folder or a bundle file."""
    path = Path(path)
    if not path.exists():
        raise LibraryInvalid([Problem(str(path), "does not exist")])
    if path.is_dir():
        return load_library(path)
    if not is_bundle(path):
        raise LibraryInvalid([Problem(str(path), "is neither a library folder nor a .zip/.tar.gz bundle")])
    with tempfile.TemporaryDirectory(prefix="kiosk-bundle-") as tmp:
        unpack(path, Path(tmp))
        root = Path(tmp)
        # A bundle made by zipping the folder itself holds one top folder; look inside it.
        entries = list(root.iterdir())
        if len(entries) == 1 and entries[0].is_dir():
            root = entries[0]
        return load_library(root)


def make_bundle(folder: str | Path, out: str | Path) -> Path:
    """Pack a library folder into a .zip (what `kiosk-server publish` uploads)."""
    folder, out = Path(folder), Path(out)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(folder).as_posix())
    return out
