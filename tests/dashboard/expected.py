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


@dataclass
class SessionFacts:
    started_at: float
    lang: str | None
    device: str
    has_start: bool
    guides: set
    outcomes: dict  # (guide, version) -> set of outcome kinds
    any_outcome: bool
    timed_out_on_step: bool
    timed_out_home: bool
    ratings: list  # (guide, version, rating)
    handoffs: int
    opened: bool
    seen: set  # (guide, version) with a step view


def sessions(events: list[dict]) -> dict[tuple[str, str], SessionFacts]:
    """Each session's facts, straight from its events (events in any order)."""
    grouped: dict[tuple[str, str], list[dict]] = {}
    for e in events:
        grouped.setdefault((e["device"], e["session"]), []).append(e)
    out = {}
    for key, evs in grouped.items():
        starts = [e for e in evs if e["type"] == "session_start"]
        first = starts[0] if starts else min(evs, key=server_time)
        f = SessionFacts(server_time(first), first["lang"], key[0], bool(starts), set(), {}, False, False, False,
                         [], 0, False, set())
        for e in evs:
            kind = e["type"]
            if kind == "step_view":
                f.guides.add(e["guide"])
                f.seen.add((e["guide"], e["guide_version"]))
            elif kind == "outcome":
                f.any_outcome = True
                f.outcomes.setdefault((e["guide"], e["guide_version"]), set()).add(e["data"]["outcome"])
            elif kind == "idle_timeout":
                if e["step"] is None:
                    f.timed_out_home = True
                else:
                    f.timed_out_on_step = True
            elif kind == "feedback" and e["data"].get("rating") is not None:
                f.ratings.append((e["guide"], e["guide_version"], e["data"]["rating"]))
            elif kind == "handoff_shown":
                f.handoffs += 1
            elif kind == "handoff_opened":
                f.opened = True
        out[key] = f
    return out


def in_period(f: SessionFacts, period: Period, locations: dict[str, str]) -> bool:
    t0 = datetime(period.start.year, period.start.month, period.start.day, tzinfo=UTC).timestamp()
    t1 = datetime(period.end.year, period.end.month, period.end.day, tzinfo=UTC).timestamp() + 86400
    return (t0 <= f.started_at < t1 and (not period.site or locations.get(f.device) == period.site)
            and (not period.lang or f.lang == period.lang))


def overview(events: list[dict], period: Period, locations: dict[str, str]) -> dict[str, Any]:
    chosen = [f for f in sessions(events).values() if in_period(f, period, locations)]
    ratings = [r for f in chosen for _, _, r in f.ratings]
    per_day = Counter(datetime.fromtimestamp(f.started_at, UTC).date() for f in chosen if f.has_start)
    return {
        "sessions": sum(f.has_start for f in chosen),
        "guides-started": sum(len(f.guides) for f in chosen),
        "resolved": sum(any("resolved" in o for o in f.outcomes.values()) for f in chosen),
        "escalated": sum(any("escalate" in o for o in f.outcomes.values()) for f in chosen),
        "walked-away": sum(f.timed_out_on_step and not f.any_outcome for f in chosen),
        "abandoned-home": sum(f.timed_out_home for f in chosen),
        "rating": f"{sum(ratings) / len(ratings):.2f}" if ratings else "–",
        "ratings": len(ratings),
        "handoffs": sum(f.handoffs for f in chosen),
        "handoffs-opened": sum(f.opened for f in chosen),
        "per_day": per_day,
    }


def guide_versions(events: list[dict], period: Period, locations: dict[str, str], guide: str) -> dict[int, dict]:
    out: dict[int, dict] = {}
    for f in sessions(events).values():
        if not in_period(f, period, locations):
            continue
        for g, v in f.seen:
            if g != guide:
                continue
            row = out.setdefault(v, {"sessions": 0, "resolved": 0, "escalated": 0})
            row["sessions"] += 1
            row["resolved"] += "resolved" in f.outcomes.get((g, v), ())
            row["escalated"] += "escalate" in f.outcomes.get((g, v), ())
    return out


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


def no_result_queries(events: list[dict], period: Period, locations: dict[str, str]) -> list[tuple[str, str, int]]:
    """(query, language, searches) of the searches that found nothing, most frequent first."""
    misses = Counter((e["data"]["query"].lower(), e["lang"]) for e in select(events, period, locations, "search")
                     if e["data"]["hits"] == 0)
    return [(q, lang, n) for (q, lang), n in sorted(misses.items(), key=lambda kv: (-kv[1], kv[0]))[:25]]


# --- comparisons (server/compare.py): every session of the history, by its own events -------------

def _grouped(events: list[dict]) -> list[list[dict]]:
    grouped: dict[tuple[str, str], list[dict]] = {}
    for e in events:
        grouped.setdefault((e["device"], e["session"]), []).append(e)
    return list(grouped.values())


def version_arm(events: list[dict], guide: str, version: int) -> dict[str, Any]:
    """Sessions that showed a step of the guide version; of those resolved and walked away; and per
    step, sessions that saw it and walked away there."""
    out: dict[str, Any] = {"sessions": 0, "resolved": 0, "walked_away": 0, "steps": {}}
    for evs in _grouped(events):
        here = [e for e in evs if e["guide"] == guide and e["guide_version"] == version]
        if not any(e["type"] == "step_view" for e in here):
            continue
        out["sessions"] += 1
        out["resolved"] += any(e["type"] == "outcome" and e["data"]["outcome"] == "resolved" for e in here)
        walked = set() if any(e["type"] == "outcome" for e in evs) else \
            {e["step"] for e in here if e["type"] == "idle_timeout" and e["step"]}
        out["walked_away"] += bool(walked)
        for step in {e["step"] for e in here if e["type"] == "step_view"}:
            views, gone = out["steps"].get(step, (0, 0))
            out["steps"][step] = (views + 1, gone + (step in walked))
    return out


def need_a_person(events: list[dict]) -> dict[str, Any]:
    """Per (guide, step): sessions that saw it, escalated there, walked away there; and over
    sessions with a guide: how many, how many resolved with no person asked for, how many escalated."""
    steps: dict[tuple[str, str], list[int]] = {}
    total = served = escalated = 0
    for evs in _grouped(events):
        if not any(e["type"] == "step_view" for e in evs):
            continue
        total += 1
        outcomes = {e["data"]["outcome"] for e in evs if e["type"] == "outcome"}
        served += outcomes == {"resolved"}
        escalated += "escalate" in outcomes
        for pair in {(e["guide"], e["guide_version"]) for e in evs if e["type"] == "step_view"}:
            here = [e for e in evs if (e["guide"], e["guide_version"]) == pair]
            walked = set() if outcomes else {e["step"] for e in here if e["type"] == "idle_timeout" and e["step"]}
            asked = {e["step"] for e in here if e["type"] == "outcome" and e["data"]["outcome"] == "escalate"}
            for step in {e["step"] for e in here if e["type"] == "step_view"} | walked | asked:
                row = steps.setdefault((pair[0], step), [0, 0, 0])
                row[0] += any(e["type"] == "step_view" and e["step"] == step for e in here)
                row[1] += step in asked
                row[2] += step in walked
    return {"steps": steps, "sessions": total, "self_served": served, "escalated": escalated}
