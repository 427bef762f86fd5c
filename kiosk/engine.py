"""The session engine: one customer's walk through the guides, and the events it leaves behind.

The screens ask the engine to start, choose, go back, start over, jump and give feedback; the
engine decides where that leads, writes each event to the outbox before answering, and hands back
a `StepView` with everything a screen shows. It never imports Kivy and never touches the network,
so every rule here is tested without a window.

When a session ends (done, or the idle timeout) every trace of it is dropped from memory: the next
customer starts with no history to go Back into.

Event times come from the monotonic clock against the wall-clock reading taken when the session
started (kiosk/clock.py), so a step of the wall clock mid-session neither makes time run backwards
nor stretches a 20-second session to an hour; the raw wall reading is kept as `wall_time` when the
two disagree. Which session is open is also kept in the store (sync_state 'open_session'): a
session cut by a crash or a power loss is closed on the next start with session_end, reason
"interrupted", at the last moment the kiosk knew of it.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from contract.events import make_event, scrub, scrub_query
from contract.guides import Guide, Step, pick
from kiosk import clock as kiosk_clock
from kiosk.clock import STEP_TOLERANCE, boot_id
from offline_cache.errors import StoreError
from offline_cache.store import SearchHit, SearchResults, Store

log = logging.getLogger(__name__)
MAX_UNSAVED = 10_000  # events held in memory while the outbox cannot be written
OPEN_SESSION = "open_session"  # sync_state key: the session that has started and not ended yet


class EngineError(Exception):
    """A request the current state cannot honour (no session, no such choice, unknown guide)."""


@dataclass(frozen=True)
class Position:
    guide_id: str
    guide_version: int
    step_id: str
    path: tuple[int, ...] = ()  # choice indices taken from the guide's start to reach this step


def distances_to_end(guide: Guide) -> dict[str, int]:
    """For every step, the fewest choices to an outcome step of the same guide; a choice that opens
    another guide counts as one step to its end. One breadth-first pass backwards from the ends."""
    before: dict[str, list[str]] = {sid: [] for sid in guide.steps}
    for sid, step in guide.steps.items():
        for choice in step.choices:
            if choice.next in before:
                before[choice.next].append(sid)
    found = {sid: 0 for sid, step in guide.steps.items() if step.end}
    frontier, distance = list(found), 0
    while frontier:
        distance += 1
        following = [sid for sid, step in guide.steps.items()
                     if sid not in found and any(c.guide for c in step.choices)] if distance == 1 else []
        following += [prev for sid in frontier for prev in before[sid] if prev not in found]
        frontier = []
        for sid in following:
            if sid not in found:
                found[sid] = distance
                frontier.append(sid)
    return found


def steps_to_end(guide: Guide, step_id: str) -> int:
    """The fewest choices from `step_id` to an outcome (see distances_to_end); 0 if none."""
    return distances_to_end(guide).get(step_id, 0)


@dataclass(frozen=True)
class StepView:
    """Everything a screen needs to draw one step, already in the customer's language."""

    guide_id: str
    guide_version: int
    guide_title: str
    step_id: str
    text: str
    image: str | None  # path inside the guide, for Store.image_for
    choices: tuple[str, ...]
    outcome: str | None  # resolved | escalate on an outcome step
    path: tuple[int, ...]
    depth: int  # 1 on the first step
    language: str
    remaining: int = 0  # the fewest choices from this step to an outcome (0 on an outcome)
    image_alt: str = ""  # what the image shows, in words (the guide's image_alt), for audio mode

    @property
    def progress(self) -> float:
        """How far through the guide: steps taken / (taken + the shortest remaining path to an end)."""
        taken = len(self.path)
        return 1.0 if self.remaining == 0 else taken / (taken + self.remaining)

    @property
    def is_outcome(self) -> bool:
        return self.outcome is not None


@dataclass
class _Session:
    id: str
    started_mono: float  # the monotonic clock when the session started...
    started_wall: float  # ...and the wall clock then: each event's time is this plus the monotonic time since
    history: list[Position] = field(default_factory=list)
    position: Position | None = None
    feedback_given: set[tuple[str, str]] = field(default_factory=set)
    clock_stepped: bool = False  # the wall clock's step was logged already

    def time_at(self, mono: float) -> float:
        return self.started_wall + (mono - self.started_mono)


class SessionEngine:
    def __init__(self, store: Store, device_id: str, *, default_language: str = "en",
                 clock: Callable[[], float] = time.time, monotonic: Callable[[], float] = kiosk_clock.monotonic,
                 boot: str | None = None):
        self.store = store
        self.device_id = device_id
        self.default_language = default_language
        self.language = default_language
        self._clock, self._monotonic = clock, monotonic
        self._boot = boot or boot_id()  # monotonic readings compare only within one boot
        self._session: _Session | None = None
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self._unsaved: list[dict[str, Any]] = []
        self._distances: dict[tuple[str, int], dict[str, int]] = {}  # _to_end's one guide

    # --- state ---------------------------------------------------------------------------------

    @property
    def session_id(self) -> str | None:
        return self._session.id if self._session else None

    @property
    def position(self) -> Position | None:
        return self._session.position if self._session else None

    @property
    def can_go_back(self) -> bool:
        return bool(self._session and self._session.position)

    def _need_session(self) -> _Session:
        if self._session is None:
            raise EngineError("no session has been started")
        return self._session

    def _record(self, kind: str, data: dict[str, Any] | None = None, at: Position | None = None) -> dict:
        session = self._need_session()
        at = at if at is not None else session.position
        mono = self._monotonic()
        wall, recorded = self._clock(), session.time_at(mono)
        event = make_event(
            kind, device=self.device_id, session=session.id,
            guide=at.guide_id if at else None, guide_version=at.guide_version if at else None,
            step=at.step_id if at else None, lang=self.language, data=data,
            now=recorded, mono=round(mono - session.started_mono, 4))
        if abs(wall - recorded) > STEP_TOLERANCE:
            # Optional on the wire, so an event of a kiosk whose clock did not step is unchanged.
            event["wall_time"] = wall
            if not session.clock_stepped:
                session.clock_stepped = True
                log.warning("the wall clock stepped by %+.1f s during session %s; its events keep the "
                            "monotonic time and the raw reading as wall_time", wall - recorded, session.id)
        # For the push only (stripped before sending): where the event is on this boot's monotonic
        # clock, so the server's time for it is known even if the wall clock steps before the push.
        event["_clock"] = {"boot": self._boot, "mono": mono}
        self._save(event)
        for listener in self.listeners:
            listener(event)
        return event

    def _save(self, event: dict) -> None:
        """Write the event, with any that could not be written before, to the outbox. When the
        disk is full (or the file cannot be written) the customer's tap still goes through: the
        events wait here, in order, and are written with the next one that succeeds."""
        self._unsaved.append(event)
        try:
            self.store.append_events(self._unsaved)
        except StoreError as exc:
            if len(self._unsaved) > MAX_UNSAVED:
                del self._unsaved[0]
            log.error("could not write %d event(s) to the outbox, keeping them in memory: %s",
                      len(self._unsaved), exc)
            return
        self._unsaved.clear()

    @property
    def unsaved_events(self) -> int:
        return len(self._unsaved)

    # --- session lifecycle ---------------------------------------------------------------------

    def start_session(self, language: str | None = None) -> str:
        if self._session is not None:
            self.end_session("replaced")
        else:
            self.close_interrupted_session()
        self.language = language or self.default_language
        mono = self._monotonic()
        self._session = _Session(secrets.token_hex(8), mono, self._clock())
        self._remember_open({"id": self._session.id, "lang": self.language, "wall": self._session.started_wall,
                             "mono": mono, "boot": self._boot})
        self._record("session_start")
        return self._session.id

    def end_session(self, reason: str = "done") -> None:
        """Close the session and forget it: nothing the customer did stays reachable."""
        if self._session is None:
            return
        if reason == "idle_timeout":
            self._record("idle_timeout")
        self._record("session_end", {"reason": reason})
        self._remember_open(None)
        self._session = None
        self.language = self.default_language

    def _remember_open(self, record: dict[str, Any] | None) -> None:
        """Keep (or drop) the note of the open session. A store that cannot be written only costs
        the closing of a session a crash might cut, never the customer's tap."""
        try:
            self.store.set_state(OPEN_SESSION, record)
        except StoreError as exc:
            log.error("could not note the open session in the store: %s", exc)

    def close_interrupted_session(self) -> str | None:
        """Close the session a crash or power loss cut (started, never ended) with a session_end
        whose reason is "interrupted", at the time of its last event still in the outbox (or of
        its start, when those were sent already): when it really ended is unknown, and a later
        time would stretch it on the dashboard. Returns that session's id; None if there was none.
        The app calls this at start; start_session calls it too."""
        if self._session is not None:
            return None
        try:
            record = self.store.get_state(OPEN_SESSION)
            newest = self.store.newest_event()
        except StoreError as exc:
            log.error("could not read the open session from the store: %s", exc)
            return None
        if not isinstance(record, dict) or not isinstance(record.get("id"), str):
            return None
        last = newest.body if newest is not None and newest.body.get("session") == record["id"] else None
        if last is not None and last.get("type") == "session_end":  # ended; only the note was left
            self._remember_open(None)
            return None
        event = make_event(
            "session_end", device=self.device_id, session=record["id"],
            guide=last.get("guide") if last else None, guide_version=last.get("guide_version") if last else None,
            step=last.get("step") if last else None, lang=(last or {}).get("lang") or record.get("lang"),
            data={"reason": "interrupted"},
            now=last["kiosk_time"] if last else record.get("wall"), mono=last.get("mono") if last else 0.0)
        local = last.get("_clock") if last else {"boot": record.get("boot"), "mono": record.get("mono")}
        if local:
            event["_clock"] = local
        self._save(event)
        self._remember_open(None)
        log.warning("session %s was cut off (a crash or power loss); closed it as interrupted", record["id"])
        return record["id"]

    def idle_timeout(self) -> None:
        self.end_session("idle_timeout")

    def set_language(self, language: str) -> None:
        if language == self.language:
            return
        previous, self.language = self.language, language
        if self._session:
            self._record("language", {"from": previous, "to": language})

    # --- finding a guide -----------------------------------------------------------------------

    def search(self, text: str, limit: int = 20) -> list[SearchHit]:
        """Results for search-as-you-type; not recorded (see record_search)."""
        return self.store.search(text, self.language, limit)

    def search_results(self, text: str, limit: int = 20, lang: str | None = None) -> SearchResults:
        """The same, with the "Did you mean" suggestion when the hits came from a correction;
        in `lang` rather than the session's language when given (a search running on another
        thread asks in the language it was typed in)."""
        return self.store.search_results(text, lang or self.language, limit, explain_hits=False)

    def record_search(self, text: str, hits: int, suggestion: str | None = None,
                      suggestion_hits: int = 0, suggestion_taken: bool = False) -> None:
        """Record a search the customer settled on (opened a result, or paused on no results):
        the query as typed (bounded and scrubbed like a comment) and its hits; when a correction
        was offered ("Did you mean"), what it was, what it found and whether it was taken."""
        text = scrub_query(text)
        if text:
            data: dict[str, Any] = {"query": text, "hits": hits}
            if suggestion:
                data.update(suggestion=scrub_query(suggestion), suggestion_hits=suggestion_hits,
                            suggestion_taken=suggestion_taken)
            self._record("search", data, at=None)

    # --- moving through a guide ----------------------------------------------------------------

    def _to_end(self, guide: Guide, pos: Position) -> dict[str, int]:
        """distances_to_end, once per guide version (a tap must not walk a long guide again)."""
        key = (guide.id, pos.guide_version)
        if key not in self._distances:
            self._distances = {key: distances_to_end(guide)}  # the open guide's only
        return self._distances[key]

    def _load(self, guide_id: str) -> tuple[Guide, int]:
        found = self.store.guide(guide_id)
        if found is None:
            raise EngineError(f"there is no guide '{guide_id}'")
        return found

    def _go(self, position: Position, push: bool = True) -> StepView:
        session = self._need_session()
        if push and session.position is not None:
            session.history.append(session.position)
        session.position = position
        view = self.current()
        self._record("step_view", {"depth": view.depth})
        if view.outcome:
            self._record("outcome", {"outcome": view.outcome})
        return view

    def open_guide(self, guide_id: str, via: str = "home") -> StepView:
        guide, version = self._load(guide_id)
        self.store.count_start(guide_id)
        return self._go(Position(guide_id, version, guide.start, ()))

    def _open_step(self) -> tuple[_Session, Position, Guide, Step]:
        session = self._need_session()
        pos = session.position
        if pos is None:
            raise EngineError("no guide is open")
        guide, _ = self._load(pos.guide_id)
        return session, pos, guide, guide.steps[pos.step_id]

    def current(self) -> StepView:
        _, pos, guide, step = self._open_step()
        lang, default = self.language, guide.language
        return StepView(
            guide_id=guide.id, guide_version=pos.guide_version, guide_title=pick(guide.title, lang, default),
            step_id=step.id, text=pick(step.text, lang, default), image=step.image,
            choices=tuple(pick(c.label, lang, default) for c in step.choices), outcome=step.end,
            path=pos.path, depth=len(pos.path) + 1, language=lang, remaining=self._to_end(guide, pos).get(step.id, 0),
            image_alt=pick(step.image_alt, lang, default) if step.image_alt else "")

    def choose(self, index: int) -> StepView:
        _, pos, guide, step = self._open_step()
        if not 0 <= index < len(step.choices):
            raise EngineError(f"step '{step.id}' has no choice {index}")
        choice = step.choices[index]
        self._record("choice", {"index": index, "label": pick(choice.label, guide.language, guide.language),
                                "next": choice.next, "guide": choice.guide})
        if choice.guide:
            target, version = self._load(choice.guide)
            return self._go(Position(target.id, version, target.start, ()))
        return self._go(Position(pos.guide_id, pos.guide_version, choice.next, pos.path + (index,)))

    def back(self) -> StepView | None:
        """One step back; None means back out of the guide to the home screen."""
        session = self._need_session()
        if session.position is None:
            return None
        self._record("back", {"from": session.position.step_id})
        if not session.history:
            session.position = None
            return None
        return self._go(session.history.pop(), push=False)

    def restart(self) -> StepView:
        """Start the current guide over from its first step."""
        session = self._need_session()
        pos = session.position
        if pos is None:
            raise EngineError("no guide is open")
        self._record("restart")
        guide, version = self._load(pos.guide_id)
        session.history.clear()
        return self._go(Position(guide.id, version, guide.start, ()), push=False)

    def go_home(self) -> None:
        """Leave the guide for the home screen; the session goes on."""
        session = self._need_session()
        session.position = None
        session.history.clear()

    def resume(self, guide_id: str, path: tuple[int, ...]) -> StepView:
        """Re-walk a recorded path through a guide (the mobile page does this from a QR code)."""
        guide, version = self._load(guide_id)
        step_id = guide.start
        for index in path:
            step = guide.steps[step_id]
            if not 0 <= index < len(step.choices) or not step.choices[index].next:
                raise EngineError("that path does not fit this guide")
            step_id = step.choices[index].next
        return self._go(Position(guide_id, version, step_id, tuple(path)))

    # --- after the outcome ---------------------------------------------------------------------

    def feedback(self, helped: bool | None, rating: int | None = None, comment: str = "") -> dict:
        """Record 'did this help?', 1-5 stars and an optional comment (scrubbed of contact details)."""
        session = self._need_session()
        pos = session.position
        # Whole stars only: int(4.7) or int(True) would quietly store a rating nobody gave.
        if rating is not None and (isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5):
            raise EngineError("a rating is 1 to 5 stars")
        data = {"helped": helped, "rating": rating,
                "comment": scrub(comment or "")}
        if pos is not None:
            key = (pos.guide_id, pos.step_id)
            if key in session.feedback_given:
                raise EngineError("feedback for this outcome was already given")
            session.feedback_given.add(key)
        return self._record("feedback", data)

    def handoff_shown(self, url: str) -> None:
        self._record("handoff_shown", {"url": url})
