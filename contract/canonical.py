"""Canonical JSON: the one byte form that digests and signatures are computed over.

Keys sorted, no whitespace, UTF-8 as is. A guide's sha256, the manifest's Ed25519 signature and
the library digest all use this; change it and every kiosk in the field rejects new content.
"""

from __future__ import annotations

import json
from typing import Any


def canonical_json(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
