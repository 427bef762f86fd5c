"""Usage events: the one shape every event has, the list of types, and comment scrubbing.

Shared by the kiosk (which writes events to its outbox) and the server (which ingests them and
writes the mobile page's own), so both agree on what a well-formed event is.
"""

from __future__ import annotations

import re
import time
import uuid as uuidlib
from typing import Any

EVENT_TYPES = (
    "session_start", "step_view", "choice", "back", "restart", "search", "language", "outcome",
    "feedback", "handoff_shown", "handoff_opened", "idle_timeout", "session_end",
)
MAX_COMMENT = 1000

# E-mail addresses, and anything that looks like a phone number (7+ digits with the usual
# separators, optionally +country). Customers sometimes leave contact details in a comment;
# the kiosk must not keep them.
_EMAIL = re.compile(r"[\w.+-]+(?:@|\s+at\s+|\(at\)|\[at\])[\w-]+(?:(?:\.|\s+dot\s+)[\w-]+)+", re.IGNORECASE)
_PHONE = re.compile(r"(?<!\w)(?:\+|00)?\d(?:[\s().-]{0,3}\d){6,}(?!\w)")


def scrub(text: str) -> str:
    """Remove e-mail addresses and phone numbers from free text, and bound its length."""
    text = _EMAIL.sub("[email removed]", text)
    text = _PHONE.sub("[phone removed]", text)
    text = "".join(ch for ch in text if ch.isprintable() or ch in "\n\t")
    return text.strip()[:MAX_COMMENT]


def new_id() -> str:
    return uuidlib.uuid4().hex


def make_event(kind: str, *, device: str, session: str, guide: str | None = None,
               guide_version: int | None = None, step: str | None = None, lang: str | None = None,
               data: dict[str, Any] | None = None, channel: str = "kiosk",
               now: float | None = None, mono: float | None = None) -> dict[str, Any]:
    """One event as it is stored in the outbox and sent to the server."""
    if kind not in EVENT_TYPES:
        raise ValueError(f"unknown event type {kind!r}")
    return {
        "uuid": new_id(),
        "type": kind,
        "device": device,
        "session": session,
        "channel": channel,
        "kiosk_time": time.time() if now is None else now,
        "mono": time.monotonic() if mono is None else mono,
        "guide": guide,
        "guide_version": guide_version,
        "step": step,
        "lang": lang,
        "data": data or {},
    }
