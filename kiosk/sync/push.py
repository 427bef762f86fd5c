"""Push: the outbox in bounded batches, acknowledged events deleted, refused ones set aside."""

from __future__ import annotations

import logging
import random
import time
from typing import TYPE_CHECKING, Any

from kiosk.clock import ServerClock
from kiosk.sync.results import OK, UNCHANGED, _Round
from kiosk.sync.timing import backoff_delay
from kiosk.transport import EventsReply, NetworkError, ProtocolError, RateLimited
from offline_cache.store import OutboxEvent

if TYPE_CHECKING:
    import threading

    from kiosk.sync.service import Transport
    from offline_cache.store import Store
    from offline_cache.sync_tables import SyncTables

log = logging.getLogger("kiosk.sync")
RETRY_JITTER = 1.0  # seconds a kiosk may add to the server's Retry-After


def retry_wait(retry_after: float, server_time: float | None, rng: random.Random) -> float:
    """How long to wait after a 429: Retry-After, then a random part of what is left of the
    server's second (server_time, the reply's X-Server-Time). The server gives each refusal its
    own whole second (server/retry_slots.py); this spreads one second's returns over that second
    and never into the next one, where a full second's jitter would pile them onto its own
    returns. 10% of the rest is left for the request's way back. Without the server's time, up
    to RETRY_JITTER."""
    if server_time is None:
        return retry_after + rng.uniform(0.0, RETRY_JITTER)
    return retry_after + rng.uniform(0.0, 0.9 * (1.0 - server_time % 1.0))


def stamp_offset(event: dict[str, Any], offset: float | None) -> dict[str, Any]:
    """The event as sent: its own kiosk_time untouched, plus how far this kiosk believes its
    clock was behind the server's when it recorded the event, so the server can correct it."""
    if offset is None or "server_time_offset" in event:
        return event
    return {**event, "server_time_offset": round(offset, 3)}


def event_offset(event: dict[str, Any], clock: ServerClock | float | None) -> float | None:
    """The offset for this event: from the server's clock learnt on the monotonic clock, so it is
    right for when the event was recorded even if the wall clock stepped since (kiosk/clock.py).
    A transport that only knows one wall-clock offset (a test's) gives that number instead."""
    if isinstance(clock, ServerClock):
        return clock.offset_for(event)
    return clock


def as_sent(event: dict[str, Any], device: str, recorded_before: frozenset[str],
            clock: ServerClock | float | None) -> dict[str, Any]:
    """The event with its clock offset stamped and without what the kiosk keeps for itself (keys
    starting with "_"); if it was recorded before the server confirmed this kiosk's name
    (kiosk/identity.py), under the confirmed name: it carries the one kiosk.toml was created with,
    and the server refuses every event whose name is not the token's."""
    offset = event_offset(event, clock)
    event = {k: v for k, v in event.items() if not k.startswith("_")}
    if device and event.get("device") in recorded_before:
        event["device"] = device
    return stamp_offset(event, offset)


class PushMixin:
    """SyncService's push half. What it uses of the service is declared here; SyncService.__init__
    sets it."""

    store: Store
    tables: SyncTables
    transport: Transport
    device: str
    names_recorded_before: frozenset[str]
    batch_size: int
    push_attempts: int
    backoff_base: float
    backoff_cap: float
    max_retry_after: float
    rng: random.Random
    _stop: threading.Event
    _not_before: float

    def _push(self, rnd: _Round) -> str:
        total = self.store.outbox_depth()
        rnd.report("events", 0, total)
        if not total:
            return UNCHANGED
        after_seq, attempt, batch_size = 0, 0, self.batch_size
        while not self._stop.is_set():
            batch = self.store.take_batch(batch_size, after_seq=after_seq)
            if not batch:
                break
            if self.transport.server_offset is None:
                self.transport.health()  # one cheap reply teaches the server's clock before stamping
            clock = getattr(self.transport, "clock", None)
            clock = clock if isinstance(clock, ServerClock) else self.transport.server_offset
            try:
                reply = self.transport.post_events([as_sent(e.body, self.device, self.names_recorded_before, clock)
                                                    for e in batch])
            except RateLimited as exc:
                attempt += 1
                # Never before Retry-After, and within the second it names: the server spreads a
                # fleet's returns over seconds, this spreads one second's over its length.
                wait = retry_wait(exc.retry_after, getattr(exc, "server_time", None), self.rng)
                if exc.retry_after > self.max_retry_after or attempt > self.push_attempts * 2:
                    self._not_before = time.monotonic() + wait
                    raise
                self._stop.wait(wait)
                continue
            except NetworkError:
                attempt += 1
                if attempt >= self.push_attempts:
                    raise
                self._stop.wait(backoff_delay(attempt, self.backoff_base, self.backoff_cap, self.rng))
                continue
            except ProtocolError as exc:
                if exc.status == 413 and batch_size > 1:
                    batch_size = max(1, batch_size // 2)
                    continue
                raise
            attempt = 0
            after_seq = self._settle(batch, reply, rnd)
            rnd.report("events", rnd.events_sent + rnd.events_rejected, total)
        return OK if rnd.events_sent else UNCHANGED

    def _settle(self, batch: list[OutboxEvent], reply: EventsReply, rnd: _Round) -> int:
        """Delete what the server acknowledged, set aside what it refused; anything it did not
        mention stays queued for the next round. Returns the seq to continue after."""
        in_batch = {e.uuid: e for e in batch}
        acked = [u for u in {*reply.accepted, *reply.duplicates} if u in in_batch]
        refused: dict[str, tuple[OutboxEvent, str]] = {}
        for item in reply.rejected:
            if not isinstance(item, dict):
                continue
            event = None
            index = item.get("index")
            if isinstance(index, int) and 0 <= index < len(batch):
                event = batch[index]
            elif item.get("uuid") in in_batch:
                event = in_batch[item["uuid"]]
            if event is not None and event.uuid not in acked:
                refused[event.uuid] = (event, str(item.get("reason") or "rejected by the server"))
        self.store.ack(acked)
        self.tables.reject_events(list(refused.values()))
        rnd.events_sent += len(acked)
        rnd.events_rejected += len(refused)
        if refused:
            log.warning("the server rejected %d malformed event(s), e.g. %s", len(refused),
                        next(iter(refused.values()))[1])
        return batch[-1].seq

