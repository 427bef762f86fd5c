"""SyncService: one round (push, pull, heartbeat) under one lock, and what staff mode calls."""

from __future__ import annotations

import fcntl
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from contract.heartbeat import Heartbeat
from kiosk import __version__
from kiosk.identity import names_recorded_before
from kiosk.sync.heartbeat import HeartbeatMixin
from kiosk.sync.manifest import ContentRejected
from kiosk.sync.pull import PullMixin
from kiosk.sync.push import PushMixin
from kiosk.sync.results import (
    _SEVERITY,
    BUSY,
    ERROR,
    OFFLINE,
    OK,
    REJECTED,
    UNAUTHORIZED,
    UNCHANGED,
    ProgressCallback,
    SyncResult,
    _now_iso,
    _Round,
)
from kiosk.sync.scheduler import SchedulerMixin
from kiosk.transport import (
    AuthError,
    EventsReply,
    IntegrityError,
    ManifestReply,
    NetworkError,
    RateLimited,
    TransportError,
)
from offline_cache.store import Store
from offline_cache.sync_tables import SyncTables

log = logging.getLogger("kiosk.sync")


class Transport(Protocol):
    """What SyncService needs from the network (kiosk.transport.HttpTransport implements it)."""

    @property
    def server_offset(self) -> float | None: ...
    def health(self) -> bool: ...
    def fetch_server_key(self) -> str: ...
    def fetch_manifest(self, etag: str | None = None) -> ManifestReply: ...
    def fetch_guide(self, guide_id: str, version: int, sha256: str) -> bytes: ...
    def fetch_image(self, sha256: str, size: int | None = None) -> bytes: ...
    def post_events(self, events: list[dict[str, Any]]) -> EventsReply: ...
    def post_heartbeat(self, beat: Heartbeat) -> dict[str, Any]: ...


class SyncBusy(Exception):
    pass


class SyncService(PushMixin, PullMixin, HeartbeatMixin, SchedulerMixin):
    def __init__(self, store: Store, transport: Transport, *, device: str = "", server_key: str = "",
                 names_recorded_before: Iterable[str] = (),
                 app_version: str = __version__, interval_minutes: float = 5.0,
                 heartbeat_seconds: float = 60.0, workers: int = 4, batch_size: int = 500,
                 download_attempts: int = 3, push_attempts: int = 5, backoff_base: float = 0.5,
                 backoff_cap: float = 30.0, probe_cap: float = 60.0, max_retry_after: float = 60.0,
                 data_dir: str | Path | None = None, rng: random.Random | None = None):
        self.store = store
        self.tables = SyncTables(store)
        self.transport = transport
        self.device = device
        # Names this kiosk's older events carry, sent as `device` (kiosk/identity.py).
        self.names_recorded_before = frozenset(names_recorded_before)
        self.server_key = server_key
        self.app_version = app_version
        self.interval = interval_minutes * 60.0
        self.heartbeat_seconds = heartbeat_seconds
        self.workers = max(1, workers)
        self.batch_size = batch_size
        self.download_attempts = download_attempts
        self.push_attempts = push_attempts
        self.backoff_base, self.backoff_cap, self.probe_cap = backoff_base, backoff_cap, probe_cap
        self.max_retry_after = max_retry_after
        self.data_dir = Path(data_dir) if data_dir else store.path.parent
        self.rng = rng or random.Random()
        self.started_at = time.monotonic()
        # Called with the new content version after a switch, on the sync thread. The app uses it
        # to reload its lists between sessions (a customer mid-guide keeps what they started).
        self.on_content_changed: Callable[[str], None] | None = None
        # Called with every SyncResult (staff mode shows it).
        self.on_synced: Callable[[SyncResult], None] | None = None
        # Asked for each heartbeat: is the staff PIN still the factory one? (the Fleet page warns)
        self.uses_default_pin: Callable[[], bool] | None = None
        # Asked just before a switch; False keeps the new content staged (nothing is downloaded
        # again) and the switch is retried shortly. The app answers "no customer mid-session", so
        # a guide never changes under someone's finger.
        self.may_switch: Callable[[], bool] | None = None
        self.pending_retry = 15.0  # seconds until a deferred switch is tried again (if no one asks first)
        self._staged_switch = None  # the content a round verified while a session was open
        self._round_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._requested = False
        self._thread: threading.Thread | None = None
        self._not_before = 0.0  # monotonic time before which the server asked us not to call

    @classmethod
    def from_settings(cls, settings: Any, store: Store, transport: Transport | None = None,
                      **kwargs: Any) -> SyncService:
        if transport is None:
            from kiosk.transport import HttpTransport

            transport = HttpTransport(settings.server_url, settings.token, settings.data_path)
        service = cls(store, transport, device=settings.device, server_key=settings.server_key,
                      names_recorded_before=names_recorded_before(settings, store),
                      interval_minutes=settings.sync_interval, data_dir=settings.data_path, **kwargs)
        # The settings object the app shares: a PIN changed in staff mode shows in the next heartbeat.
        service.uses_default_pin = lambda: settings.uses_default_pin
        return service

    # --- one round -----------------------------------------------------------------------------

    def sync_once(self, progress: ProgressCallback | None = None) -> SyncResult:
        """Push events, pull content, send a heartbeat. Never raises for anything the network or
        the server does: the outcome is in the result and in sync_state 'last_sync'."""
        started = time.monotonic()
        try:
            with self._exclusive():
                rnd = _Round(progress)
                # Events first: they are small and they are what staff are waiting for; a large
                # content update on a slow link must not hold customers' feedback back.
                push, push_error = self._guarded(self._push, rnd)
                pull, pull_error = self._guarded(self._pull, rnd)
                worst = max((pull, push), key=lambda r: _SEVERITY[r])
                result = OK if worst == UNCHANGED and (rnd.changed or rnd.events_sent) else worst
                errors = [e for e in (pull_error and f"content: {pull_error}",
                                      push_error and f"events: {push_error}") if e]
                res = SyncResult(
                    result=result, at=_now_iso(), error="; ".join(errors) or None,
                    content_version=self.store.content_version, content_changed=rnd.changed,
                    content_pending=rnd.pending,
                    pull=pull, push=push, guides_downloaded=rnd.guides, images_downloaded=rnd.images,
                    bytes_downloaded=rnd.bytes, events_sent=rnd.events_sent,
                    events_rejected=rnd.events_rejected, outbox_depth=self.store.outbox_depth(),
                    duration_s=round(time.monotonic() - started, 3))
                self.store.set_state("last_sync", res.as_dict())
                announced = self.transport.server_protocol  # what it speaks, for QR links made offline
                if result not in (OFFLINE, UNAUTHORIZED) and announced != self.store.get_state("server_protocol"):
                    self.store.set_state("server_protocol", announced)
        except SyncBusy:
            return SyncResult(BUSY, _now_iso(), "another sync is running on this kiosk",
                              self.store.content_version)
        if res.error:
            log.warning("sync %s: %s", res.result, res.error)
        else:
            log.info("sync %s: content %s, %d guides, %d images, %d events sent", res.result,
                     res.content_version, res.guides_downloaded, res.images_downloaded, res.events_sent)
        if res.result not in (OFFLINE, UNAUTHORIZED):
            self.heartbeat()
        if self.on_synced:
            self.on_synced(res)
        return res

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One round at a time: in this process (lock) and on this data dir (flock), so the app's
        background sync and a `kiosk sync` from a terminal never interleave their writes."""
        if not self._round_lock.acquire(blocking=False):
            raise SyncBusy()
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            with open(self.data_dir / "sync.lock", "a+") as fh:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise SyncBusy() from None
                yield
        finally:
            self._round_lock.release()

    def _guarded(self, step: Callable[[_Round], str], rnd: _Round) -> tuple[str, str | None]:
        try:
            return step(rnd), None
        except AuthError as exc:
            return UNAUTHORIZED, f"{exc}. Check this kiosk's token (kiosk.toml 'token')."
        except ContentRejected as exc:
            return REJECTED, str(exc)
        except IntegrityError as exc:
            return REJECTED, str(exc)
        except RateLimited as exc:
            return OFFLINE, f"{exc}; retrying after {exc.retry_after:.0f} s"
        except NetworkError as exc:
            return OFFLINE, str(exc)
        except TransportError as exc:
            return ERROR, str(exc)
        except Exception as exc:  # a bug must not kill the sync thread; the log has the traceback
            log.exception("sync step failed")
            return ERROR, f"{type(exc).__name__}: {exc}"

    # --- what staff mode's status screen calls (screens/app.py) ---------------------------------

    def sync_now(self, progress: Callable[[str, float], None] | None = None) -> str:
        """Staff mode's "Sync now" with a progress bar: one round on the caller's thread (never
        the UI thread), reported as (stage, fraction done) and summed up in one sentence."""

        def report(stage: str, done: int, total: int) -> None:
            if progress:
                progress(stage, done / total if total else 1.0)

        result = self.sync_once(progress=report)
        if result.result == BUSY:
            self.request_sync()
            return "A sync is already running; another round follows it."
        summary = (f"Sync {result.result}: content version {result.content_version}, "
                   f"{result.guides_downloaded} guides and {result.images_downloaded} images downloaded, "
                   f"{result.events_sent} events sent, {result.outbox_depth} waiting.")
        return summary + (f" Problem: {result.error}" if result.error else "")

    @property
    def has_staged(self) -> bool:
        """A round has new content verified and waiting for the session to end."""
        return self._staged_switch is not None

    def switch_staged(self) -> bool:
        """Install the content a round staged while a session was open, now, if no session is: the
        app calls it (off the UI thread) as soon as a session ends, so the next customer starts on
        the new content. Nothing is fetched or checked again. False when nothing waits, when a round
        is running (it switches itself: may_switch is true now), when a session has begun again,
        or when other content was installed since (that round's plan is then dropped)."""
        staged = self._staged_switch
        if staged is None:
            return False
        try:
            with self._exclusive():
                if self._staged_switch is not staged:
                    return False
                if self.store.content_version != staged.installed_version:
                    self._staged_switch = None
                    return False
                if self.may_switch is not None and not self.may_switch():
                    return False
                self._switch(staged)
        except SyncBusy:
            return False
        except Exception:  # the staged content stays staged; the next round tries again
            log.exception("the staged content could not be switched in")
            return False
        return True

    def reachable(self) -> bool:
        try:
            return bool(self.transport.health())
        except Exception:  # noqa: BLE001 - any failure to reach it means "not reachable"
            return False



def start_background_sync(settings: Any, store: Store, **kwargs: Any) -> SyncService | None:
    """The app's one call: a started SyncService for these settings, or None for a kiosk with no
    server configured (it runs from its own library; `kiosk import` updates it)."""
    if not settings.server_url:
        log.info("no server_url configured: this kiosk does not sync")
        return None
    service = SyncService.from_settings(settings, store, **kwargs)
    service.start()
    return service
