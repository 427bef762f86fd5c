"""The HTTP API (docs/api.md) as routers, one module per area; server.app assembles them."""

from __future__ import annotations

API = "/api/v1"


def clean_text(text: str | None, max_len: int) -> str | None:
    """Text from a device as the database can store it: no NULs, no lone surrogates."""
    if text is None:
        return None
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")[:max_len]
