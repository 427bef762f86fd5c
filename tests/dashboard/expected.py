"""The dashboard's numbers computed in plain Python from the generated events: an independent
check on server/stats.py's SQL (same definitions, docs/dashboard.md, none of the same code)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any


def server_time(e: dict[str, Any]) -> float:
    return e["kiosk_time"] + (e.get("server_time_offset") or 0.0)


@dataclass
class Period:
    start: date
    end: date  # inclusive
    site: str | None = None
    lang: str | None = None

    def query(self) -> str:
        q = f"start={self.start.isoformat()}&end={self.end.isoformat()}"
        if self.site:
            q += "&site=" + self.site.replace(" ", "+")
        if self.lang:
            q += f"&lang={self.lang}"
        return q


def select(events: list[dict], period: Period, locations: dict[str, str], *types: str) -> list[dict]:
    t0 = datetime(period.start.year, period.start.month, period.start.day, tzinfo=UTC).timestamp()
    t1 = datetime(period.end.year, period.end.month, period.end.day, tzinfo=UTC).timestamp() + 86400
    out = []
    for e in events:
        if types and e["type"] not in types:
            continue
        if not t0 <= server_time(e) < t1:
            continue
        if period.site and locations.get(e["device"]) != period.site:
            continue
        if period.lang and e["lang"] != period.lang:
            continue
        out.append(e)
    return out


def overview(events: list[dict], period: Period, locations: dict[str, str]) -> dict[str, Any]:
    def pick(*types):
        return select(events, period, locations, *types)

    ever_outcome = {e["session"] for e in events if e["type"] == "outcome"}
    ratings = [e["data"]["rating"] for e in pick("feedback") if e["data"].get("rating") is not None]
    per_day = Counter(datetime.fromtimestamp(server_time(e), UTC).date() for e in pick("session_start"))
    return {
        "sessions": len(pick("session_start")),
        "guides-started": len({(e["session"], e["guide"]) for e in pick("step_view")}),
        "resolved": len({e["session"] for e in pick("outcome") if e["data"]["outcome"] == "resolved"}),
        "escalated": len({e["session"] for e in pick("outcome") if e["data"]["outcome"] == "escalate"}),
        "walked-away": len({e["session"] for e in pick("idle_timeout")
                            if e["step"] is not None and e["session"] not in ever_outcome}),
        "abandoned-home": len({e["session"] for e in pick("idle_timeout") if e["step"] is None}),
        "rating": f"{sum(ratings) / len(ratings):.2f}" if ratings else "–",
        "ratings": len(ratings),
        "handoffs": len(pick("handoff_shown")),
        "handoffs-opened": len({e["session"] for e in pick("handoff_opened")}),
        "per_day": per_day,
    }


def guide_versions(events: list[dict], period: Period, locations: dict[str, str], guide: str) -> dict[int, dict]:
    out: dict[int, dict] = {}
    for e in select(events, period, locations, "step_view", "outcome"):
        if e["guide"] != guide:
            continue
        row = out.setdefault(e["guide_version"], {"sessions": set(), "resolved": set(), "escalated": set()})
        if e["type"] == "step_view":
            row["sessions"].add(e["session"])
        elif e["data"]["outcome"] == "resolved":
            row["resolved"].add(e["session"])
        else:
            row["escalated"].add(e["session"])
    return {v: {k: len(s) for k, s in row.items()} for v, row in out.items()}


def arrows(events: list[dict], period: Period, locations: dict[str, str], guide: str, version: int) -> dict[str, int]:
    took: dict[str, set] = {}
    for e in select(events, period, locations, "choice"):
        if e["guide"] == guide and e["guide_version"] == version:
            took.setdefault(f"{e['step']}/{e['data']['index']}", set()).add(e["session"])
    return {k: len(v) for k, v in took.items()}


def feedback(events: list[dict], period: Period, locations: dict[str, str], *, guide: str | None = None,
             rating: int | None = None, device: str | None = None) -> list[dict]:
    return [e for e in select(events, period, locations, "feedback")
            if (guide is None or e["guide"] == guide) and (rating is None or e["data"].get("rating") == rating)
            and (device is None or e["device"] == device)]


def searches(events: list[dict], period: Period, locations: dict[str, str]) -> tuple[int, int, list, list]:
    found = select(events, period, locations, "search")
    hits = Counter(e["data"]["query"].lower() for e in found if e["data"]["hits"] > 0)
    misses = Counter(e["data"]["query"].lower() for e in found if e["data"]["hits"] == 0)

    def top(counter: Counter) -> list[tuple[str, int]]:
        return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:25]

    return len(found), sum(misses.values()), top(hits), top(misses)
