"""The server's database, as one name for the rest of the server (`from server import db`):
server.db.schema holds the tables, server.db.migrations the schema versions, and server.db.engine
the engines and the read/write transaction helpers.
"""

from __future__ import annotations

from server.db.engine import (
    DEFAULT_DATA_DIR,
    default_url,
    insert_ignore,
    is_disk_full,
    is_sqlite,
    lock,
    make_engine,
    normalize_url,
    read,
    shared_secret,
    write,
)
from server.db.migrations import MIGRATIONS, SCHEMA_VERSION, current_version, migrate
from server.db.schema import (
    DASHBOARD_INDEXES,
    DEFAULT_GROUP,
    SEARCH_INDEX,
    alerts,
    comparison_summary,
    content_guides,
    content_versions,
    device_traffic,
    devices,
    draft_comments,
    draft_guides,
    draft_revisions,
    drafts,
    event_ids,
    events,
    feedback_triage,
    guard_decisions,
    guide_versions,
    images,
    metadata,
    rollout_groups,
    schema_version,
    session_guides,
    session_rollout,
    session_summary,
    settings,
    staff,
    staff_sessions,
    throttle_counters,
)

__all__ = [
    "DASHBOARD_INDEXES", "DEFAULT_DATA_DIR", "DEFAULT_GROUP", "MIGRATIONS", "SCHEMA_VERSION", "SEARCH_INDEX",
    "alerts", "comparison_summary", "content_guides", "content_versions", "current_version", "default_url", "device_traffic", "devices",
    "draft_comments", "draft_guides", "draft_revisions", "drafts", "event_ids", "events", "feedback_triage", "guard_decisions",
    "guide_versions", "images",
    "insert_ignore", "is_disk_full", "is_sqlite", "lock", "make_engine", "metadata", "migrate", "normalize_url",
    "read", "rollout_groups", "schema_version", "session_guides", "session_rollout", "session_summary", "settings", "shared_secret", "staff", "staff_sessions",
    "throttle_counters", "write",
]
