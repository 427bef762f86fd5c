"""How the dashboard writes times, sizes and shares (Jinja filters, and the CSV export's times).

Times of day are written in the site's time zone (server setting `time_zone`): render() hands the
zone to every page, and the `when` filter reads it there. Ages ("3 min ago") stay relative.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, tzinfo


def when(ts: float | None, zone: tzinfo = UTC) -> str:
    """A moment as the site's clocks showed it: 2026-12-02 14:05."""
    return datetime.fromtimestamp(ts, zone).strftime("%Y-%m-%d %H:%M") if ts else "never"


def iso_time(ts: float | None, zone: tzinfo = UTC) -> str:
    """A moment for a CSV: ISO 8601 with its UTC offset, 2026-12-02T14:05:09+04:00 (UTC: ...Z), which
    a spreadsheet or a program reads without knowing the site, and which keeps the two 01:30s of
    a day the clocks go back apart."""
    if not ts:
        return ""
    text = datetime.fromtimestamp(ts, zone).isoformat(timespec="seconds")
    return text.removesuffix("+00:00") + "Z" if zone is UTC else text


def zone_label(zone: tzinfo, ts: float | None = None) -> str:
    """The zone as a heading says it: "Asia/Dubai, UTC+04:00", "UTC"."""
    name = str(zone)
    if name == "UTC":
        return name
    offset = datetime.fromtimestamp(ts or time.time(), zone).strftime("%z")
    return f"{name}, UTC{offset[:3]}:{offset[3:]}"


def ago(ts: float | None) -> str:
    if not ts:
        return "never"
    s = max(0, time.time() - ts)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            return f"{int(s // size)} {unit} ago"
    return f"{int(s)} s ago"


def nbytes(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit in ("B", "KB") else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"
