"""The kiosk's sync client: pull signed content, push the event outbox, send heartbeats.

Logic over interfaces: `SyncService` works with a store (offline_cache.store.Store) and a
transport (kiosk.transport.HttpTransport, or any object with the same methods), so the same code
runs on the kiosk and in tests with a fake transport. The transport only fetches and sends; this
module decides what to fetch and what to write; the store writes.

Pull (one round):
  1. the manifest, conditionally (If-None-Match with the ETag of the installed manifest);
  2. its Ed25519 signature checked against the pinned server key, anything else rejected;
  3. a plan: guides whose (version, sha256) differ from what is installed, images not stored yet;
  4. downloads on a small thread pool, each verified on arrival; images go into the store at
     once (content-addressed: nothing names them until the switch), guides into staged_guides,
     so a retry after a crash or a cut fetches only what is still missing;
  5. the whole new library validated again (contract.guides.library_from_documents);
  6. one SQLite transaction switches content version, guides and search index together;
  7. only then are images nobody names any more removed.
A failure anywhere before 6 leaves the installed content exactly as it was; the cause is kept in
sync_state 'last_sync' for `kiosk status` and the heartbeat, and the next round tries again.

Push (before the pull in each round): the outbox in bounded batches, each event stamped with the clock offset learnt from the
server's replies; only what the server acknowledged (accepted + duplicates) is deleted; events it
rejected as malformed are moved to rejected_events. Network errors and 5xx back off exponentially
with full jitter, 429 waits out Retry-After, 401/403 stop the round with a clear status.

The scheduler (start/stop/request_sync) runs rounds on one background thread: on start, every
`interval` minutes, on demand (staff "Sync now"), and as soon as the server answers again after a
network failure (it probes the server with backoff meanwhile). Heartbeats go on a timer and after
each round.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import fcntl
import json
import logging
import random
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from contract.canonical import canonical_json
from contract.guides import GUIDE_ID, Guide, LibraryInvalid, library_from_documents
from kiosk import __version__
from kiosk.transport import (
    AuthError,
    EventsReply,
    IntegrityError,
    ManifestReply,
    NetworkError,
    ProtocolError,
    RateLimited,
    TransportError,
)
from offline_cache.store import OutboxEvent, Store
from offline_cache.sync_tables import SyncTables

log = logging.getLogger("kiosk.sync")

# What a round ended with, as `kiosk status` and the heartbeat report it.
OK, UNCHANGED, OFFLINE, REJECTED, UNAUTHORIZED, ERROR, BUSY = (
    "ok", "unchanged", "offline", "rejected", "unauthorized", "error", "busy")
_SEVERITY = {UNCHANGED: 0, OK: 1, OFFLINE: 2, ERROR: 3, REJECTED: 4, UNAUTHORIZED: 5}

IMAGE_FLUSH_BYTES = 32_000_000  # verified images held in memory before one write to the store
ProgressCallback = Callable[[str, int, int], None]  # (stage, done, total); stages below
STAGES = ("events", "manifest", "guides", "images")  # in the order a round runs them


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
    def post_heartbeat(self, beat: dict[str, Any]) -> dict[str, Any]: ...


class ContentRejected(Exception):
    """The server's content is not acceptable (signature, shape, hash, validation)."""


@dataclass
class SyncResult:
    result: str
    at: str
    error: str | None = None
    content_version: str | None = None
    content_changed: bool = False
    content_pending: str | None = None  # downloaded and verified, waiting for may_switch()
    pull: str = UNCHANGED
    push: str = UNCHANGED
    guides_downloaded: int = 0
    images_downloaded: int = 0
    bytes_downloaded: int = 0
    events_sent: int = 0
    events_rejected: int = 0
    outbox_depth: int = 0
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.result in (OK, UNCHANGED)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Plan:
    """What a manifest asks for, against what the kiosk already has."""

    content_version: str
    fetch: list[tuple[str, int, str]]  # (id, version, sha256) to download
    staged: list[tuple[str, int, str]]  # already downloaded and verified by an earlier round
    unchanged: list[str]
    removed: list[str]
    images: dict[str, int | None]  # sha256 -> size, not stored yet (narrowed once guides are in)

    @property
    def changed(self) -> list[tuple[str, int, str]]:
        return self.fetch + self.staged

    def is_noop(self, installed_version: str | None) -> bool:
        return (not self.fetch and not self.staged and not self.removed and not self.images
                and installed_version == self.content_version)


# --- pure functions --------------------------------------------------------------------------


def verify_manifest(manifest: dict[str, Any], signature: str | None, public_key: str) -> None:
    """Raise ContentRejected unless `signature` is the pinned key's Ed25519 signature of it."""
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
    except (ValueError, binascii.Error) as exc:
        raise ContentRejected(f"the pinned server key is not a base64 Ed25519 public key ({exc})") from exc
    try:
        key.verify(base64.b64decode(signature or "", validate=True), canonical_json(manifest))
    except (InvalidSignature, ValueError, binascii.Error) as exc:
        raise ContentRejected("the manifest's signature does not match the pinned server key; "
                              "content not installed") from exc


def check_manifest_shape(manifest: dict[str, Any]) -> None:
    """Signed is not the same as sane: a manifest that would make the kiosk request odd paths or
    loop is refused before anything is fetched."""
    problems = []
    if not isinstance(manifest.get("content_version"), int) or isinstance(manifest.get("content_version"), bool):
        problems.append("content_version is not an integer")
    guides = manifest.get("guides")
    if not isinstance(guides, dict):
        problems.append("guides is not a mapping")
        guides = {}
    for gid, info in guides.items():
        if not GUIDE_ID.match(str(gid)) or not isinstance(info, dict) \
                or not isinstance(info.get("version"), int) or not _is_hex(info.get("sha256")):
            problems.append(f"guide entry {gid!r} is malformed")
    images = manifest.get("images")
    if not isinstance(images, dict) or not all(_is_hex(h) for h in images):
        problems.append("images is not a mapping of sha256 digests")
    if problems:
        raise ContentRejected("the manifest is malformed: " + "; ".join(problems[:5]))


def _is_hex(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def make_plan(manifest: dict[str, Any], installed: Mapping[str, tuple[int, str]], have_images: set[str],
              staged: Mapping[tuple[str, int], str]) -> Plan:
    fetch, from_stage, unchanged = [], [], []
    for gid, info in sorted(manifest["guides"].items()):
        want = (info["version"], info["sha256"])
        if installed.get(gid) == want:
            unchanged.append(gid)
        elif staged.get((gid, want[0])) == want[1]:
            from_stage.append((gid, *want))
        else:
            fetch.append((gid, *want))
    removed = sorted(set(installed) - set(manifest["guides"]))
    images = {h: (info or {}).get("size") for h, info in manifest["images"].items() if h not in have_images}
    return Plan(str(manifest["content_version"]), fetch, from_stage, unchanged, removed, images)


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: many kiosks coming back at once spread out."""
    return rng.uniform(0, min(cap, base * (2 ** max(attempt - 1, 0))))


def stamp_offset(event: dict[str, Any], offset: float | None) -> dict[str, Any]:
    """The event as sent: its own kiosk_time untouched, plus how far this kiosk believes its
    clock is behind the server's, so the server can correct it."""
    if offset is None or "server_time_offset" in event:
        return event
    return {**event, "server_time_offset": round(offset, 3)}


def _now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class _StoredImages(Mapping):
    """The store's images as the mapping library_from_documents checks names against, without
    reading hundreds of megabytes into memory to do it."""

    def __init__(self, store: Store):
        self._store = store
        self._hashes = store.image_hashes()

    def __contains__(self, digest: object) -> bool:
        return digest in self._hashes

    def __getitem__(self, digest: str) -> bytes:
        data = self._store.get_image(digest) if digest in self._hashes else None
        if data is None:
            raise KeyError(digest)
        return data

    def __iter__(self) -> Iterator[str]:
        return iter(self._hashes)

    def __len__(self) -> int:
        return len(self._hashes)


@dataclass
class _Round:
    """Counters of one round, and the progress callback."""

    progress: ProgressCallback | None
    guides: int = 0
    images: int = 0
    bytes: int = 0
    events_sent: int = 0
    events_rejected: int = 0
    changed: bool = False
    pending: str | None = None

    def report(self, stage: str, done: int, total: int) -> None:
        if self.progress:
            try:
                self.progress(stage, done, total)
            except Exception:  # a broken progress display must not break sync
                log.exception("progress callback failed")


class SyncBusy(Exception):
    pass


class SyncService:
    def __init__(self, store: Store, transport: Transport, *, device: str = "", server_key: str = "",
                 app_version: str = __version__, interval_minutes: float = 5.0,
                 heartbeat_seconds: float = 60.0, workers: int = 4, batch_size: int = 500,
                 download_attempts: int = 3, push_attempts: int = 5, backoff_base: float = 0.5,
                 backoff_cap: float = 30.0, probe_cap: float = 60.0, max_retry_after: float = 60.0,
                 data_dir: str | Path | None = None, rng: random.Random | None = None):
        self.store = store
        self.tables = SyncTables(store)
        self.transport = transport
        self.device = device
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
        # Asked just before a switch; False keeps the new content staged (nothing is downloaded
        # again) and the switch is retried shortly. The app answers "no customer mid-session", so
        # a guide never changes under someone's finger.
        self.may_switch: Callable[[], bool] | None = None
        self.pending_retry = 15.0  # seconds until a deferred switch is tried again
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
        return cls(store, transport, device=settings.device, server_key=settings.server_key,
                   interval_minutes=settings.sync_interval, data_dir=settings.data_path, **kwargs)

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

    # --- pull ----------------------------------------------------------------------------------

    def _pinned_key(self) -> str:
        """The settings' server_key; without one, the key first seen is pinned (trust on first
        use) and every later manifest must match it."""
        if self.server_key:
            return self.server_key
        key = self.store.get_state("server_key_tofu")
        if not key:
            key = self.transport.fetch_server_key()
            self.store.set_state("server_key_tofu", key)
            log.warning("no server_key configured: pinned the server's key %s on first use", key)
        return key

    def _pull(self, rnd: _Round) -> str:
        rnd.report("manifest", 0, 1)
        installed_version = self.store.content_version
        etag = None
        if installed_version is not None and self.store.get_state("manifest_version") == installed_version:
            etag = self.store.get_state("manifest_etag")
        reply = self.transport.fetch_manifest(etag)
        rnd.report("manifest", 1, 1)
        if reply.status in (304, 404):
            return UNCHANGED
        manifest = reply.manifest or {}
        verify_manifest(manifest, reply.signature, self._pinned_key())
        check_manifest_shape(manifest)
        new_version = manifest["content_version"]
        if installed_version is not None and installed_version.isdigit() and new_version < int(installed_version):
            raise ContentRejected(f"the manifest's content version {new_version} is older than the "
                                  f"installed {installed_version}; an old manifest is not re-installed")
        tables = self.tables
        plan = make_plan(manifest, self.store.guide_versions(), self.store.image_hashes(), tables.staged_keys())
        if plan.is_noop(installed_version):
            self._remember_manifest(reply, plan.content_version)
            return UNCHANGED
        stale = set(tables.staged_keys()) - {(g, v) for g, v, _ in plan.changed}
        tables.unstage(stale)

        self._download_guides(plan, rnd)  # small and quick: staged before the long image downloads
        plan.images = self._images_needed(manifest, plan)
        if hasattr(self.transport, "clean_partials"):
            self.transport.clean_partials(set(plan.images))
        self._download_images(plan, rnd)
        changed = self._validated_library(manifest, plan)
        if self.may_switch is not None and not self.may_switch():
            rnd.pending = plan.content_version
            log.info("content version %s is ready; switching once no session is in progress",
                     plan.content_version)
            return OK if (rnd.guides or rnd.images) else UNCHANGED

        with tables.transaction():
            self.store.install_content(plan.content_version, changed, set(manifest["guides"]))
            self._remember_manifest(reply, plan.content_version)
            tables.clear_staging()
        removed = self.store.remove_unused_images()
        rnd.changed = True
        log.info("installed content version %s: %d guides changed, %d removed, %d images added, %d dropped",
                 plan.content_version, len(changed), len(plan.removed), len(plan.images), removed)
        if self.on_content_changed:
            try:
                self.on_content_changed(plan.content_version)
            except Exception:
                log.exception("on_content_changed callback failed")
        return OK

    def _images_needed(self, manifest: dict[str, Any], plan: Plan) -> dict[str, int | None]:
        """Images the new library's guides name and the store lacks (sha256 -> size). Taken from
        the guides themselves rather than the manifest's list alone, so an image nobody names is
        never fetched (and then dropped, and fetched again, every round)."""
        named: set[str] = set()
        for _, body in self.tables.staged().values():
            try:
                named |= set((json.loads(body).get("images") or {}).values())
            except (ValueError, AttributeError):
                pass  # validation refuses it with a proper reason
        for gid in plan.unchanged:
            installed = self.store.guide(gid)
            if installed:
                named |= set(installed[0].images.values())
        have = self.store.image_hashes()
        sizes = manifest["images"]
        return {h: (sizes.get(h) or {}).get("size") for h in sorted(named - have) if _is_hex(h)}

    def _remember_manifest(self, reply: ManifestReply, version: str) -> None:
        if reply.etag:
            self.store.set_state("manifest_etag", reply.etag)
            self.store.set_state("manifest_version", version)

    def _parallel(self, jobs: list[Any], fetch: Callable[[Any], bytes], done: Callable[[Any, bytes], None],
                  stage: str, rnd: _Round) -> None:
        """Run `fetch` on a small pool, at most `workers` at a time; call `done` on this thread
        as each arrives. The first failure cancels what has not started and is raised."""
        total = len(jobs)
        rnd.report(stage, 0, total)
        if not jobs:
            return
        finished = 0
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=f"sync-{stage}") as pool:
            pending: dict[Future, Any] = {}
            queue = list(reversed(jobs))
            try:
                while queue or pending:
                    while queue and len(pending) < self.workers * 2:
                        job = queue.pop()
                        pending[pool.submit(self._with_retries, fetch, job)] = job
                    ready, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in ready:
                        job = pending.pop(fut)
                        data = fut.result()
                        done(job, data)
                        finished += 1
                        rnd.report(stage, finished, total)
            finally:
                for fut in pending:
                    fut.cancel()

    def _with_retries(self, fetch: Callable[[Any], bytes], job: Any) -> bytes:
        """A cut connection is worth retrying at once (an image resumes where it stopped);
        anything else is not."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return fetch(job)
            except NetworkError:
                if attempt >= self.download_attempts or self._stop.is_set():
                    raise
                self._stop.wait(backoff_delay(attempt, self.backoff_base / 2, 2.0, self.rng))

    def _download_images(self, plan: Plan, rnd: _Round) -> None:
        # Stored a few at a time, not one by one: each commit can trigger a WAL checkpoint with
        # its fsyncs, and those, not the network, were the slow part of a large pull.
        pending: dict[str, bytes] = {}

        def flush() -> None:
            if not pending:
                return
            self.store.put_images(pending)
            if hasattr(self.transport, "discard_partial"):
                for digest in pending:
                    self.transport.discard_partial(digest)
            pending.clear()

        def fetch(job: tuple[str, int | None]) -> bytes:
            return self.transport.fetch_image(*job)

        def done(job: tuple[str, int | None], data: bytes) -> None:
            pending[job[0]] = data
            rnd.images += 1
            rnd.bytes += len(data)
            if sum(map(len, pending.values())) >= IMAGE_FLUSH_BYTES:
                flush()

        try:
            self._parallel(sorted(plan.images.items()), fetch, done, "images", rnd)
        finally:
            flush()  # what arrived is kept for the retry

    def _download_guides(self, plan: Plan, rnd: _Round) -> None:
        batch: list[tuple[str, int, str, bytes]] = []

        def fetch(job: tuple[str, int, str]) -> bytes:
            return self.transport.fetch_guide(*job)

        def done(job: tuple[str, int, str], body: bytes) -> None:
            batch.append((*job, body))
            rnd.guides += 1
            rnd.bytes += len(body)
            if len(batch) >= 100:
                self.tables.stage_guides(batch)
                batch.clear()

        try:
            self._parallel(plan.fetch, fetch, done, "guides", rnd)
        finally:
            self.tables.stage_guides(batch)  # what arrived is kept for the retry

    def _validated_library(self, manifest: dict[str, Any], plan: Plan) -> list[tuple[Guide, int]]:
        """The new library as a whole, validated again on the kiosk; the changed guides with
        their versions, ready to install."""
        staged = self.tables.staged()
        docs, changed_ids = [], {}
        for gid, version, sha in plan.changed:
            _, body = staged[(gid, version)]
            try:
                doc = json.loads(body)
            except ValueError as exc:
                raise ContentRejected(f"guide {gid} v{version} is not JSON ({exc})") from exc
            if not isinstance(doc, dict) or doc.get("id") != gid:
                raise ContentRejected(f"guide {gid} v{version}: the document is for another guide")
            docs.append(doc)
            changed_ids[gid] = (version, sha)
        for gid in plan.unchanged:
            installed = self.store.guide(gid)
            if installed is None:
                raise ContentRejected(f"guide {gid} vanished from the store during sync")
            docs.append(installed[0].to_dict())
        try:
            library = library_from_documents(docs, _StoredImages(self.store))
        except LibraryInvalid as exc:
            first = "; ".join(str(p) for p in exc.problems[:3])
            raise ContentRejected(f"the new library does not validate on the kiosk "
                                  f"({len(exc.problems)} problem(s)): {first}") from exc
        changed = []
        for gid, (version, sha) in changed_ids.items():
            guide = library.guides[gid]
            if guide.sha256 != sha:
                raise ContentRejected(f"guide {gid} v{version}: its canonical form does not hash to the "
                                      "manifest's sha256")
            changed.append((guide, version))
        return changed

    # --- push ----------------------------------------------------------------------------------

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
                self.transport.health()  # one cheap reply teaches the clock offset before stamping
            offset = self.transport.server_offset
            try:
                reply = self.transport.post_events([stamp_offset(e.body, offset) for e in batch])
            except RateLimited as exc:
                attempt += 1
                if exc.retry_after > self.max_retry_after or attempt > self.push_attempts * 2:
                    self._not_before = time.monotonic() + exc.retry_after
                    raise
                self._stop.wait(exc.retry_after)
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

    # --- heartbeat -----------------------------------------------------------------------------

    def heartbeat(self) -> bool:
        last = self.store.get_state("last_sync") or {}
        version = self.store.content_version
        beat = {
            "content_version": int(version) if version and version.isdigit() else version,
            "outbox_depth": self.store.outbox_depth(),
            "last_sync_result": {k: last.get(k) for k in ("result", "at", "error", "content_version")},
            "app_version": self.app_version,
            "free_disk": shutil.disk_usage(self.data_dir).free,
            "uptime": round(time.monotonic() - self.started_at, 1),
        }
        try:
            self.transport.post_heartbeat(beat)
            return True
        except TransportError as exc:
            log.info("heartbeat not delivered: %s", exc)
            return False

    # --- background scheduler ------------------------------------------------------------------

    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="kiosk-sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)

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

    def reachable(self) -> bool:
        try:
            return bool(self.transport.health())
        except Exception:  # noqa: BLE001 - any failure to reach it means "not reachable"
            return False

    def request_sync(self) -> None:
        """Staff mode's "Sync now": a round as soon as the thread is free."""
        self._requested = True
        self._wake.set()

    @property
    def running(self) -> bool:
        return bool(self._thread and self._thread.is_alive())

    def _loop(self) -> None:
        next_sync = time.monotonic()  # a round on start
        next_beat = next_sync + self.heartbeat_seconds
        next_probe: float | None = None  # set while the server is unreachable
        failures = 0
        while not self._stop.is_set():
            now = time.monotonic()
            try:
                if self._requested or (next_probe is None and now >= max(next_sync, self._not_before)):
                    self._requested = False
                    result = self.sync_once()
                    now = time.monotonic()
                    next_beat = now + self.heartbeat_seconds
                    if result.result == OFFLINE and now >= self._not_before:
                        failures = 1
                        next_probe = now + backoff_delay(1, 1.0, self.probe_cap, self.rng) + 1.0
                    else:
                        failures, next_probe = 0, None
                        next_sync = now + (min(self.interval, self.pending_retry) if result.content_pending
                                           else self.interval)
                elif next_probe is not None and now >= next_probe:
                    if self.transport.health():
                        log.info("the server answers again: syncing now")
                        next_probe, failures = None, 0
                        next_sync = now
                        continue
                    failures += 1
                    next_probe = now + 1.0 + backoff_delay(failures, 1.0, self.probe_cap, self.rng)
                elif next_probe is None and now >= next_beat:
                    self.heartbeat()
                    next_beat = now + self.heartbeat_seconds
            except Exception:  # never let the sync thread die
                log.exception("sync scheduler step failed")
                next_sync = time.monotonic() + self.interval
            deadlines = [next_probe if next_probe is not None else max(next_sync, self._not_before)]
            if next_probe is None:
                deadlines.append(next_beat)
            timeout = max(0.0, min(deadlines) - time.monotonic())
            self._wake.wait(timeout)
            self._wake.clear()


def start_background_sync(settings: Any, store: Store, **kwargs: Any) -> SyncService | None:
    """The app's one call: a started SyncService for these settings, or None for a kiosk with no
    server configured (it runs from its own library; `kiosk import` updates it)."""
    if not settings.server_url:
        log.info("no server_url configured: this kiosk does not sync")
        return None
    service = SyncService.from_settings(settings, store, **kwargs)
    service.start()
    return service


def sync_status(store: Store) -> dict[str, Any]:
    """What `kiosk status` shows about sync: the last round, and events set aside as malformed."""
    tables = SyncTables(store)
    return {"last_sync": store.get_state("last_sync"), "rejected_events": tables.rejected_count(),
            "manifest_etag": store.get_state("manifest_etag")}


__all__ = [
    "STAGES",
    "ContentRejected",
    "Plan",
    "SyncResult",
    "SyncService",
    "make_plan",
    "start_background_sync",
    "sync_status",
    "verify_manifest",
]
