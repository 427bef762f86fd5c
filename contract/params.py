"""Whole numbers and dates written in text that comes from outside (URL paths, query strings, form
fields, headers), read one strict way on both sides.

Python's own readers are generous: int() takes "1_000", " +1 " and Arabic-Indic digits, str.isdigit()
says yes to "²" which int() then refuses, date.fromisoformat() takes "2026-W01-1", and nothing
bounds the size of what comes out, so `?page=99999999999999999999` reached SQLite as an integer it
cannot hold. Here a number is 1 to 18 ASCII digits inside a stated range, and a date is
YYYY-MM-DD in ASCII digits inside a stated range; anything else is BadValue, with a sentence that
says what was expected, for a 4xx.
"""

from __future__ import annotations

import re
from datetime import date

_DIGITS = re.compile(r"[0-9]{1,18}", re.ASCII)
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)
# Dates the dashboard can be asked about: wide enough for any real data, narrow enough that a
# period's arithmetic (a day before, a year back) never leaves what datetime can hold.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


class BadValue(ValueError):
    """The text is not a value of the kind asked for; str() says what was expected."""


def whole_number(text: str, lo: int, hi: int, what: str = "the value") -> int:
    """`text` as a whole number from lo to hi, written with the digits 0-9 only."""
    if not isinstance(text, str) or not _DIGITS.fullmatch(text) or not lo <= int(text) <= hi:
        raise BadValue(f"{what} must be a whole number from {lo} to {hi}, written with the digits 0-9")
    return int(text)


def calendar_date(text: str, lo: date = FIRST_DAY, hi: date = LAST_DAY, what: str = "the date") -> date:
    """`text` as a date written YYYY-MM-DD (digits 0-9), from lo to hi."""
    match = _DATE.fullmatch(text) if isinstance(text, str) else None
    try:
        day = date(*(int(part) for part in match.groups())) if match else None
    except ValueError:  # a day that does not exist, such as 2026-02-30
        day = None
    if day is None or not lo <= day <= hi:
        raise BadValue(f"{what} must be a date written YYYY-MM-DD, from {lo.isoformat()} to {hi.isoformat()}")
    return day
