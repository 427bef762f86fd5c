"""The heartbeat a kiosk sends after each sync round, and the sync result inside it: defined once
here, built by the kiosk's sync client, validated and stored by the server's API, read back by the
dashboard's Fleet page. (The Fleet page once called every healthy kiosk "sync failing" because it
parsed a shape the kiosk never sent; one model for all three keeps that from happening again.)
"""

from __future__ import annotations

import json
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

# What a sync round ended with (kiosk status, the heartbeat, the Fleet page).
SyncOutcome = Literal["ok", "unchanged", "offline", "rejected", "unauthorized", "error", "busy"]
HEALTHY: frozenset[str] = frozenset({"ok", "unchanged"})

Count = Annotated[int, Field(ge=0, le=2**62)]
ShortText = Annotated[str, Field(max_length=64)]


class LastSync(BaseModel):
    """The kiosk's last sync round, as `kiosk status` shows it and the heartbeat carries it."""

    model_config = ConfigDict(extra="ignore")

    result: SyncOutcome | Annotated[str, Field(max_length=32)] | None = None
    at: Annotated[str, Field(max_length=40)] | None = None  # ISO 8601, UTC
    error: Annotated[str, Field(max_length=1000)] | None = None
    content_version: ShortText | None = None

    @property
    def healthy(self) -> bool:
        return self.result in HEALTHY

    @classmethod
    def from_stored(cls, text: str | None) -> LastSync | None:
        """What the server stored for a heartbeat (this model's JSON); None when nothing usable."""
        if not text:
            return None
        try:
            return cls.model_validate_json(text)
        except ValidationError:
            return cls(result="error", error=f"unreadable sync result: {text[:200]}")

    def stored(self) -> str:
        return self.model_dump_json()


class Recovered(BaseModel):
    """The kiosk found its database damaged and rebuilt it (offline_cache/recovery.py): when, where
    the bad file was moved, and how many waiting events were kept and lost (None: unknown, the file
    was too damaged to count them). `kiosk status --json` shows the same four keys."""

    model_config = ConfigDict(extra="ignore")

    at: Annotated[str, Field(max_length=40)]  # ISO 8601, UTC
    moved_to: Annotated[str, Field(max_length=1000)]
    outbox_kept: Count
    outbox_lost: Count | None = None

    def stored(self) -> str:
        return self.model_dump_json()


class Heartbeat(BaseModel):
    """POST /api/v1/heartbeat. Field order is the wire order (the kiosk serialises this model)."""

    model_config = ConfigDict(extra="ignore")

    content_version: Count | ShortText | None = None
    outbox_depth: Count | None = None
    last_sync_result: LastSync | None = None
    app_version: ShortText | None = None
    free_disk: Count | None = None
    uptime: Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)] | None = None
    # Events the server refused and the kiosk set aside (kiosk status "rejected_events"): a token
    # that belongs to another device, a malformed event. Optional: kiosks before it leave it out.
    rejected_events: Count | None = None
    # True while the kiosk's staff PIN is still the factory one (the Fleet page warns). Sent only
    # then, so a kiosk with its own PIN sends the same bytes as before.
    default_pin: bool | None = None
    # Set only by a kiosk that rebuilt a damaged database; a healthy kiosk's heartbeat is unchanged.
    recovered: Recovered | None = None

    # Fields added after the first release: left out when unset, so older servers and the recorded
    # wire (tests/fixtures/wire) see the bytes they always did.
    LATER_FIELDS: ClassVar[tuple[str, ...]] = ("rejected_events", "recovered", "default_pin")

    def wire_bytes(self) -> bytes:
        """The request body, as compact JSON; optional fields that are unset are left out."""
        doc = self.model_dump(exclude_none=False)
        if not self.default_pin:
            doc["default_pin"] = None  # sent only while true
        for name in self.LATER_FIELDS:
            if doc[name] is None:
                doc.pop(name)
        return json.dumps(doc, separators=(",", ":")).encode()
