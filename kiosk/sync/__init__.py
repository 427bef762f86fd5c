"""The kiosk's sync client: pull signed content, push the event outbox, send heartbeats.

Logic over interfaces: `SyncService` works with a store (offline_cache.store.Store) and a
transport (kiosk.transport.HttpTransport, or any object with the same methods), so the same code
runs on the kiosk and in tests with a fake transport. The transport only fetches and sends; this
package decides what to fetch and what to write; the store writes.

  results.py    outcome constants, SyncResult, the counters of one round
  manifest.py   signature check, shape check and plan: pure functions
  pull.py       manifest, downloads, validation, the switch        (SyncService's PullMixin)
  push.py       outbox batches, acknowledgements, refused events    (PushMixin)
  heartbeat.py  the contract's Heartbeat, built from the store      (HeartbeatMixin)
  scheduler.py  the background thread                               (SchedulerMixin)
  service.py    SyncService: one round under one lock, staff mode's calls, start_background_sync
  timing.py     backoff with jitter
The mixins share the service's state (declared at the top of each) because a round needs all of
it at once: the stop event that ends a push's backoff also ends a download's retry and the loop.

Pull (one round):
  1. the manifest, conditionally (If-None-Match with the ETag of the installed manifest);
  2. its Ed25519 signature checked against the pinned server key, anything else rejected;
  3. a plan: guides whose (version, sha256) differ from what is installed, images not stored yet;
  4. downloads on a small thread pool, each verified on arrival; images go into the store at
     once (content-addressed: nothing names them until the switch), guides into staged_guides,
     so a retry after a crash or a cut fetches only what is still missing;
  5. the whole new library validated again (contract.guides.library_from_documents), with the
     `_library.yaml` settings the signed manifest carries (its optional "library" entry);
  6. one SQLite transaction switches content version, guides, settings and search index together;
  7. only then are images nobody names any more removed.
A failure anywhere before 6 leaves the installed content exactly as it was; the cause is kept in
sync_state 'last_sync' for `kiosk status` and the heartbeat, and the next round tries again.

Push (before the pull in each round): the outbox in bounded batches, each event stamped with the
clock offset learnt from the server's replies and with the device name the server confirmed for
this token (kiosk/identity.py); only what the server acknowledged (accepted + duplicates) is deleted; events it
rejected as malformed are moved to rejected_events. Network errors and 5xx back off exponentially
with full jitter, 429 waits out Retry-After, 401/403 stop the round with a clear status.

The scheduler (start/stop/request_sync) runs rounds on one background thread: on start, every
`interval` minutes, on demand (staff "Sync now"), and as soon as the server answers again after a
network failure (it probes the server with backoff meanwhile). Heartbeats go on a timer and after
each round.
"""

from __future__ import annotations

from kiosk.sync.manifest import ContentRejected, Plan, check_manifest_shape, make_plan, verify_manifest
from kiosk.sync.results import STAGES, SyncResult
from kiosk.sync.service import SyncService, start_background_sync

__all__ = [
    "STAGES",
    "ContentRejected",
    "Plan",
    "SyncResult",
    "SyncService",
    "check_manifest_shape",
    "make_plan",
    "start_background_sync",
    "verify_manifest",
]
