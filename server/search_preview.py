"""What a kiosk's search finds today for a query that once found nothing: the dashboard's no-results
page shows it beside each such query, so staff see which gaps a correction, a synonym or a new
guide has already closed and which still need one.

It runs the kiosk's own search (contract/search_index.py) on an in-memory FTS5 index of the
content the default group's kiosks have now, whatever database the server uses. The index is
built once per content version per server process (about 0.5 ms a guide) and kept.
"""

from __future__ import annotations

import json
import threading

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from contract.guides import LibrarySettings
from contract.search_index import Searcher, SearchResults, memory_index
from contract.search_text import Synonyms
from server import db, publish

DEFAULT_GROUP = "default"

_lock = threading.Lock()
_cached: dict[int, tuple[int, Searcher]] = {}  # id(engine) -> (content version, its searcher)


def current_version(conn: Connection) -> int | None:
    """The content version the default group's kiosks have (the latest, before groups existed)."""
    exists, version = publish.group_version(conn, DEFAULT_GROUP)
    return version if exists and version is not None else publish.latest_content_version(conn)


def _synonyms(conn: Connection, version: int) -> Synonyms:
    """The synonyms of `version`'s _library.yaml, as its kiosks have them."""
    stored = conn.execute(sa.select(db.content_versions.c.library_settings)
                          .where(db.content_versions.c.version == version)).scalar()
    return Synonyms.of(LibrarySettings.from_dict(json.loads(stored) if stored else None).synonyms)


def searcher(engine, conn: Connection) -> tuple[int | None, Searcher | None]:
    """(content version, a searcher over it) for the default group's content now."""
    version = current_version(conn)
    if version is None:
        return None, None
    with _lock:
        cached = _cached.get(id(engine))
        if cached is None or cached[0] != version:
            cached = _cached[id(engine)] = (version, memory_index(publish.published_guides(conn, version), _synonyms(conn, version)))
        return cached


def today(engine, conn: Connection, queries: list[tuple[str, str | None]]) -> dict[tuple[str, str | None], SearchResults]:
    """{(query, language): what search finds for it now}."""
    _, search = searcher(engine, conn)
    if search is None:
        return {}
    with _lock:  # one in-memory connection, shared by the server's threads
        return {(q, lang): search.results(q, lang or "en", limit=3, explain_hits=True) for q, lang in queries}
