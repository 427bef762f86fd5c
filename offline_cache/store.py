"""The kiosk's SQLite store: content, search (queries in search.py), the event outbox (outbox.py)
and sync state.

One file, WAL mode, so the UI's reads never wait on the sync thread's writes. Content changes go
through `install_content`, which switches versions in a single transaction: a reader (or a kiosk
that loses power) sees the whole old library or the whole new one, never a mix.

No Kivy and no network here: the session engine and the sync client call in.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from contract.digest import content_digest, library_digest
from contract.guides import Guide, Library, LibrarySettings, category_key, pick
from contract.search_index import INSERT_ROWS, Searcher, SearchHit, SearchResults, index_rows
from contract.search_text import Synonyms
from offline_cache.errors import StoreCorrupt, public_methods_raise_store_errors, store_error
from offline_cache.health import check_file, quick_check, use_lock
from offline_cache.migrations import migrations
from offline_cache.outbox import DEFAULT_OUTBOX_LIMIT, Outbox, OutboxEvent  # noqa: F401 (re-exported)
from offline_cache.search import fts_query

# A switch that writes at least a third of the guides it keeps rebuilds the full-text index
# whole (Store.search_index_rebuilt) rather than row by row: at that share the rebuild's pass over
# every row costs less than the rows' own index writes (a whole import, a big update).
BULK_SHARE = 3


@dataclass(frozen=True)
class GuideSummary:
    id: str
    version: int
    title: str
    category: str
    category_id: str
    languages: tuple[str, ...]


@dataclass(frozen=True)
class Category:
    id: str
    name: str
    guide_count: int
    icon: str | None = None  # the pictogram `_library.yaml` gives it (contract/icons.py)


@dataclass(frozen=True)
class GuideRows:
    """One guide as the store's tables hold it (Store.guide_rows)."""

    guide: tuple
    steps: list[tuple]
    images: list[tuple]
    index: list[tuple]


def category_id(guide: Guide) -> str:
    """A stable key for a category: its text in English or the guide's default language, slugged."""
    return category_key(guide.category, guide.language)


@public_methods_raise_store_errors
class Store(Outbox):
    """The offline cache. Safe to share between the UI thread and the sync thread: each thread
    gets its own SQLite connection to the same file. Its methods raise offline_cache.errors'
    StoreError (StoreFull, StoreCorrupt), never sqlite3's errors; `db` is the raw connection, for
    the store's own modules and the tests."""

    def __init__(self, path: str | Path, outbox_limit: int = DEFAULT_OUTBOX_LIMIT):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.outbox_limit = outbox_limit
        self._local = threading.local()
        self._guide_cache: dict[tuple[str, int], Guide] = {}
        # Held (shared) while this store is open: a rebuild takes it exclusively, so no process
        # moves the file from under another that has it open (offline_cache/recovery.py).
        self._open_lock = use_lock(self.path)
        try:
            db = self._checked_db()
        except BaseException:
            self.close()
            raise
        migrations.apply(db)

    def _checked_db(self) -> sqlite_utils.Database:
        """This thread's connection, once the file proved usable. A damaged file is refused here,
        before anything reads or writes it, so every command sees it the same way (recovery.py
        moves it aside and rebuilds). quick_check reads every page but skips integrity_check's
        index-to-table cross-check: 20 ms for a 32 MB kiosk.db and 90 ms at 98 MB (a full outbox),
        against 33 and 420 ms (bench/bench_store.py)."""
        if problem := check_file(self.path):
            raise StoreCorrupt(f"the kiosk's database {self.path} is damaged: {problem}", self.path)
        if self.path.exists():  # a new kiosk's file is made by the connection below
            # health.quick_check is read-only: the store's own connection, closed on a damaged
            # file, deleted its -wal before recovery.py could move it aside with the file.
            try:
                found = quick_check(self.path)
            except sqlite3.DatabaseError as exc:
                raise StoreCorrupt(f"the kiosk's database {self.path} is damaged ({exc})", self.path) from exc
            if found != ["ok"]:
                raise StoreCorrupt(f"the kiosk's database {self.path} is damaged: {'; '.join(found)[:300]}",
                                   self.path)
        return self.db

    # --- connections ---------------------------------------------------------------------------

    @property
    def db(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            # FULL: every commit syncs the WAL, so an event the engine wrote survives a power cut
            # (NORMAL syncs only at checkpoints and may lose the last commits). Cost per tap:
            # bench/bench_store.py.
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            db = self._local.db = sqlite_utils.Database(conn)
        return db

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction on this thread's connection; calls made inside it join it.
        BEGIN IMMEDIATE takes the write lock up front, so the UI thread and the sync thread queue
        for it (busy_timeout) instead of failing on a stale snapshot."""
        conn = self.db.conn
        if conn.in_transaction:
            yield
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise store_error(exc, self.path) from exc
        try:
            yield
        except BaseException:
            conn.rollback()
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:  # e.g. a full disk at commit: nothing of it is kept
            if conn.in_transaction:
                conn.rollback()
            raise store_error(exc, self.path) from exc

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.conn.close()
            self._local.db = None
        lock, self._open_lock = getattr(self, "_open_lock", None), None
        if lock is not None:
            lock.close()

    def release_connection(self) -> None:
        """Close the calling thread's connection (a worker thread that is about to end), keeping
        the store open for every other thread."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.conn.close()
            self._local.db = None

    def integrity_check(self) -> str:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0]

    # --- sync state (small key-value table) ------------------------------------------------------

    def get_state(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM sync_state WHERE key = ?", [key]).fetchone()
        return json.loads(row[0]) if row else default

    def set_state(self, key: str, value: Any) -> None:
        self.db.execute("INSERT INTO sync_state(key, value) VALUES (?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value", [key, json.dumps(value)])

    # --- content -------------------------------------------------------------------------------

    @property
    def content_version(self) -> str | None:
        return self.get_state("content_version")

    def has_content(self) -> bool:
        return self.db.execute("SELECT 1 FROM guides LIMIT 1").fetchone() is not None

    def put_images(self, images: dict[str, bytes]) -> int:
        """Store images by sha256. Harmless before a switch: nothing names them yet."""
        have = self.image_hashes()
        new = [(digest, data) for digest, data in images.items() if digest not in have]
        with self.transaction():
            self.db.conn.executemany("INSERT OR IGNORE INTO images(sha256, data) VALUES (?, ?)", new)
        return len(new)

    def image_hashes(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT sha256 FROM images")}

    def get_image(self, sha256: str) -> bytes | None:
        row = self.db.execute("SELECT data FROM images WHERE sha256 = ?", [sha256]).fetchone()
        return row[0] if row else None

    def guide_versions(self) -> dict[str, tuple[int, str]]:
        """guide id -> (version, sha256) of what is installed now."""
        return {r[0]: (r[1], r[2]) for r in self.db.execute("SELECT id, version, sha256 FROM guides")}

    def import_library(self, library: Library, content_version: str | None = None) -> dict[str, int]:
        """Install a whole validated library (kiosk import, first start). A guide keeps its version
        when its content is unchanged, and moves up by one when it changed."""
        current = self.guide_versions()
        versioned = []
        counts = {"added": 0, "changed": 0, "unchanged": 0, "removed": 0}
        for guide in library.guides.values():
            old = current.get(guide.id)
            if old is None:
                versioned.append((guide, 1))
                counts["added"] += 1
            elif old[1] != guide.sha256:
                versioned.append((guide, old[0] + 1))
                counts["changed"] += 1
            else:
                counts["unchanged"] += 1
        counts["removed"] = len(set(current) - set(library.guides))
        # A local import names its version after the content itself, not the clock: two different
        # libraries imported within the same second must not share a version, and re-importing the
        # same library must not look like an update in `kiosk status` or the heartbeat.
        version = content_version or "local-" + library_digest(library)[:12]
        self.put_images(library.images)
        self.install_content(version, versioned, set(library.guides), settings=library.settings)
        self.remove_unused_images()
        return counts

    def install_content(self, content_version: str, changed: Iterable[tuple[Guide, int]],
                        keep_ids: set[str], settings: LibrarySettings | None = None,
                        prepared: dict[str, GuideRows] | None = None) -> None:
        """The one switch from one content version to the next, in one transaction: the guides in
        `changed` are written, guides not in `keep_ids` are removed, the search index follows.
        `settings` (the library's _library.yaml) replace the installed ones; None keeps them.
        Images must already be stored (put_images). `prepared`: guide_rows made beforehand, by
        guide id (rows of another version are made again)."""
        db = self.db
        changed = list(changed)
        have_images = self.image_hashes()
        for guide, _ in changed:
            missing = set(guide.images.values()) - have_images
            if missing:
                raise ValueError(f"guide '{guide.id}' names images that are not stored: {sorted(missing)}")
        with self.transaction():
            current = {r[0] for r in db.execute("SELECT id FROM guides")}
            bulk = len(changed) * BULK_SHARE >= max(len(keep_ids), 1)
            with self.search_index_rebuilt() if bulk else nullcontext():
                for gid in current - keep_ids:
                    self._delete_guide(gid)
                for guide, version in changed:
                    self._delete_guide(guide.id)
                    rows = (prepared or {}).get(guide.id)
                    self._insert_guide(guide, version, rows if rows and rows.guide[1] == version else None)
            missing = keep_ids - {r[0] for r in db.execute("SELECT id FROM guides")}
            if missing:
                raise ValueError(f"the new content names guides it does not contain: {sorted(missing)}")
            self._rebuild_categories()
            if settings is not None:
                self.set_state("library_settings", settings.to_dict())
            db.execute("INSERT INTO sync_state(key, value) VALUES ('content_version', ?) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value", [json.dumps(content_version)])
        self._guide_cache.clear()
        self._search_cache = None  # synonyms may change without a new content version
        self._icons_cache = None
        if self.prepare_search_after_install:
            self.prepare_search()

    @contextmanager
    def search_index_rebuilt(self) -> Iterator[None]:
        """Inside a transaction: rows written to search_docs meanwhile reach the full-text index
        in one FTS5 'rebuild' at the end instead of through the per-row triggers. Building the
        index row by row (each row's tokens merged into the prefix index as it comes) was 70% of
        the index's cost at import; a rebuild sorts them all at once and was three times faster
        on 5,000 guides. It reads every row, so it pays only when most rows are new
        (BULK_SHARE)."""
        conn = self.db.conn
        assert conn.in_transaction, "the triggers come back in the same transaction or not at all"
        triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                "AND tbl_name = 'search_docs'").fetchall()
        for name, _ in triggers:
            conn.execute(f"DROP TRIGGER [{name}]")
        yield
        conn.execute("INSERT INTO search_docs_fts(search_docs_fts) VALUES ('rebuild')")
        for _, sql in triggers:
            conn.execute(sql)

    def remove_unused_images(self) -> int:
        """Drop images no installed guide names. Run only after a switch, never before it."""
        with self.transaction():
            cur = self.db.execute(
                "DELETE FROM images WHERE sha256 NOT IN (SELECT DISTINCT sha256 FROM guide_images)")
        return cur.rowcount

    def _delete_guide(self, gid: str) -> None:
        for table in ("steps", "guide_images", "search_docs"):
            self.db.execute(f"DELETE FROM {table} WHERE guide_id = ?", [gid])
        self.db.execute("DELETE FROM guides WHERE id = ?", [gid])

    @staticmethod
    def guide_rows(guide: Guide, version: int, sha256: str | None = None) -> GuideRows:
        """The rows `guide` is stored as: pure work, no database, so a sync can make them while
        its downloads run and the switch's transaction only writes them. `sha256`: the guide's,
        when the caller has already checked it (hashing the canonical form again is most of the
        cost of a small guide)."""
        doc = guide.to_dict()
        return GuideRows(
            (guide.id, version, sha256 or guide.sha256, guide.language, json.dumps(guide.title, ensure_ascii=False),
             json.dumps(guide.category, ensure_ascii=False), category_id(guide),
             json.dumps(guide.languages), guide.start, json.dumps(doc, ensure_ascii=False)),
            [(guide.id, sid, json.dumps(sdoc, ensure_ascii=False)) for sid, sdoc in doc["steps"].items()],
            [(guide.id, rel, digest) for rel, digest in guide.images.items()],
            index_rows(guide))

    def _insert_guide(self, guide: Guide, version: int, rows: GuideRows | None = None) -> None:
        db = self.db
        rows = rows or self.guide_rows(guide, version)
        db.execute(
            "INSERT INTO guides(id, version, sha256, language, title, category, category_id, "
            "languages, start, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", list(rows.guide))
        db.conn.executemany("INSERT INTO steps(guide_id, step_id, doc) VALUES (?, ?, ?)", rows.steps)
        db.conn.executemany("INSERT OR IGNORE INTO guide_images(guide_id, path, sha256) VALUES (?, ?, ?)",
                            rows.images)
        db.conn.executemany(INSERT_ROWS, rows.index)

    def _rebuild_categories(self) -> None:
        db = self.db
        db.execute("DELETE FROM categories")
        db.execute(
            "INSERT INTO categories(id, name, guide_count) "
            "SELECT category_id, MIN(category), COUNT(*) FROM guides GROUP BY category_id")

    # --- reading content -----------------------------------------------------------------------

    def guide(self, guide_id: str) -> tuple[Guide, int] | None:
        """The whole installed guide and its version; cached, since a session reads it often."""
        row = self.db.execute("SELECT version, doc FROM guides WHERE id = ?", [guide_id]).fetchone()
        if row is None:
            return None
        key = (guide_id, row[0])
        if key not in self._guide_cache:
            if len(self._guide_cache) > 256:
                self._guide_cache.clear()
            self._guide_cache[key] = Guide.from_dict(json.loads(row[1]))
        return self._guide_cache[key], row[0]

    def step(self, guide_id: str, step_id: str) -> dict[str, Any] | None:
        """One step's document by primary key: what the step screen needs, nothing more."""
        row = self.db.execute("SELECT doc FROM steps WHERE guide_id = ? AND step_id = ?",
                              [guide_id, step_id]).fetchone()
        return json.loads(row[0]) if row else None

    def image_for(self, guide_id: str, rel_path: str) -> bytes | None:
        row = self.db.execute(
            "SELECT images.data FROM guide_images JOIN images USING (sha256) "
            "WHERE guide_images.guide_id = ? AND guide_images.path = ?", [guide_id, rel_path]).fetchone()
        return row[0] if row else None

    def _summary(self, row: sqlite3.Row | tuple, lang: str) -> GuideSummary:
        gid, version, language, title, category, cat_id, languages = row
        return GuideSummary(gid, version, pick(json.loads(title), lang, language),
                            pick(json.loads(category), lang, language), cat_id, tuple(json.loads(languages)))

    _SUMMARY = "SELECT id, version, language, title, category, category_id, languages FROM guides"

    def list_guides(self, lang: str = "en", category: str | None = None) -> list[GuideSummary]:
        if category:
            rows = self.db.execute(self._SUMMARY + " WHERE category_id = ?", [category])
        else:
            rows = self.db.execute(self._SUMMARY)
        return sorted((self._summary(r, lang) for r in rows), key=lambda g: g.title.casefold())

    def guide_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM guides").fetchone()[0]

    def categories(self, lang: str = "en") -> list[Category]:
        """The categories, named in `lang` (the `_library.yaml` title when it has that language,
        else the guides' own text) with the icon `_library.yaml` gives them."""
        named = {category_key(c.title, next(iter(c.title))): c for c in self.library_settings().categories}
        out = []
        for cid, name, n in self.db.execute("SELECT id, name, guide_count FROM categories"):
            setting = named.get(cid)
            own = pick(json.loads(name), lang, "en")
            if setting and (lang in setting.title or lang.split("-")[0] in setting.title):
                own = pick(setting.title, lang, "en")
            out.append(Category(cid, own, n, setting.icon if setting else None))
        return sorted(out, key=lambda c: c.name.casefold())

    def guide_icons(self) -> dict[str, str]:
        """{guide id: icon} of the guides that name one; read once per content version (one
        pass over the installed documents), so a list of thousands asks a dict, not SQLite."""
        version = self.content_version
        cached = getattr(self, "_icons_cache", None)
        if cached is None or cached[0] != version:
            rows = self.db.execute("SELECT id, json_extract(doc, '$.icon') FROM guides "
                                   "WHERE json_extract(doc, '$.icon') IS NOT NULL")
            cached = self._icons_cache = (version, dict(rows))
        return cached[1]

    def languages(self) -> list[str]:
        """Every language some guide is fully written in, most common first."""
        counts: dict[str, int] = {}
        for (langs,) in self.db.execute("SELECT languages FROM guides"):
            for lang in json.loads(langs):
                counts[lang] = counts.get(lang, 0) + 1
        return sorted(counts, key=lambda lang: (-counts[lang], lang))

    def popular_guides(self, lang: str = "en", limit: int = 6) -> list[GuideSummary]:
        """Guides most started on this kiosk; the rest of the list filled in title order."""
        rows = self.db.execute(
            self._SUMMARY.replace("FROM guides", "FROM guides LEFT JOIN guide_starts ON guide_starts.guide_id = id")
            + " ORDER BY COALESCE(guide_starts.starts, 0) DESC, id LIMIT ?", [limit])
        return [self._summary(r, lang) for r in rows]

    def count_start(self, guide_id: str) -> None:
        self.db.execute("INSERT INTO guide_starts(guide_id, starts) VALUES (?, 1) "
                        "ON CONFLICT(guide_id) DO UPDATE SET starts = starts + 1", [guide_id])

    def content_digest(self) -> str:
        """The installed content's digest (contract/digest.py), the one `kiosk-server export` and
        publish print: equal digests are the same content wherever it was loaded from."""
        guides = {gid: sha for gid, (_, sha) in self.guide_versions().items()}
        images = {r[0] for r in self.db.execute("SELECT DISTINCT sha256 FROM guide_images")}
        return content_digest(guides, images, self.library_settings().sha256)

    def library_settings(self) -> LibrarySettings:
        """The installed library's _library.yaml settings (empty when it had none)."""
        return LibrarySettings.from_dict(self.get_state("library_settings"))

    def _searcher(self) -> Searcher:
        """The search over the installed content (its synonyms, and once asked for, its spelling
        vocabulary), kept until the content version changes."""
        version = self.content_version
        cached = getattr(self, "_search_cache", None)
        if cached is None or cached[0] != version:
            searcher = Searcher(lambda: self.db.conn, self._guide_names,
                                Synonyms.of(self.library_settings().synonyms))
            cached = self._search_cache = (version, searcher)
        return cached[1]

    def _guide_names(self, ids, lang: str) -> dict[str, tuple[str, str]]:
        """{guide id: (title, category)} in `lang`, for the hits search shows."""
        return {gid: (pick(json.loads(title), lang, language), pick(json.loads(category), lang, language))
                for gid, language, title, category in self.db.execute(
                    f"SELECT id, language, title, category FROM guides WHERE id IN ({','.join('?' * len(ids))})",
                    list(ids))}

    # Set by the kiosk app (kiosk/cli.py run): after each switch to new content, the content's
    # spelling vocabulary is read at once on the thread that switched (the sync thread), so no
    # keystroke on the UI thread waits for it. A `kiosk import` process leaves it off.
    prepare_search_after_install = False

    def prepare_search(self) -> None:
        """Read what search needs of the installed content (synonyms, the corrector's vocabulary:
        0.1 s per 1,000 guides) now rather than at the first misspelled keystroke."""
        self._searcher().prepare()

    def search(self, text: str, lang: str = "en", limit: int = 20) -> list[SearchHit]:
        """Ranked full-text search over titles, keywords, categories and step text in every
        language (search_results without the reasons)."""
        return self.search_results(text, lang, limit, explain_hits=False).hits

    def search_results(self, text: str, lang: str = "en", limit: int = 20,
                       explain_hits: bool = True) -> SearchResults:
        """What a traveller typing `text` in `lang` sees (contract/search_index.py)."""
        return self._searcher().results(text, lang, limit, explain_hits)

    def raw_fts(self, text: str, limit: int = 20) -> list[tuple]:
        """The bare FTS5 query, for the benchmark to compare search() against."""
        return self.db.execute("SELECT rowid FROM search_docs_fts WHERE search_docs_fts MATCH ? "
                               "ORDER BY rank LIMIT ?", [fts_query(text), limit]).fetchall()
