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
MAX_COMMENT = 1000  # characters of a feedback comment that are kept
MAX_QUERY = 200  # characters of a search query that are kept
# What is read past the kept length before scrubbing: longer than any contact detail the patterns
# match (an e-mail address is at most 254 characters), so one cut by the bound is still found whole.
_MARGIN = 300

# E-mail addresses (also written "name at example dot com"), and anything that looks like a phone
# number (7 to 20 digits with the usual separators, optionally +country). Customers sometimes leave
# contact details in a comment; neither side may keep them. Every repetition is bounded and each
# one's characters differ from what may follow it, so a match attempt costs at most a few hundred
# steps; an address is only looked for where a run of its characters begins (the lookbehind), and
# its local part is never re-tried shorter (possessive `{1,64}+`), so a long run costs one attempt,
# not one per character. Linear time in the text, which is itself bounded before anything looks at
# it. (Unbounded `+` here once made a 40,000-character comment take 16 s, holding the GIL.)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}+(?:@|\s{1,5}at\s{1,5}|\(at\)|\[at\])[\w-]{1,63}"
                    r"(?:(?:\.|\s{1,5}dot\s{1,5})[\w-]{1,63}){1,8}", re.IGNORECASE)
_PHONE = re.compile(r"(?<!\w)(?:\+|00)?\d(?:[\s().-]{0,3}\d){6,19}(?!\w)")


def scrub(text: str, limit: int = MAX_COMMENT) -> str:
    """Free text as it may be kept: cut to a bound first (so the work never depends on what was
    sent), then without e-mail addresses, phone numbers and control characters, at most `limit`
    characters."""
    text = text[: limit + _MARGIN]
    text = _EMAIL.sub("[email removed]", text)
    text = _PHONE.sub("[phone removed]", text)
    text = "".join(ch for ch in text if ch.isprintable() or ch in "\n\t")
    return text.strip()[:limit]


def scrub_query(text: str) -> str:
    """A search query as it may be kept: scrubbed like a comment, at most MAX_QUERY characters."""
    return scrub(text, MAX_QUERY)


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
