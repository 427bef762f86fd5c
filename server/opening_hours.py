"""A rollout group's opening hours, and how much of a stretch of time fell within them.

A kiosk in a mall that closes at 22:00 is not "stale" at midnight, and a touch panel that nobody
used overnight is not dead: the alerts count minutes and hours only while the kiosk's group is open
(server/alerts/sources.py). The hours are read in the site's time zone (server setting
`time_zone`), so daylight saving time moves them with the clocks on the wall.

The format, one group's `opening_hours` (`kiosk-server group hours GROUP SPEC`):
    ""                                  always open (the default)
    "08:00-22:00"                       every day
    "mon-fri 07:30-20:00; sat 09:00-18:00"   per day; a day not named is closed
    "fri,sat 18:00-02:00"               a span past midnight belongs to the day it starts on
    "mon-sun 06:00-11:00, 15:00-23:00"  several spans a day
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
MAX_LOOKBACK_DAYS = 62  # since_open(): how far back a closed-all-week schedule is searched


class HoursInvalid(ValueError):
    """The text is not opening hours; str() says what is wrong, in one sentence."""


@dataclass(frozen=True)
class OpeningHours:
    """Spans per weekday (0 = Monday): (start minute, end minute), end may pass 24:00."""

    spans: tuple[tuple[tuple[int, int], ...], ...] | None  # None: always open
    text: str = ""

    @property
    def always(self) -> bool:
        return self.spans is None

    def intervals(self, t0: float, t1: float, tz: ZoneInfo) -> list[tuple[float, float]]:
        """The open stretches within [t0, t1], as unix seconds, oldest first."""
        if t1 <= t0:
            return []
        if self.spans is None:
            return [(t0, t1)]
        out = []
        first = datetime.fromtimestamp(t0, tz).date() - timedelta(days=1)  # yesterday's span may run into today
        last = datetime.fromtimestamp(t1, tz).date()
        day = first
        while day <= last:
            for start, end in self.spans[day.weekday()]:
                a, b = _at(day, start, tz), _at(day, end, tz)
                a, b = max(a, t0), min(b, t1)
                if b > a:
                    out.append((a, b))
            day += timedelta(days=1)
        return sorted(out)

    def open_seconds(self, t0: float, t1: float, tz: ZoneInfo) -> float:
        return sum(b - a for a, b in self.intervals(t0, t1, tz))

    def is_open(self, t: float, tz: ZoneInfo) -> bool:
        return self.open_seconds(t - 1, t, tz) > 0

    def since_open(self, now: float, seconds: float, tz: ZoneInfo) -> float | None:
        """The moment from which `seconds` of opening time have passed until `now`; None when the
        group has not been open that long in the last MAX_LOOKBACK_DAYS days."""
        if self.spans is None:
            return now - seconds
        need, end = seconds, now
        for _ in range(MAX_LOOKBACK_DAYS):
            start = end - 86400
            for a, b in reversed(self.intervals(start, end, tz)):
                if b - a >= need:
                    return b - need
                need -= b - a
            end = start
        return None


def _at(day: date, minute: int, tz: ZoneInfo) -> float:
    extra, minute = divmod(minute, 24 * 60)
    when = datetime.combine(day + timedelta(days=extra), time(minute // 60, minute % 60), tzinfo=tz)
    return when.timestamp()


def _days(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        part = part.strip().lower()
        if "-" in part:
            a, _, b = part.partition("-")
            if a.strip() not in DAYS or b.strip() not in DAYS:
                raise HoursInvalid(f"'{part}' is not a range of days such as mon-fri")
            i, j = DAYS.index(a.strip()), DAYS.index(b.strip())
            out.extend(range(i, j + 1) if i <= j else [*range(i, 7), *range(j + 1)])
        elif part in DAYS:
            out.append(DAYS.index(part))
        else:
            raise HoursInvalid(f"'{part}' is not a day: use {', '.join(DAYS)}")
    return out


def _span(text: str) -> tuple[int, int]:
    m = _SPAN.match(text.strip())
    if not m:
        raise HoursInvalid(f"'{text.strip()}' is not a span of hours such as 08:00-22:00")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise HoursInvalid(f"'{text.strip()}' names a time that does not exist")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end == start:
        raise HoursInvalid(f"'{text.strip()}' opens and closes at the same minute")
    return start, end if end > start else end + 24 * 60


def parse(text: str | None) -> OpeningHours:
    """Opening hours from their text; raises HoursInvalid with one sentence."""
    text = (text or "").strip()
    if not text:
        return OpeningHours(None)
    spans: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    for clause in text.split(";"):
        clause = clause.strip()
        if not clause:
            continue
        head, _, rest = clause.partition(" ")
        if head[:1].isdigit():
            days, rest = list(range(7)), clause
        else:
            days = _days(head)
        if not rest.strip():
            raise HoursInvalid(f"'{clause}' names days but no hours")
        for span in rest.split(","):
            for day in days:
                spans[day].append(_span(span))
    return OpeningHours(tuple(tuple(sorted(s)) for s in spans), text)


def check(text: str | None) -> str | None:
    """None when the text is usable opening hours, else the sentence saying why not."""
    try:
        parse(text)
    except HoursInvalid as exc:
        return str(exc)
    return None
