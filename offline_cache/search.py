"""The store's side of search: the FTS5 query for what a customer typed. Folding, pinyin,
synonyms, corrections and ranking are defined once in contract/search_text.py, so the server can
run the same search; this module keeps the names the store's callers and tests use."""

from __future__ import annotations

from contract.search_text import build_query, fts_string  # noqa: F401 (re-exported)


def fts_query(user_text: str) -> str | None:
    """Search-as-you-type as an FTS5 MATCH expression that any text keeps valid (no synonyms)."""
    query = build_query(user_text)
    return query.match if query else None
