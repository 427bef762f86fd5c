"""A realistic simulated usage history for the dashboard: tests, screenshots and the benchmark.

`python -m devtools.simulate --kiosks 50 --days 60 --sessions 100000 --db URL` walks customers
through the sample library (assets/library, read with contract.bundle.open_library) the way the
session engine records them: most open a guide from the home screen, some search first (a share
of the searches find nothing), some change language; inside a guide they choose, go back, start
over or walk away (the idle timeout); at an outcome many rate the guide, a few leave a comment,
some take the guide on to their phone and some of those open it there (channel=mobile).

Generation is pure Python (`generate`) and returns the events exactly as kiosks send them, so a
test can count things independently of the server's SQL. `load` writes them through the server's
own ingest row mapping in bulk.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from contract.bundle import open_library
from contract.guides import Guide, Library, pick
from contract.languages import CODES

REPO = Path(__file__).resolve().parent.parent
SAMPLE_LIBRARY = REPO / "assets" / "library"

SITES = [
    "Airport T1 Arrivals", "Airport T1 Departures", "Airport T2 Arrivals", "Airport T2 Gates",
    "Riverside Mall North", "Riverside Mall South",
]
# How often each language of the table is chosen (contract/languages.py, in its order).
LANGUAGE_WEIGHTS = (0.58, 0.14, 0.1, 0.08, 0.06, 0.04)
LANGUAGES = list(zip(CODES, LANGUAGE_WEIGHTS, strict=True))
# Airport and mall traffic over a day (UTC hour -> weight): quiet at night, peaks mid-morning and evening.
HOUR_WEIGHTS = [1, 1, 1, 1, 2, 4, 7, 10, 12, 12, 11, 10, 10, 10, 10, 11, 12, 13, 12, 10, 8, 6, 4, 2]
NO_RESULT_QUERIES = ["xyzzy", "lounge massage", "pharmacy", "smoking area", "currency exchange",
                     "prayer room", "shower", "bus to city", "taxi fare", "lost passport"]
COMMENTS = [
    "Very clear, thank you!", "The desk was closed when I got there.", "Too many steps.",
    "Helpful, found my bag.", "Please add Italian.", "Screen was hard to read in the sun.",
    "Muy útil, gracias", "Les explications étaient claires.", "Die Wegbeschreibung war falsch.",
    "谢谢，很有帮助", "Could not find the desk by belt 4.", "Great!", "Staff were friendly.",
    "The map image is too small.", "It says 10 minutes but I waited 40.",
]
APP_VERSIONS = ["1.4.2", "1.4.2", "1.4.2", "1.4.1", "1.3.9"]


@dataclass
class Kiosk:
    id: str
    location: str
    busy: float  # relative traffic
    clock_skew: float  # seconds its clock is behind the server (reported as server_time_offset)


# Content edits during the period: (fraction of the period, guides whose text changed). Each edit
# is published as a new content version, so a guide's version moves on with each edit.
EDITS = [(1 / 3, ["lost-baggage", "airport-wifi", "store-finder", "refunds-returns"]),
         (2 / 3, ["lost-baggage", "parking-payment", "gift-cards"])]
PUBLISHERS = ["alice", "bob", "carol"]
WALK_AWAY = 0.05  # chance a customer walks away at each step of a guide


@dataclass(frozen=True)
class Improvement:
    """A change that really helped: at `step` of `guide`, customers walk away with chance `before`
    on versions older than `version` and `after` from it on (everywhere else WALK_AWAY). For a
    history whose "Did it help?" must say "better" on that step (`--better-step`)."""
    guide: str = "lost-baggage"
    step: str = "belt"
    version: int = 2
    before: float = 0.30
    after: float = 0.05

    def walk_away(self, pos: tuple) -> float:
        if pos[0] != self.guide or pos[2] != self.step:
            return WALK_AWAY
        return self.before if pos[1] < self.version else self.after


@dataclass
class History:
    kiosks: list[Kiosk]
    events: list[dict[str, Any]]
    start: datetime
    days: int
    library: Library

    def edit_times(self) -> list[float]:
        return [self.start.timestamp() + frac * self.days * 86400 for frac, _ in EDITS]

    def version_at(self, guide: str, t: float) -> int:
        """The guide's version on the kiosks at time t (1 + the edits to it published before t)."""
        return 1 + sum(1 for (_, ids), at in zip(EDITS, self.edit_times(), strict=True) if guide in ids and t >= at)

    def library_revisions(self) -> list[Library]:
        """The library as first published, then after each edit (a changed start-step text)."""
        revisions = [self.library]
        current = dict(self.library.guides)
        for n, (_, ids) in enumerate(EDITS, start=2):
            for gid in ids:
                g = current[gid]
                start = g.steps[g.start]
                text = {lang: f"{value} (rev {n})" for lang, value in start.text.items()}
                current[gid] = replace(g, steps={**g.steps, g.start: replace(start, text=text)})
            revisions.append(Library(dict(current), self.library.images, self.library.root))
        return revisions


def corrected_time(event: dict[str, Any]) -> float:
    """Server time of an event: the kiosk's clock plus the offset it believes it is behind."""
    return event["kiosk_time"] + (event.get("server_time_offset") or 0.0)


def make_kiosks(count: int, rng: random.Random) -> list[Kiosk]:
    kiosks = []
    for n in range(1, count + 1):
        skew = 0.0 if rng.random() < 0.8 else rng.uniform(-300, 300)
        kiosks.append(Kiosk(f"kiosk-{n:02d}", SITES[(n - 1) % len(SITES)], rng.uniform(0.3, 1.7), round(skew, 3)))
    return kiosks


class _Walker:
    """Emits one session's events the way kiosk.engine.SessionEngine records them."""

    def __init__(self, library: Library, version_at, rng: random.Random, improvement: Improvement | None = None):
        self.library, self.version_at, self.rng = library, version_at, rng
        self.improvement = improvement
        self.guide_ids = sorted(library.guides)
        # Some guides are asked for far more often than others.
        self.guide_weights = [1.0 / (1 + i * 0.35) for i in range(len(self.guide_ids))]
        rng.shuffle(self.guide_weights)

    def session(self, kiosk: Kiosk, start: float, lang: str) -> list[dict[str, Any]]:
        rng = self.rng
        sid = f"{rng.getrandbits(64):016x}"
        events: list[dict[str, Any]] = []
        clock = [start, 0.0]  # kiosk time, mono
        state: dict[str, Any] = {"lang": lang, "pos": None, "history": []}

        def emit(kind: str, data: dict | None = None, at: tuple | None = None, *, channel: str = "kiosk",
                 use_pos: bool = True, when: float | None = None) -> None:
            pos = at if at is not None else (state["pos"] if use_pos else None)
            ev = {
                "uuid": f"{rng.getrandbits(128):032x}", "type": kind, "device": kiosk.id, "session": sid,
                "channel": channel, "kiosk_time": round(when if when is not None else clock[0], 3),
                "mono": round(clock[1], 3),
                "guide": pos[0] if pos else None, "guide_version": pos[1] if pos else None,
                "step": pos[2] if pos else None, "lang": state["lang"], "data": data or {},
            }
            if kiosk.clock_skew and channel == "kiosk":
                ev["server_time_offset"] = kiosk.clock_skew
            events.append(ev)

        def tick(lo: float, hi: float) -> None:
            dt = rng.uniform(lo, hi)
            clock[0] += dt
            clock[1] += dt

        def go(pos: tuple, depth: int, push: bool = True) -> None:
            if push and state["pos"] is not None:
                state["history"].append((state["pos"], state["depth"]))
            state["pos"], state["depth"] = pos, depth
            emit("step_view", {"depth": depth})
            step = self.library.guides[pos[0]].steps[pos[2]]
            if step.end:
                emit("outcome", {"outcome": step.end})

        def open_guide(gid: str) -> None:
            guide = self.library.guides[gid]
            go((gid, self.version_at(gid, clock[0]), guide.start), 1)

        def end(reason: str) -> None:
            tick(1, 3)
            if reason == "idle_timeout":
                tick(60, 90)
                emit("idle_timeout")
            emit("session_end", {"reason": reason})

        emit("session_start", use_pos=False)
        if rng.random() < 0.05:
            tick(2, 6)
            new = rng.choice([code for code, _ in LANGUAGES if code != lang])
            emit("language", {"from": lang, "to": new}, use_pos=False)
            state["lang"] = new
        tick(3, 12)
        entry = rng.random()
        if entry < 0.12:  # looked at the home screen and left
            end("idle_timeout")
            return events
        if entry < 0.30:  # searched first
            gid = rng.choices(self.guide_ids, self.guide_weights)[0]
            if rng.random() < 0.3:
                emit("search", {"query": rng.choice(NO_RESULT_QUERIES), "hits": 0}, use_pos=False)
                tick(4, 15)
                if rng.random() < 0.5:
                    end("idle_timeout")
                    return events
            else:
                guide = self.library.guides[gid]
                words = guide.keywords.get(state["lang"]) or guide.keywords.get(guide.language) or (gid,)
                emit("search", {"query": rng.choice(words).lower(), "hits": rng.randint(1, 4)}, use_pos=False)
                tick(2, 6)
        else:
            gid = rng.choices(self.guide_ids, self.guide_weights)[0]
        open_guide(gid)
        for _ in range(40):  # a bound: customers give up long before this
            tick(5, 25)
            pos = state["pos"]
            if pos is None:  # backed out to the home screen
                if rng.random() < 0.5:
                    end("idle_timeout")
                    return events
                open_guide(rng.choices(self.guide_ids, self.guide_weights)[0])
                continue
            guide: Guide = self.library.guides[pos[0]]
            step = guide.steps[pos[2]]
            if step.end:
                return self._after_outcome(events, emit, tick, end, state, kiosk, step.end, guide)
            r = rng.random()
            if r < (self.improvement.walk_away(pos) if self.improvement else WALK_AWAY):
                end("idle_timeout")
                return events
            if r < 0.11:
                emit("back", {"from": pos[2]})
                if state["history"]:
                    prev, depth = state["history"].pop()
                    go(prev, depth, push=False)
                else:
                    state["pos"] = None
                continue
            if r < 0.13:
                emit("restart")
                state["history"].clear()
                go((pos[0], pos[1], guide.start), 1, push=False)
                continue
            weights = [1.0 / (1 + i * 0.8) for i in range(len(step.choices))]
            index = rng.choices(range(len(step.choices)), weights)[0]
            choice = step.choices[index]
            emit("choice", {"index": index, "label": pick(choice.label, guide.language, guide.language),
                            "next": choice.next, "guide": choice.guide})
            if choice.guide:
                target = self.library.guides[choice.guide]
                go((target.id, self.version_at(target.id, clock[0]), target.start), 1)
            else:
                go((pos[0], pos[1], choice.next), state["depth"] + 1)
        end("idle_timeout")
        return events

    def _after_outcome(self, events, emit, tick, end, state, kiosk, outcome, guide) -> list[dict]:
        rng = self.rng
        if rng.random() < 0.12:
            tick(2, 5)
            emit("handoff_shown", {"url": f"https://kiosk.example/c/{kiosk.id}/{guide.id}/..."})
            if rng.random() < 0.45:  # the phone opens the page a little later, on the phone's own clock
                phone_time = corrected_time(events[-1]) + rng.uniform(20, 120)
                emit("handoff_opened", channel="mobile", when=phone_time)
        if rng.random() < 0.55:
            tick(4, 15)
            helped = rng.random() < (0.85 if outcome == "resolved" else 0.45)
            rating = None if rng.random() < 0.1 else (rng.choice([4, 5, 5]) if helped else rng.choice([1, 2, 2, 3]))
            comment = rng.choice(COMMENTS) if rng.random() < 0.18 else ""
            emit("feedback", {"helped": helped, "rating": rating, "comment": comment})
        end("done" if rng.random() < 0.8 else "idle_timeout")
        return events


def generate(*, kiosks: int = 50, days: int = 60, sessions: int = 100_000, seed: int = 7,
             library_path: Path = SAMPLE_LIBRARY, end: datetime | None = None,
             improvement: Improvement | None = None) -> History:
    """The whole history in memory: kiosks and every event, oldest session first."""
    rng = random.Random(seed)
    library = open_library(library_path)
    fleet = make_kiosks(kiosks, rng)
    end = (end or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    start = (end - timedelta(days=days)).replace(hour=0)
    history = History(fleet, [], start, days, library)
    walker = _Walker(library, history.version_at, rng, improvement)
    day_weights = [1.0 + 0.25 * ((d % 7) in (4, 5)) for d in range(days)]  # busier towards weekends
    langs, lang_w = zip(*LANGUAGES, strict=True)
    starts = []
    for _ in range(sessions):
        day = rng.choices(range(days), day_weights)[0]
        hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
        t = start + timedelta(days=day, hours=hour, seconds=rng.uniform(0, 3590))
        starts.append(t.timestamp())
    starts.sort()
    chosen = rng.choices(fleet, [k.busy for k in fleet], k=sessions)
    events = history.events
    for t, kiosk in zip(starts, chosen, strict=True):
        # The kiosk stamps by its own clock, which is behind the server's by its skew.
        events.extend(walker.session(kiosk, t - kiosk.clock_skew, rng.choices(langs, lang_w)[0]))
    return history


def batches(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devtools.simulate", description=__doc__.split("\n\n")[0])
    p.add_argument("--kiosks", type=int, default=50)
    p.add_argument("--days", type=int, default=60)
    p.add_argument("--sessions", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--db", required=True, help="server database URL (sqlite:///file.db or postgresql://...)")
    p.add_argument("--better-step", metavar="GUIDE:STEP", default=None,
                   help="make version 2 of GUIDE really better at STEP: walk-aways there fall from 30%% to 5%%")
    args = p.parse_args(argv)
    began = time.perf_counter()
    improvement = None
    if args.better_step:
        guide, _, step = args.better_step.partition(":")
        improvement = Improvement(guide, step)
    history = generate(kiosks=args.kiosks, days=args.days, sessions=args.sessions, seed=args.seed,
                       improvement=improvement)
    print(f"generated {len(history.events):,} events for {args.sessions:,} sessions "
          f"in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    began = time.perf_counter()
    from devtools.simulate_load import load
    load(args.db, history)
    print(f"inserted in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
