"""A library can arrive as a folder or as one bundle file (.zip, .tar.gz), e.g. on a USB stick or
uploaded to the server. Bundles are unpacked into a temporary folder with every path checked, so a
hostile archive cannot write outside it, and then validated like any folder."""

from __future__ import annotations

import contextlib
import functools
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from contract.guides import Library, LibraryInvalid, Problem
from contract.validation import load_library

MAX_BUNDLE_BYTES = 500_000_000  # unpacked; a library of guides and photos is far smaller
BUNDLE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")


def is_bundle(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(BUNDLE_SUFFIXES)


def _safe_name(name: str) -> PurePosixPath | None:
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        return None
    return p


def _entries(bundle: Path, stack: contextlib.ExitStack) -> Iterator[tuple[str, int, bool, Callable[[], bytes]]]:
    """(name, size, is a plain file, read) for every non-folder entry of a .zip or a tar."""
    if bundle.name.lower().endswith(".zip"):
        zf = stack.enter_context(zipfile.ZipFile(bundle))
        for info in zf.infolist():
            if not info.is_dir():
                yield info.filename, info.file_size, True, functools.partial(zf.read, info)
    else:
        tf = stack.enter_context(tarfile.open(bundle))  # noqa: SIM115 - closed by the caller's stack
        for member in tf:
            if not member.isdir():
                yield member.name, member.size, member.isfile(), lambda m=member: tf.extractfile(m).read()


def unpack(bundle: Path, into: Path) -> None:
    """Unpack `bundle` into `into`, refusing absolute paths, '..', links and oversized content."""
    total = 0
    bad = LibraryInvalid([Problem(bundle.name, "is not a readable .zip or .tar.gz library bundle")])
    try:
        with contextlib.ExitStack() as stack:
            for raw_name, size, is_file, read in _entries(bundle, stack):
                name = _safe_name(raw_name)
                if name is None:
                    raise LibraryInvalid([Problem(bundle.name, f"contains an unsafe path '{raw_name}'")])
                if not is_file:  # a link or device node could point anywhere once unpacked
                    raise LibraryInvalid([Problem(bundle.name, f"contains an unsafe entry '{raw_name}'")])
                total += size
                if total > MAX_BUNDLE_BYTES:
                    raise LibraryInvalid([Problem(bundle.name, "unpacks to more than 500 MB")])
                target = into / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(read())
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, KeyError) as exc:
        raise bad from exc


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
        entries = [p for p in root.iterdir()]
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
