"""The store's own errors. The engine, the sync client and the `kiosk` command catch these, not
sqlite3's: what went wrong is the store's business to tell (a full disk, a damaged file), and how
the store keeps its data is nobody else's."""

from __future__ import annotations

import functools
import inspect
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

# SQLite's primary result codes (the low byte of an extended code such as SQLITE_IOERR_WRITE).
SQLITE_CORRUPT, SQLITE_FULL, SQLITE_NOTADB = 11, 13, 26


class StoreError(Exception):
    """The kiosk's database could not be read or written. The message is a sentence naming the
    file; the sqlite3 error it came from is the __cause__, for the log."""

    def __init__(self, message: str, path: Path | None = None):
        super().__init__(message)
        self.path = path


class StoreFull(StoreError):
    """The disk (or the database's size limit) is full: nothing more can be written until room is
    made. What was stored before is intact."""


class StoreCorrupt(StoreError):
    """The file is damaged or is not a kiosk database."""


def store_error(exc: sqlite3.Error, path: Path | None) -> StoreError:
    """The StoreError that says what `exc` means for the kiosk."""
    where = f"the kiosk's database {path}" if path else "the kiosk's database"
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code == SQLITE_FULL:
        return StoreFull(f"{where} could not be written: the disk is full ({exc})", path)
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return StoreCorrupt(f"{where} is damaged ({exc})", path)
    return StoreError(f"{where} could not be read or written ({exc})", path)


# sqlite3 errors that are bugs in the calling code (a closed connection, wrong parameters): they
# stay what they are instead of passing for a problem with the disk.
_BUGS = (sqlite3.ProgrammingError, sqlite3.InterfaceError)

F = TypeVar("F", bound=Callable[..., Any])


def raises_store_errors(method: F) -> F:
    """Wrap a method of an object with a `path` so that sqlite3 errors leave it as StoreError."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except _BUGS:
            raise
        except sqlite3.Error as exc:
            raise store_error(exc, getattr(self, "path", None)) from exc

    return wrapper  # type: ignore[return-value]


def public_methods_raise_store_errors(cls: type) -> type:
    """Class decorator: every public method defined in `cls` (and __init__) raises StoreError
    instead of sqlite3.Error. Properties and context managers handle their own errors."""
    for name, value in list(vars(cls).items()):
        if inspect.isfunction(value) and (name == "__init__" or not name.startswith("_")):
            setattr(cls, name, raises_store_errors(value))
    return cls
