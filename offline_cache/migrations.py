"""Schema of the kiosk's SQLite store, as an ordered list of migrations.

Every released schema stays here unchanged; a new release adds a migration at the end. A kiosk
that was offline for months migrates forward on start, one step at a time, each in a transaction.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("guide-kiosk")


@migrations()
def m001_initial(db: Database) -> None:
    db["sync_state"].create({"key": str, "value": str}, pk="key")
    db["guides"].create(
        {"id": str, "version": int, "sha256": str, "language": str, "title": str, "category": str,
         "category_id": str, "languages": str, "start": str, "doc": str},
        pk="id", not_null={"version", "sha256", "doc"},
    )
    db["guides"].create_index(["category_id"])
    db["steps"].create({"guide_id": str, "step_id": str, "doc": str}, pk=("guide_id", "step_id"))
    db["images"].create({"sha256": str, "data": bytes}, pk="sha256")
    db["guide_images"].create({"guide_id": str, "path": str, "sha256": str}, pk=("guide_id", "path"))
    db["guide_images"].create_index(["sha256"])
    db["categories"].create({"id": str, "name": str, "guide_count": int}, pk="id")
    db["guide_starts"].create({"guide_id": str, "starts": int}, pk="guide_id")
    db["search_docs"].create(
        {"id": int, "guide_id": str, "lang": str, "title": str, "keywords": str, "category": str, "body": str},
        pk="id",
    )
    db["search_docs"].create_index(["guide_id"])
    db["search_docs"].enable_fts(["title", "keywords", "category", "body"], create_triggers=True,
                                 tokenize="unicode61 remove_diacritics 2")
    # seq orders the queue; uuid is the event's identity on the server, so a re-queued event
    # (after a crash between send and ack) is still stored once there.
    db.execute(
        "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, uuid TEXT NOT NULL UNIQUE, "
        "type TEXT NOT NULL, created_at REAL NOT NULL, body TEXT NOT NULL)"
    )
    db["outbox"].create_index(["type", "seq"])


@migrations()
def m002_sync_staging(db: Database) -> None:
    # Guides downloaded for a content version not yet switched to: a sync that is killed or cut
    # off keeps what it already fetched and verified, so the retry downloads only the rest.
    db.execute(
        "CREATE TABLE staged_guides (id TEXT NOT NULL, version INTEGER NOT NULL, sha256 TEXT NOT NULL, "
        "body BLOB NOT NULL, staged_at REAL NOT NULL, PRIMARY KEY (id, version))"
    )
    # Events the server refused as malformed: moved out of the outbox so one bad row never blocks
    # the queue, kept (with the server's reason) for staff to look at.
    db.execute(
        "CREATE TABLE rejected_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, uuid TEXT, type TEXT, "
        "body TEXT NOT NULL, reason TEXT NOT NULL, rejected_at REAL NOT NULL)"
    )


@migrations()
def m003_forgiving_search(db: Database) -> None:
    # Search that forgives (issue 13): the index holds folded text (accents, umlauts, Arabic
    # letter forms) and the pinyin of Chinese text, in the columns contract/search_text.py names;
    # search_vocab (fts5vocab) is the index's own vocabulary, which spelling corrections read.
    # The index is rebuilt from the installed guides, so a kiosk keeps its content.
    from contract.search_text import COLUMNS, WEIGHTS

    for table in ("search_docs_fts", "search_docs"):
        if db[table].exists():
            db[table].drop()
    db["search_docs"].create({"id": int, "guide_id": str, "lang": str, **{c: str for c in COLUMNS}}, pk="id")
    db["search_docs"].create_index(["guide_id"])
    db["search_docs"].enable_fts(list(COLUMNS), create_triggers=True, tokenize="unicode61 remove_diacritics 2")
    # The columns' weights as the table's own rank, so `ORDER BY rank` ranks with them and FTS5
    # sorts by it itself (a bm25() in the select list made SQLite sort every match).
    db.execute("INSERT INTO search_docs_fts(search_docs_fts, rank) VALUES ('rank', ?)",
               [f"bm25({', '.join(map(str, WEIGHTS))})"])
    db.execute("CREATE VIRTUAL TABLE search_vocab USING fts5vocab(search_docs_fts, col)")
    _index_installed_guides(db)


def _index_installed_guides(db: Database) -> None:
    """Fill the search index from the installed guides with today's contract.search_text."""
    import json

    from contract.guides import Guide
    from contract.search_index import INSERT_ROWS, index_rows

    for (doc,) in db.execute("SELECT doc FROM guides").fetchall():
        db.conn.executemany(INSERT_ROWS, index_rows(Guide.from_dict(json.loads(doc))))


@migrations()
def m004_simplified_chinese_search(db: Database) -> None:
    # Traditional Chinese is folded to simplified (OpenCC t2s): an index built before holds the
    # traditional tokens, which a simplified query would no longer meet. Same table, new rows.
    db.execute("DELETE FROM search_docs")
    _index_installed_guides(db)


@migrations()
def m005_search_prefix_index(db: Database) -> None:
    # Search within a frame on a large library (issue 13): the full-text table gains an FTS5 prefix
    # index (contract/search_index.py PREFIX_INDEX), so two typed letters read one list instead of
    # merging hundreds. Same rows in search_docs; the full-text table is made anew over them (its
    # triggers name it, and stay).
    from contract.search_index import FTS_SCHEMA

    for table in ("search_vocab", "search_docs_fts"):
        db.execute(f"DROP TABLE IF EXISTS {table}")
    for statement in FTS_SCHEMA:
        db.execute(statement)
    db.execute("INSERT INTO search_docs_fts(search_docs_fts) VALUES ('rebuild')")
