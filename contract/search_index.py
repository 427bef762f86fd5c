"""The search over an FTS5 index of guides, defined once: what a traveller typing some text sees,
ranked, with "Did you mean" when only a correction finds something. The kiosk runs it on the index
in its SQLite store (offline_cache; tables made by its migrations m003 and m005); the server runs the same on
an index it builds in memory from published guides (`memory_index`), for the dashboard's page of
searches that found nothing, even when its own database is PostgreSQL.

The index's rows, folding, pinyin keys, synonyms, corrections and the FTS5 expression are
contract/search_text.py's; this module owns the tables and the queries over them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from contract.events import MAX_QUERY
from contract.search_text import (
    COLUMNS,
    PINYIN_MARK,
    SAME_LANGUAGE_BOOST,
    TEXT_COLUMNS,
    WEIGHTS,
    Corrector,
    Synonyms,
    build_query,
    explain,
    fold,
    fts_string,
    query_pinyin,
    search_rows,
)


@dataclass(frozen=True)
class SearchHit:
    guide_id: str
    title: str
    category: str
    rank: float
    # Why it matched (contract/search_text.py explain): exact, prefix, synonym, pinyin, corrected;
    # "" when the caller did not ask (the UI's search-as-you-type).
    match: str = ""


@dataclass(frozen=True)
class SearchResults:
    hits: list[SearchHit]
    # "Did you mean ...?": the corrected query, only when the hits came from a correction alone.
    suggestion: str | None = None


# What a searcher needs to show a hit: {guide id: (title, category)} in a language, for some ids.
Titles = Callable[[Sequence[str], str], dict[str, tuple[str, str]]]

# Prefix lengths FTS5 keeps an index of its own for: two typed letters ("ba") read one precomputed
# list of rows instead of merging the lists of every word that starts with them (hundreds on
# 10,000 guides: 25 ms a keystroke). Three letters start few words, and one letter is searched in
# titles, keywords and categories only; an index for them too ("1 2 3") cost the import's index
# twice its time, this one a tenth (bench/bench_foundation.py).
PREFIX_INDEX = "2"

# The full-text table over search_docs, its rank set to the columns' weights (so `ORDER BY rank`
# ranks with them and FTS5 sorts by it itself: a bm25() in the select list made SQLite sort every
# match) and its vocabulary, which spelling corrections read. The kiosk's migration m005 makes
# them over the store's search_docs (m003's), the server's in-memory index the same.
FTS_SCHEMA = (
    (f"CREATE VIRTUAL TABLE search_docs_fts USING fts5({', '.join(COLUMNS)}, content=[search_docs], "
     f"tokenize='unicode61 remove_diacritics 2', prefix='{PREFIX_INDEX}')"),
    f"INSERT INTO search_docs_fts(search_docs_fts, rank) VALUES ('rank', 'bm25({', '.join(map(str, WEIGHTS))})')",
    "CREATE VIRTUAL TABLE search_vocab USING fts5vocab(search_docs_fts, col)",
)
_DOCS_SCHEMA = ("CREATE TABLE search_docs (id INTEGER PRIMARY KEY, guide_id TEXT, lang TEXT, "
                + ", ".join(f"{c} TEXT" for c in COLUMNS) + ")")

# Rows ranked with bm25 at most per keystroke. bm25 costs a few microseconds a row plus a pass over
# every row that has each typed word, and one or two letters, or a word most guides have, match
# tens of thousands of rows of a large library: ranking them all took 50 ms and more a keystroke.
# When more rows match, no bm25: the rows are taken in tiers by where they match (BROAD_TIERS: the
# title or its pinyin, then any of the names, then anywhere), each tier in the index's order and
# only as far as the results need, the traveller's language first within a tier. At that size of
# match any of a tier's rows is a fair answer, and the next letter narrows it; a library of a few
# hundred guides is always ranked whole with bm25.
RANK_WINDOW = 600
BROAD_TIERS = ("{title pinyin}", "{title keywords category pinyin initials}", "")


def index_rows(guide) -> list[tuple]:
    """The search_docs rows of one guide: (guide id, language, the COLUMNS' tokens...)."""
    return [(guide.id, lang, *cols) for lang, cols in search_rows(guide)]


INSERT_ROWS = (f"INSERT INTO search_docs(guide_id, lang, {', '.join(COLUMNS)}) "
               f"VALUES ({', '.join('?' * (2 + len(COLUMNS)))})")


class Searcher:
    """Search over the index for one installed content: its synonyms, and the spelling vocabulary
    read once, at the first correction (or `prepare`). Make a new one when the content changes.
    `connection` gives the calling thread's connection to the index: the kiosk's store has one
    per thread, and the searcher is made on one thread (the sync thread, after a switch) and used
    on another (the UI's)."""

    def __init__(self, connection: Callable[[], sqlite3.Connection], titles: Titles, synonyms: Synonyms):
        self.connection = connection
        self.titles = titles
        self.synonyms = synonyms
        self._corrector: Corrector | None = None
        self._shown: dict[tuple[str, str], tuple[str, str]] = {}

    def prepare(self) -> None:
        """Read the corrector's vocabulary (0.1 s per 1,000 guides) now rather than at the first
        misspelled keystroke, and when the content has Chinese, the pinyin and traditional-to-
        simplified tables (0.3 s and more) rather than at the first Chinese keystroke."""
        self.corrector()
        chinese = self.connection().execute(
            "SELECT 1 FROM search_docs_fts WHERE search_docs_fts MATCH ? LIMIT 1",
            [f"pinyin : {fts_string(PINYIN_MARK)}*"]).fetchone()
        if chinese:
            query_pinyin(fold("\u884c\u674e\u8f49"))  # 行李轉: both tables loaded

    def corrector(self) -> Corrector:
        if self._corrector is None:
            marks = ", ".join("?" * len(TEXT_COLUMNS))
            vocabulary = dict(self.connection().execute(
                f"SELECT term, SUM(doc) FROM search_vocab WHERE col IN ({marks}) GROUP BY term",
                list(TEXT_COLUMNS)).fetchall())
            self._corrector = Corrector(vocabulary)
        return self._corrector

    def results(self, text: str, lang: str = "en", limit: int = 20, explain_hits: bool = True) -> SearchResults:
        """What a traveller typing `text` in `lang` sees, ranked: a match in their language above
        the same match in another. When nothing matches, misspelled and run-together words are
        corrected from the index's own vocabulary and the results say what was searched for
        instead ("Did you mean"). `explain_hits` says why each hit matched."""
        query = build_query(text[:MAX_QUERY], lang, self.synonyms)
        if query is None:
            return SearchResults([])
        ranked = self._ranked(query.match, lang, limit)
        suggestion = None
        if not ranked:
            corrected = self.corrector().correct(query.words, lambda word: self._in_language(word, lang))
            if corrected:
                query = build_query(" ".join(corrected), lang, self.synonyms, typed_words=corrected)
                ranked = self._ranked(query.match, lang, limit) if query else []
                suggestion = " ".join(corrected) if ranked else None
        if not ranked:
            return SearchResults([])
        # Titles and categories in the traveller's language, read once per content.
        shown = self._shown
        missing = [gid for gid, _, _ in ranked if (gid, lang) not in shown]
        if missing:
            if len(shown) > 50_000:
                shown.clear()
            for gid, names in self.titles(missing, lang).items():
                shown[(gid, lang)] = names
        why = {}
        if explain_hits:
            rowids = [rowid for _, _, rowid in ranked]
            rows = {r[0]: r[1:] for r in self.connection().execute(
                f"SELECT id, {', '.join(COLUMNS)} FROM search_docs WHERE id IN ({','.join('?' * len(rowids))})",
                rowids)}
            why = {gid: explain(query, rows.get(rowid, ("",) * len(COLUMNS)), corrected=suggestion is not None)
                   for gid, _, rowid in ranked}
        hits = [SearchHit(g, *shown[(g, lang)], score, why.get(g, "")) for g, score, _ in ranked
                if (g, lang) in shown]
        return SearchResults(hits, suggestion)

    def _in_language(self, word: str, lang: str) -> bool:
        """Whether some guide's text in `lang` has `word` (breaks a tie between corrections)."""
        return self.connection().execute(
            "SELECT 1 FROM search_docs_fts JOIN search_docs ON search_docs.rowid = search_docs_fts.rowid "
            "WHERE search_docs_fts MATCH ? AND search_docs.lang = ? LIMIT 1",
            ["{" + " ".join(TEXT_COLUMNS) + "} : " + fts_string(word), lang]).fetchone() is not None

    def _ranked(self, match: str, lang: str, limit: int) -> list[tuple[str, float, int]]:
        """(guide id, score, the best row's id), best first; the score is more negative when
        better (bm25's, or for a broad match its tier's: RANK_WINDOW)."""
        conn = self.connection()
        # Whether more than RANK_WINDOW rows match: found without ranking (FTS5 walks its lists in
        # rowid order and stops).
        broad = conn.execute("SELECT rowid FROM search_docs_fts WHERE search_docs_fts MATCH ? LIMIT 1 OFFSET ?",
                             [match, RANK_WINDOW]).fetchone()
        if broad:
            rows = self._broad(conn, match, lang, limit)
        else:
            # The MATCH alone in the inner query, so FTS5 sorts by its rank (the columns' weights)
            # and stops at the limit; the join reads only those rows.
            rows = conn.execute(
                "SELECT d.guide_id, d.lang, d.id, r.rank FROM (SELECT rowid, rank FROM search_docs_fts "
                "WHERE search_docs_fts MATCH ? ORDER BY rank LIMIT ?) AS r JOIN search_docs AS d ON d.id = r.rowid",
                [match, limit * 8]).fetchall()
        best: dict[str, tuple[float, int]] = {}
        for gid, row_lang, rowid, rank in rows:
            score = rank * (SAME_LANGUAGE_BOOST if row_lang == lang else 1.0)
            if gid not in best or score < best[gid][0]:
                best[gid] = (score, rowid)
        ordered = sorted(best, key=lambda g: best[g])[:limit]
        return [(g, best[g][0], best[g][1]) for g in ordered]

    @staticmethod
    def _broad(conn: sqlite3.Connection, match: str, lang: str, limit: int) -> list[tuple[str, str, int, float]]:
        """The rows of a match too broad to rank, tier by tier (BROAD_TIERS), until `limit` guides
        of the traveller's language are found; a row scores its tier (-3, -2, -1)."""
        rows: list[tuple[str, str, int, float]] = []
        seen: set[int] = set()
        guides: set[str] = set()
        for n, columns in enumerate(BROAD_TIERS):
            expression = f"{columns} : ({match})" if columns else match
            found = conn.execute(
                "SELECT d.guide_id, d.lang, d.id FROM (SELECT rowid FROM search_docs_fts WHERE search_docs_fts MATCH ? "
                "LIMIT ?) AS r JOIN search_docs AS d ON d.id = r.rowid", [expression, limit * 8]).fetchall()
            score = float(n - len(BROAD_TIERS))
            for gid, row_lang, rowid in found:
                if rowid not in seen:
                    seen.add(rowid)
                    rows.append((gid, row_lang, rowid, score))
                    if row_lang == lang:
                        guides.add(gid)
            if len(guides) >= limit:
                break
        return rows


def memory_index(guides: Iterable, synonyms: Synonyms) -> Searcher:
    """A Searcher over a new in-memory index of `guides` (contract.guides.Guide): the server's
    copy of what a kiosk with that content would find."""
    from contract.guides import pick

    conn = sqlite3.connect(":memory:", check_same_thread=False)
    for statement in (_DOCS_SCHEMA, *FTS_SCHEMA):
        conn.execute(statement)
    names: dict[str, object] = {}
    for guide in guides:
        conn.executemany(INSERT_ROWS, index_rows(guide))
        names[guide.id] = guide
    conn.execute("INSERT INTO search_docs_fts(search_docs_fts) VALUES ('rebuild')")

    def titles(ids: Sequence[str], lang: str) -> dict[str, tuple[str, str]]:
        return {gid: (pick(g.title, lang, g.language), pick(g.category, lang, g.language))
                for gid in ids if (g := names.get(gid)) is not None}

    return Searcher(lambda: conn, titles, synonyms)
