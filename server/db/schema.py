"""The server's tables, one schema for SQLite (default) and PostgreSQL.

Times are unix seconds (double precision) everywhere: portable across both databases, sortable,
and what the kiosk sends; a dashboard on PostgreSQL turns them into timestamps with to_timestamp().

A later release changes the definitions here to match the migration it appends
(server.db.migrations); migration 1 must keep creating the version-1 shape, so it builds its tables
from `_v1_tables`, not from `metadata`.
"""

from __future__ import annotations

import sqlalchemy as sa


def _v1_tables(md: sa.MetaData) -> None:
    sa.Table(
        "schema_version", md,
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("applied_at", sa.Double, nullable=False),
    )
    # Secrets every server process must share (mobile link HMAC, staff cookie key): kept here,
    # never only in one process's memory.
    sa.Table(
        "settings", md,
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    sa.Table(
        "content_versions", md,
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("published_at", sa.Double, nullable=False),
        sa.Column("published_by", sa.String(120), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("rollback_of", sa.Integer, nullable=True),  # content version whose content this re-publishes
        sa.Column("manifest_json", sa.Text, nullable=False),  # canonical(manifest); signed when served
    )
    sa.Table(
        "guide_versions", md,
        sa.Column("guide_id", sa.String(80), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),  # exact bytes of Guide.canonical_json()
        sa.Column("created_at", sa.Double, nullable=False),
    )
    sa.Table(
        "content_guides", md,
        sa.Column("content_version", sa.Integer, sa.ForeignKey("content_versions.version"), primary_key=True),
        sa.Column("guide_id", sa.String(80), primary_key=True),
        sa.Column("guide_version", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(["guide_id", "guide_version"], ["guide_versions.guide_id", "guide_versions.version"]),
    )
    sa.Table(
        "images", md,
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),  # png | jpeg
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
    )
    sa.Table(
        "devices", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False, unique=True),
        sa.Column("location", sa.Text, nullable=True),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("handoff_key", sa.String(64), nullable=False),  # hex of contract.handoff.handoff_key(token)
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("revoked_at", sa.Double, nullable=True),
        # fleet state, from heartbeats
        sa.Column("last_seen", sa.Double, nullable=True),
        sa.Column("last_heartbeat", sa.Double, nullable=True),
        sa.Column("content_version", sa.String(64), nullable=True),
        sa.Column("outbox_depth", sa.BigInteger, nullable=True),
        sa.Column("last_sync_result", sa.Text, nullable=True),
        sa.Column("app_version", sa.String(64), nullable=True),
        sa.Column("free_disk", sa.BigInteger, nullable=True),
        sa.Column("uptime", sa.Double, nullable=True),
    )
    sa.Table(
        "staff", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(80), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
    )
    sa.Table(
        "events", md,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("uuid", sa.String(32), nullable=False),
        sa.Column("device", sa.String(80), nullable=False),
        sa.Column("session", sa.String(80), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("guide", sa.String(80), nullable=True),
        sa.Column("guide_version", sa.Integer, nullable=True),
        sa.Column("step", sa.String(80), nullable=True),
        sa.Column("lang", sa.String(16), nullable=True),
        sa.Column("kiosk_time", sa.Double, nullable=False),
        sa.Column("mono", sa.Double, nullable=True),
        sa.Column("server_time", sa.Double, nullable=False),  # kiosk_time corrected by the kiosk's clock offset
        sa.Column("received_at", sa.Double, nullable=False),
        sa.Column("data", sa.Text, nullable=False),  # JSON object, ASCII-escaped
        # derived from data, so the dashboard filters and groups without parsing JSON
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("rating", sa.SmallInteger, nullable=True),
        sa.Column("helped", sa.Boolean, nullable=True),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("query", sa.Text, nullable=True),
        sa.Column("hits", sa.Integer, nullable=True),
        sa.UniqueConstraint("uuid", name="uq_events_uuid"),
        sa.Index("ix_events_guide_type", "guide", "type"),
        sa.Index("ix_events_device_time", "device", "server_time"),
        sa.Index("ix_events_session", "session"),
        sa.Index("ix_events_server_time", "server_time"),
    )


metadata = sa.MetaData()
_v1_tables(metadata)
schema_version = metadata.tables["schema_version"]
settings = metadata.tables["settings"]
content_versions = metadata.tables["content_versions"]
guide_versions = metadata.tables["guide_versions"]
content_guides = metadata.tables["content_guides"]
images = metadata.tables["images"]
devices = metadata.tables["devices"]
staff = metadata.tables["staff"]
events = metadata.tables["events"]
# Version 6: events the kiosk reports the server refused (its heartbeat's rejected_events).
devices.append_column(sa.Column("rejected_events", sa.BigInteger, nullable=True))  # a Count, as outbox_depth
# Version 10: an event's raw wall-clock time on the kiosk (its wall_time, else its kiosk_time).
# kiosk_time is the session's start plus monotonic time, so a step of the kiosk's clock shows only
# here; the dashboard reads server_time, which is kiosk_time corrected. And whether a kiosk's staff
# PIN is still the factory default (its heartbeat's default_pin), for the Fleet page.
events.append_column(sa.Column("kiosk_time_raw", sa.Double, nullable=True))
devices.append_column(sa.Column("default_pin", sa.Boolean, nullable=True))


def _unique_per_device(table: sa.Table) -> None:
    """Version 8: an event is unique per (device, uuid), no longer per uuid across the fleet: a
    device re-sending another's uuid was told "duplicate" and its event was lost."""
    table.constraints.discard(next(c for c in table.constraints if c.name == "uq_events_uuid"))
    table.append_constraint(sa.UniqueConstraint("device", "uuid", name="uq_events_device_uuid"))


_unique_per_device(events)


# Version 2: the dashboard's aggregations (server/stats.py) select events by type and time, by
# guide and version, and look up other events of the same session. The type+time index also holds
# every column those aggregations read, so they scan the index alone and never the table.
DASHBOARD_INDEXES = [
    sa.Index("ix_events_type_time", events.c.type, events.c.server_time, events.c.session, events.c.guide,
             events.c.guide_version, events.c.lang, events.c.device, events.c.step, events.c.outcome,
             events.c.rating),
    sa.Index("ix_events_guide_version_type", events.c.guide, events.c.guide_version, events.c.type),
    sa.Index("ix_events_session_type", events.c.session, events.c.type),
]


# Version 3: per-session summaries the dashboard's overview and guide tables read instead of
# counting distinct sessions over raw events (server/summary.py keeps them; ingest refreshes the
# sessions each batch touches, so they always agree with `events`).
session_summary = sa.Table(
    "session_summary", metadata,
    sa.Column("device", sa.String(80), primary_key=True),
    sa.Column("session", sa.String(80), primary_key=True),
    sa.Column("started_at", sa.Double, nullable=False),  # server time of session_start (else first event)
    sa.Column("lang", sa.String(16), nullable=True),  # language at session_start (else first event's)
    sa.Column("has_start", sa.SmallInteger, nullable=False),  # 1 when its session_start arrived
    sa.Column("guides", sa.Integer, nullable=False),  # distinct guides with a step view
    sa.Column("resolved", sa.SmallInteger, nullable=False),
    sa.Column("escalated", sa.SmallInteger, nullable=False),
    sa.Column("walked_away", sa.SmallInteger, nullable=False),  # idle timeout on a step, no outcome
    sa.Column("abandoned_home", sa.SmallInteger, nullable=False),  # idle timeout on the home screen
    sa.Column("rating_sum", sa.Integer, nullable=False),
    sa.Column("ratings", sa.Integer, nullable=False),
    sa.Column("handoffs", sa.Integer, nullable=False),  # handoff_shown events
    sa.Column("handoff_opened", sa.SmallInteger, nullable=False),
    # holds every column the overview reads, so it is answered from the index alone
    sa.Index("ix_session_summary_started", "started_at", "device", "lang", "has_start", "guides", "resolved",
             "escalated", "walked_away", "abandoned_home", "rating_sum", "ratings", "handoffs", "handoff_opened"),
)
session_guides = sa.Table(
    "session_guides", metadata,
    sa.Column("device", sa.String(80), primary_key=True),
    sa.Column("session", sa.String(80), primary_key=True),
    sa.Column("guide", sa.String(80), primary_key=True),
    sa.Column("guide_version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("started_at", sa.Double, nullable=False),  # the session's, for the same period filter
    sa.Column("lang", sa.String(16), nullable=True),  # the session's
    sa.Column("resolved", sa.SmallInteger, nullable=False),
    sa.Column("escalated", sa.SmallInteger, nullable=False),
    sa.Column("rating_sum", sa.Integer, nullable=False),
    sa.Column("ratings", sa.Integer, nullable=False),
    # covering indexes again: the guides table by period, one guide's versions by guide and period
    sa.Index("ix_session_guides_started", "started_at", "guide", "guide_version", "device", "lang", "resolved",
             "escalated", "rating_sum", "ratings"),
    sa.Index("ix_session_guides_guide_started", "guide", "started_at", "guide_version", "device", "lang",
             "resolved", "escalated", "rating_sum", "ratings"),
)


# Version 4: the dashboard's search page reads only search events, scattered through the table; a
# partial index holding their time, hit count and query answers it from the index alone.
SEARCH_INDEX = sa.Index("ix_events_search", events.c.type, events.c.server_time, events.c.hits, events.c.query,
                        sqlite_where=events.c.type == sa.literal_column("'search'"),
                        postgresql_where=events.c.type == sa.literal_column("'search'"))


# Version 5: failed staff logins, so guessing a password is throttled across every server process.
# Dropped by version 9 (throttle counters took its place); migration 5 still creates it.
def _v5_login_failures(md: sa.MetaData) -> sa.Table:
    return sa.Table(
        "login_failures", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(80), nullable=False),
        sa.Column("at", sa.Double, nullable=False),
        sa.Index("ix_login_failures_user_at", "username", "at"),
    )


# Version 9: counters that every server process shares (server.throttle): failed staff logins per
# address and username, phone-page requests per signed link and session, and the day's count of
# lockouts for the dashboard. One row per counter; its window starts with its first hit, and a
# single INSERT ... ON CONFLICT DO UPDATE ... RETURNING increments it (or starts a new window), so
# concurrent requests in any process each see their own count.
throttle_counters = sa.Table(
    "throttle_counters", metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("hits", sa.Integer, nullable=False),
    sa.Column("resets_at", sa.Double, nullable=False),  # the window's end: then the count starts again
    sa.Index("ix_throttle_counters_resets", "resets_at"),
)
# Version 9: staff logins kept server-side, so logging out or changing a password ends them at
# once. The cookie holds a random token; only its sha256 is stored.
staff_sessions = sa.Table(
    "staff_sessions", metadata,
    sa.Column("token_sha256", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(80), nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("expires_at", sa.Double, nullable=False),
    sa.Index("ix_staff_sessions_username", "username"),
)


# Version 11: rollout groups (shared/DESIGN.md, "Groups and rollbacks"). Every device is in exactly
# one group (`default` unless told otherwise); each group points at the content version meant for its
# kiosks. A device's epoch rises when it moves to another group or its group is rolled back, and its
# signed manifest carries it, so the kiosk may go down to a lower content version then and only then.
# A version published to one group (`staged_to`) records the version that group had (`base_version`).
DEFAULT_GROUP = "default"


def _v11_rollout_groups(md: sa.MetaData) -> sa.Table:
    """The table as migration 11 creates it (later migrations add columns to it)."""
    return sa.Table(
        "rollout_groups", md,
        sa.Column("name", sa.String(80), primary_key=True),
        sa.Column("content_version", sa.Integer, nullable=True),  # null: nothing published to it yet
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("changed_at", sa.Double, nullable=True),  # when its version last moved
    )


rollout_groups = _v11_rollout_groups(metadata)
devices.append_column(sa.Column("rollout_group", sa.String(80), nullable=False, server_default=DEFAULT_GROUP))
devices.append_column(sa.Column("epoch", sa.Integer, nullable=False, server_default="0"))
content_versions.append_column(sa.Column("base_version", sa.Integer, nullable=True))
content_versions.append_column(sa.Column("staged_to", sa.String(80), nullable=True))
# Version 12: the `_library.yaml` settings (search synonyms) a content version was published with, as
# canonical JSON; null when the library had none. The version's signed manifest carries the same
# document as its "library" entry (server/publish.py), so kiosks install them with the guides.
content_versions.append_column(sa.Column("library_settings", sa.Text, nullable=True))


# Version 13: staff roles and the content studio's drafts (docs/studio.md). Staff from before roles
# are publishers. A draft is a change set with one owner, based on a content version: the guides it
# changes (a document in the library format, as YAML would read it) or deletes (no document). Every
# save is a revision, which the studio's autosave names in If-Match and undo walks back.
staff.append_column(sa.Column("role", sa.String(16), nullable=False, server_default="publisher"))
drafts = sa.Table(
    "drafts", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("owner", sa.String(80), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("base_version", sa.Integer, nullable=True),  # the content version it was based on
    sa.Column("state", sa.String(16), nullable=False),  # open | submitted | published | discarded
    sa.Column("target_group", sa.String(80), nullable=True),  # chosen at submit; null: every group
    sa.Column("revision", sa.Integer, nullable=False),  # its latest revision (the If-Match value)
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("submitted_at", sa.Double, nullable=True),
    sa.Column("decided_by", sa.String(80), nullable=True),  # the publisher who approved or sent it back
    sa.Column("published_version", sa.Integer, nullable=True),
    sa.Index("ix_drafts_state", "state"),
)
draft_guides = sa.Table(
    "draft_guides", metadata,
    sa.Column("draft_id", sa.Integer, sa.ForeignKey("drafts.id"), primary_key=True),
    sa.Column("guide_id", sa.String(80), primary_key=True),
    sa.Column("document", sa.Text, nullable=True),  # JSON; null: the draft deletes the guide
    sa.Column("changed_by", sa.String(80), nullable=False),
    sa.Column("changed_at", sa.Double, nullable=False),
)
draft_revisions = sa.Table(
    "draft_revisions", metadata,
    sa.Column("draft_id", sa.Integer, sa.ForeignKey("drafts.id"), primary_key=True),
    sa.Column("revision", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("guide_id", sa.String(80), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),  # what changed, in words ("text of step 'tag' (es)")
    # the guide in the draft before this revision: 'base' (unchanged from the base version), 'deleted'
    # or 'document' (then in `before`), so undo puts it back exactly
    sa.Column("before_kind", sa.String(8), nullable=False),
    sa.Column("before", sa.Text, nullable=True),
    sa.Column("undoes", sa.Integer, nullable=True),  # an undo: the revision it reverted
    sa.Column("undone", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("by", sa.String(80), nullable=False),
    sa.Column("at", sa.Double, nullable=False),
)
draft_comments = sa.Table(
    "draft_comments", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("draft_id", sa.Integer, sa.ForeignKey("drafts.id"), nullable=False),
    sa.Column("author", sa.String(80), nullable=False),
    sa.Column("guide_id", sa.String(80), nullable=True),
    sa.Column("step_id", sa.String(80), nullable=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # comment | submitted | returned | approved
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Index("ix_draft_comments_draft", "draft_id"),
)


# Version 14: summaries for comparisons (shared/DESIGN.md), kept for ever, merged as events arrive
# (server/summary.py). One row per (site day (time_zone) the session started, guide, guide version, rollout group
# of the kiosk, step); step '' is the whole guide version. On a guide row `sessions` counts sessions
# that showed a step of it and the outcome columns count those sessions; on a step row `views` counts
# sessions that showed that step, `walked_away` those whose idle timeout fired there and `escalated`
# those that reached an "ask a person" outcome there.
comparison_summary = sa.Table(
    "comparison_summary", metadata,
    sa.Column("day", sa.String(10), primary_key=True),  # YYYY-MM-DD, in the site's time_zone
    sa.Column("guide", sa.String(80), primary_key=True),
    sa.Column("guide_version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("rollout_group", sa.String(80), primary_key=True),
    sa.Column("step", sa.String(80), primary_key=True),
    sa.Column("sessions", sa.Integer, nullable=False, server_default="0"),
    sa.Column("resolved", sa.Integer, nullable=False, server_default="0"),
    sa.Column("escalated", sa.Integer, nullable=False, server_default="0"),
    sa.Column("walked_away", sa.Integer, nullable=False, server_default="0"),  # idle timeout, no outcome
    sa.Column("handoffs", sa.Integer, nullable=False, server_default="0"),  # sessions that showed the phone QR
    sa.Column("rating_sum", sa.Integer, nullable=False, server_default="0"),
    sa.Column("ratings", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rating_squares", sa.Integer, nullable=False, server_default="0"),
    sa.Column("views", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_comparison_summary_guide", "guide", "day", "guide_version", "rollout_group"),
)
# Where each session's share of comparison_summary was merged: its day and the group its kiosk was
# in when it was first summarised, so later events of the session land in the same row even after
# the kiosk moved group (and a session whose raw events were pruned keeps its place).
session_rollout = sa.Table(
    "session_rollout", metadata,
    sa.Column("device", sa.String(80), primary_key=True),
    sa.Column("session", sa.String(80), primary_key=True),
    sa.Column("rollout_group", sa.String(80), nullable=False),
)
# Version 14: the rollout guard's per-group settings (null: the server.toml default) and its decisions.
rollout_groups.append_column(sa.Column("guard", sa.SmallInteger, nullable=True))  # 1 on, 0 off
rollout_groups.append_column(sa.Column("guard_confidence", sa.Double, nullable=True))
rollout_groups.append_column(sa.Column("guard_min_sessions", sa.Integer, nullable=True))
rollout_groups.append_column(sa.Column("guard_min_days", sa.Double, nullable=True))
guard_decisions = sa.Table(
    "guard_decisions", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("rollout_group", sa.String(80), nullable=False),
    sa.Column("content_version", sa.Integer, nullable=False),  # the staged version decided on
    sa.Column("base_version", sa.Integer, nullable=True),  # what the group had before it
    sa.Column("decided_at", sa.Double, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),  # rolled_back | kept
    sa.Column("sentence", sa.Text, nullable=False),  # for staff, in plain words
    sa.Column("details", sa.Text, nullable=False),  # JSON: the figures the decision read
    # decided once per staged version and group
    sa.UniqueConstraint("rollout_group", "content_version", name="uq_guard_decisions_group_version"),
    sa.Index("ix_guard_decisions_decided", "decided_at"),
)


# Version 15: alerts (server/alerts/). One row per episode of a cause: it opens when a source first
# finds (kind, subject) and is resolved when the source no longer finds it; at most one open row per
# (kind, subject), which the partial unique index holds however many processes evaluate. open_sent_at
# and resolved_sent_at record that the message went out, so each is sent once, never every round.
alerts = sa.Table(
    "alerts", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),  # the device, "guide/step", "search", a guide
    sa.Column("sentence", sa.Text, nullable=False),  # one plain sentence, as it read when last found
    sa.Column("link", sa.String(400), nullable=False),  # the dashboard page that shows why
    sa.Column("opened_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),  # when its sentence last changed
    sa.Column("resolved_at", sa.Double, nullable=True),
    sa.Column("snoozed_until", sa.Double, nullable=True),  # staff snoozed it: no messages until then
    sa.Column("snoozed_by", sa.String(80), nullable=True),
    sa.Column("open_sent_at", sa.Double, nullable=True),
    sa.Column("resolved_sent_at", sa.Double, nullable=True),
    sa.Column("delivery", sa.Text, nullable=True),  # what happened to its last message, per channel
    sa.Index("ix_alerts_kind_subject", "kind", "subject", "opened_at"),
    sa.Index("uq_alerts_open", "kind", "subject", unique=True,
             sqlite_where=sa.text("resolved_at IS NULL"), postgresql_where=sa.text("resolved_at IS NULL")),
)
# Version 15: what staff did about each comment (a feedback event): new -> read -> acted / no_action,
# who and when, a note, and the content version that carries the fix. A comment with no row is new.
feedback_triage = sa.Table(
    "feedback_triage", metadata,
    sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("changed_by", sa.String(80), nullable=False),
    sa.Column("changed_at", sa.Double, nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("fix_version", sa.Integer, nullable=True),  # a content version
)
# Version 15: a group's opening hours (server/opening_hours.py), in the site's time zone; null or
# empty: always open. A kiosk is stale, or its touch panel dead, only by the hours it is open.
rollout_groups.append_column(sa.Column("opening_hours", sa.Text, nullable=True))
# Version 17: scheduled publishing from the studio (docs/studio.md): a publisher approves a draft
# now for a time; the alert round's hook (server/drafts.py publish_due) publishes it then, with
# the note the publisher wrote. Null: not scheduled. And the `_library.yaml` settings a draft
# publishes (canonical JSON) when it changes them (the synonyms); null: its base version's.
drafts.append_column(sa.Column("publish_at", sa.Double, nullable=True))
drafts.append_column(sa.Column("publish_note", sa.Text, nullable=True))
drafts.append_column(sa.Column("library_settings", sa.Text, nullable=True))


# Version 18: a year of events (issue 16). On PostgreSQL `events` is partitioned by month of
# received_at (server/partitions.py makes the months ahead and drops the ones past raw_event_days),
# and a partitioned table cannot hold a unique constraint that leaves out its partition key, so
# "each (device, uuid) once" lives here instead, one narrow row per event, pruned with the raw
# events; ingest inserts here first and stores only the events this table took. SQLite keeps its
# unpartitioned events table and its unique constraint, and never uses this table.
event_ids = sa.Table(
    "event_ids", metadata,
    sa.Column("device", sa.String(80), primary_key=True),
    sa.Column("uuid", sa.String(32), primary_key=True),
    sa.Column("received_at", sa.Double, nullable=False),
    sa.Index("ix_event_ids_received", "received_at"),
)
# Version 18: request and response bytes per device per day (the site's day) (server/traffic.py), for the Fleet
# page: kiosks on metered 4G links are paid for by the byte.
device_traffic = sa.Table(
    "device_traffic", metadata,
    sa.Column("device_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("day", sa.String(10), primary_key=True),  # YYYY-MM-DD, in the site's time_zone
    sa.Column("bytes_in", sa.BigInteger, nullable=False, server_default="0"),  # request bytes
    sa.Column("bytes_out", sa.BigInteger, nullable=False, server_default="0"),  # response bytes
    sa.Column("requests", sa.Integer, nullable=False, server_default="0"),
)
# Version 19: when an image was first in a published content version (any group's). The phone
# pages' public image route serves only those: a picture uploaded to a studio draft stays with
# staff until the draft is published.
images.append_column(sa.Column("published_at", sa.Double, nullable=True))
