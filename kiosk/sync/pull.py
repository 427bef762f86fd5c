"""Pull: the signed manifest, the plan, verified downloads staged, one switch (see __init__)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from contract.delta import DeltaMismatch, apply_delta
from contract.guides import Guide, LibraryInvalid, LibrarySettings
from contract.images import ImageRefused, header_size
from contract.protocol import DELTA_PROTOCOL
from contract.validation import library_from_documents
from kiosk.sync.manifest import (
    ContentRejected,
    Plan,
    _is_hex,
    check_freshness,
    check_manifest_shape,
    make_plan,
    manifest_epoch,
    manifest_group,
    verify_manifest,
)
from kiosk.sync.results import OK, UNCHANGED, _Round
from kiosk.sync.timing import backoff_delay
from kiosk.transport import ManifestReply, NetworkError
from offline_cache.store import Store

if TYPE_CHECKING:
    import random

    from kiosk.sync.service import Transport
    from offline_cache.sync_tables import SyncTables

log = logging.getLogger("kiosk.sync")

IMAGE_FLUSH_BYTES = 32_000_000  # verified images held in memory before one write to the store
# Set once this kiosk read a manifest for its "library" settings. Until then the stored ETag (of a
# release that ignored them) is not sent: an unchanged 304 would keep the settings from arriving.
SETTINGS_READ = "manifest_settings_read"
# The signed manifest of the installed content, as verified when it was installed: the base a delta
# from the server is applied to (contract/delta.py).
INSTALLED_MANIFEST = "installed_manifest"


class _StoredImages(Mapping):
    """The store's images as the mapping library_from_documents checks names against, without
    reading hundreds of megabytes into memory to do it."""

    def __init__(self, store: Store, arriving: set[str] = frozenset()):
        self._store = store
        self._hashes = store.image_hashes() | arriving  # `arriving`: being downloaded this round

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
class StagedSwitch:
    """A round's verified new content that waited for a session to end: everything step 6 needs."""

    installed_version: str | None  # the content it replaces: stale once another switch happened
    reply: ManifestReply
    plan: Plan
    changed: list
    manifest: dict[str, Any]
    settings: Any
    prepared: dict[str, Any]


class PullMixin:
    """SyncService's pull half. What it uses of the service is declared here; SyncService.__init__
    sets it."""

    store: Store
    tables: SyncTables
    transport: Transport
    server_key: str
    workers: int
    download_attempts: int
    backoff_base: float
    rng: random.Random
    may_switch: Callable[[], bool] | None
    on_content_changed: Callable[[str], None] | None
    _stop: threading.Event
    _staged_switch: StagedSwitch | None

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
        if (installed_version is not None and self.store.get_state("manifest_version") == installed_version
                and self.store.get_state(SETTINGS_READ)):
            etag = self.store.get_state("manifest_etag")
        reply = self._fetch_manifest(etag, installed_version)
        rnd.report("manifest", 1, 1)
        if reply.status in (304, 404):
            return UNCHANGED
        manifest = reply.manifest or {}
        verify_manifest(manifest, reply.signature, self._pinned_key())
        check_manifest_shape(manifest)
        check_freshness(manifest, installed_version, self.store.get_state("content_epoch", 0))
        tables = self.tables
        plan = make_plan(manifest, self.store.guide_versions(), self.store.image_hashes(), tables.staged_keys())
        if plan.is_noop(installed_version, self.store.get_state("library_settings") or {}):
            with tables.transaction():
                self._remember_manifest(reply, plan.content_version, manifest)
            return UNCHANGED
        stale = set(tables.staged_keys()) - {(g, v) for g, v, _ in plan.changed}
        tables.unstage(stale)

        self._download_guides(plan, rnd)  # small and quick: staged before the long image downloads
        plan.images = self._images_needed(manifest, plan)
        if hasattr(self.transport, "clean_partials"):
            self.transport.clean_partials(set(plan.images))
        # The images download on their own pool while this thread checks the new library, which
        # needs only their names: the validation's CPU time overlaps the network's (a large pull
        # used to do one after the other). A failed download fails the round before the switch,
        # and install_content refuses a guide whose images are not stored.
        cancel = threading.Event()  # a library that does not validate stops the downloads
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-images") as side:
            images = side.submit(self._download_images, plan, rnd, cancel)
            try:
                changed, settings = self._validated_library(manifest, plan, arriving=set(plan.images))
                shas = {gid: sha for gid, _, sha in plan.changed}  # each checked by _validated_library
                prepared = {guide.id: self.store.guide_rows(guide, version, shas[guide.id])
                            for guide, version in changed}
            except BaseException:
                cancel.set()
                if images.exception() is not None:  # the refusal is the reason given; this goes to the log
                    log.info("image downloads stopped: %s", images.exception())
                raise
            images.result()
        switch = StagedSwitch(installed_version, reply, plan, changed, manifest, settings, prepared)
        if self.may_switch is not None and not self.may_switch():
            rnd.pending = plan.content_version
            # kept, verified and ready, for switch_staged(): the app asks for it the moment the
            # session ends, not a poll later that may find the next customer already there
            self._staged_switch = switch
            log.info("content version %s is ready; switching once no session is in progress",
                     plan.content_version)
            return OK if (rnd.guides or rnd.images) else UNCHANGED
        self._switch(switch)
        rnd.changed = True
        return OK

    def _switch(self, switch: StagedSwitch) -> None:
        """Step 6 and 7: one transaction installs the new content; then unused images go."""
        self._staged_switch = None
        plan, changed, manifest = switch.plan, switch.changed, switch.manifest
        with self.tables.transaction():
            self.store.install_content(plan.content_version, changed, set(manifest["guides"]),
                                       settings=switch.settings, prepared=switch.prepared)
            self._remember_manifest(switch.reply, plan.content_version, manifest)
            self.tables.clear_staging()
        removed = self.store.remove_unused_images()
        log.info("installed content version %s: %d guides changed, %d removed, %d images added, %d dropped",
                 plan.content_version, len(changed), len(plan.removed), len(plan.images), removed)
        if self.on_content_changed:
            try:
                self.on_content_changed(plan.content_version)
            except Exception:
                log.exception("on_content_changed callback failed")

    def _fetch_manifest(self, etag: str | None, installed_version: str | None) -> ManifestReply:
        """The manifest meant for this kiosk: assembled from a delta against the installed one when
        the server speaks protocol 4 and the delta checks out, else sent whole. A delta whose
        signature, base, digest or result's signature does not match is refused (logged) and the
        full manifest asked for: a delta can save bytes, never decide what is installed."""
        base = self._delta_base(installed_version)
        if base is not None:
            reply = self.transport.fetch_delta(base["content_version"], manifest_epoch(base), etag)
            if reply.status == 304 or (reply.status == 200 and reply.delta is None):
                return reply  # unchanged, or the server sent the full manifest itself
            if reply.delta is not None:
                try:
                    return ManifestReply(200, self._applied(base, reply), reply.signature, reply.etag)
                except (ContentRejected, DeltaMismatch) as exc:
                    log.warning("the delta from content version %s was refused (%s); fetching the full "
                                "manifest", base["content_version"], exc)
        return self.transport.fetch_manifest(etag)

    def _delta_base(self, installed_version: str | None) -> dict[str, Any] | None:
        """The installed manifest, when a delta may be asked for against it."""
        if not hasattr(self.transport, "fetch_delta") or installed_version is None:
            return None
        announced = self.transport.server_protocol or self.store.get_state("server_protocol")
        if (announced or 1) < DELTA_PROTOCOL or not self.store.get_state(SETTINGS_READ):
            return None
        base = self.store.get_state(INSTALLED_MANIFEST)
        if not isinstance(base, dict) or str(base.get("content_version")) != installed_version:
            return None
        return base

    def _applied(self, base: dict[str, Any], reply: ManifestReply) -> dict[str, Any]:
        """The full manifest the delta in `reply` leads to, with every signature checked."""
        key = self._pinned_key()
        verify_manifest(reply.delta or {}, reply.delta_signature, key)
        manifest = apply_delta(base, reply.delta or {})
        verify_manifest(manifest, reply.signature, key)
        return manifest

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

    def _remember_manifest(self, reply: ManifestReply, version: str, manifest: dict[str, Any]) -> None:
        """With the content it names: the manifest's ETag, and the group and epoch accepted (a later
        manifest must not have a lower epoch; `kiosk status` shows the group)."""
        if manifest_epoch(manifest) != self.store.get_state("content_epoch", 0):
            self.store.set_state("content_epoch", manifest_epoch(manifest))
        if manifest_group(manifest) != self.store.get_state("content_group"):
            self.store.set_state("content_group", manifest_group(manifest))
        self.store.set_state(INSTALLED_MANIFEST, manifest)
        if reply.etag:
            self.store.set_state("manifest_etag", reply.etag)
            self.store.set_state("manifest_version", version)
            if not self.store.get_state(SETTINGS_READ):
                self.store.set_state(SETTINGS_READ, True)

    def _parallel(self, jobs: list[Any], fetch: Callable[[Any], bytes], done: Callable[[Any, bytes], None],
                  stage: str, rnd: _Round, cancel: threading.Event | None = None) -> None:
        """Run `fetch` on a small pool, at most `workers` at a time; call `done` on this thread
        as each arrives. The first failure cancels what has not started and is raised; so does
        `cancel` once set (what is under way still arrives and is kept)."""
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
                    if cancel is not None and cancel.is_set():
                        queue.clear()
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

    def _download_images(self, plan: Plan, rnd: _Round, cancel: threading.Event | None = None) -> None:
        # Stored a batch at a time, not one by one: each commit can trigger a WAL checkpoint with
        # its fsyncs. The batches are written on a writer thread of their own while the downloads
        # go on (a large pull spent a third of its time with the network idle, waiting for
        # SQLite); at most one batch is being written while the next fills, so memory stays
        # within two batches.
        pending: dict[str, bytes] = {}
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-store")
        writing: list[Future] = []

        def store(batch: dict[str, bytes]) -> None:
            self.store.put_images(batch)
            if hasattr(self.transport, "discard_partial"):
                for digest in batch:
                    self.transport.discard_partial(digest)

        def flush() -> None:
            while writing:
                writing.pop().result()  # the previous batch is in (or its error is raised here)
            if pending:
                writing.append(writer.submit(store, dict(pending)))
                pending.clear()

        def fetch(job: tuple[str, int | None]) -> bytes:
            data = self.transport.fetch_image(*job)
            # The server decoded every image when it was published; here the header is enough
            # (a pull stays fast) to keep a decoded image within MAX_IMAGE_SIDE on this kiosk.
            # Checked on the download's thread, so the next downloads never wait for it.
            try:
                header_size(data)
            except ImageRefused as exc:
                raise ContentRejected(f"image {job[0][:12]}\u2026 {exc}") from exc
            return data

        def done(job: tuple[str, int | None], data: bytes) -> None:
            pending[job[0]] = data
            rnd.images += 1
            rnd.bytes += len(data)
            if sum(map(len, pending.values())) >= IMAGE_FLUSH_BYTES:
                flush()

        try:
            self._parallel(sorted(plan.images.items()), fetch, done, "images", rnd, cancel)
        finally:
            try:
                flush()  # what arrived is kept for the retry
                flush()
            finally:
                writer.submit(self.store.release_connection).result()
                writer.shutdown()

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

    def _validated_library(self, manifest: dict[str, Any], plan: Plan,
                           arriving: set[str] = frozenset()) -> tuple[list[tuple[Guide, int]], LibrarySettings]:
        """The new library as a whole, validated again on the kiosk: the changed guides with
        their versions, and the library's settings (the manifest's "library"), ready to install.
        `arriving`: images being downloaded meanwhile, counted as present."""
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
            library = library_from_documents(docs, _StoredImages(self.store, arriving), plan.settings)
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
        return changed, library.settings

