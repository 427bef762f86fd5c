"""Numbers and dates in a route's path or query string, read by contract.params' one strict reader
(ASCII digits, bounded ranges): anything else is a 4xx naming what was expected, never a 500 from a
value that Python's int() or SQLite cannot take.

Routes declare `Annotated[int, Query()/Path(), whole(lo, hi)]`; the dashboard's filter form reads
its dates with `query_date`. A new numeric parameter uses one of these, never a bare `int`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import HTTPException
from pydantic import BeforeValidator

from contract.params import FIRST_DAY, LAST_DAY, BadValue, calendar_date, whole_number

MAX_INT = 2**31 - 1  # what every integer column holds


def whole(lo: int, hi: int, what: str = "the value") -> BeforeValidator:
    """The validator of a whole-number parameter from lo to hi: text must be ASCII digits."""

    def check(value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi:
            return value  # already a number (a default)
        return whole_number(value if isinstance(value, str) else repr(value), lo, hi, what)

    return BeforeValidator(check)


def _query(params, name: str, read: Callable[[str], Any]) -> Any:
    """`read` of a query parameter, None when absent or empty; 400 naming it when it is anything else."""
    text = params.get(name)
    if not text:
        return None
    try:
        return read(text)
    except BadValue as exc:
        raise HTTPException(400, str(exc)) from None


def query_date(params, name: str, default: date) -> date:
    """A YYYY-MM-DD query parameter, `default` when absent or empty; 400 when it is anything else."""
    day = _query(params, name, lambda text: calendar_date(text, FIRST_DAY, LAST_DAY, f"'{name}'"))
    return default if day is None else day


def query_whole(params, name: str, lo: int, hi: int) -> int | None:
    """A whole-number query parameter, None when absent or empty; 400 when it is anything else."""
    return _query(params, name, lambda text: whole_number(text, lo, hi, f"'{name}'"))
