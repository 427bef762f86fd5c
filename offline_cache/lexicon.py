"""The pinyin lexicon: Chinese words with their frequency and toneless pinyin, in an SQLite file of
its own beside the kiosk's database, for the Chinese keyboard's candidate bar.

It is built from two installed packages, not shipped as data: jieba's dictionary (`jieba/dict.txt`,
MIT: ~349,000 words with corpus frequencies) gives the words and how often each is used, and
pypinyin's data (MIT: `phrases_dict` for the reading of a word in context, `pinyin_dict` for every
reading of a single character) gives the pinyin. Building it from the pinned packages keeps a
~10 MB derived file out of the repository and the wheel, and a kiosk that upgrades either package
rebuilds it (their versions are stored in the file). Words used fewer than MIN_FREQ times in
jieba's corpus are left out (they are rarely what a traveller means); every character stays.

The build takes a few seconds, so it runs the first time the Chinese keyboard shows (on a thread;
the kiosk's start does not wait for it), into a temporary file that replaces the old one in one
rename: a kill mid-build leaves no half-built lexicon. `scripts/build-pinyin-lexicon` builds it
ahead, for a kiosk image.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import unicodedata
from importlib.metadata import version
from pathlib import Path

log = logging.getLogger(__name__)

MIN_FREQ = 5
SCHEMA = 1


def _source_versions() -> str:
    return f"schema={SCHEMA};jieba={version('jieba')};pypinyin={version('pypinyin')};min_freq={MIN_FREQ}"


def toneless(syllable: str) -> str:
    """'lǚ' -> 'lv' (the letter v types ü, as on every pinyin keyboard), 'xíng' -> 'xing'."""
    decomposed = unicodedata.normalize("NFD", syllable.lower()).replace("u\u0308", "v")
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _word_reader():
    """A function word -> [syllables] from pypinyin's data: a word in its phrase dictionary reads
    as recorded there; otherwise the longest known phrases from the left, and single characters by
    their most common reading (what pypinyin's lazy_pinyin does, without its per-call segmenter,
    which makes the build about five times faster; tests/test_keyboard.py checks they agree)."""
    from pypinyin.phrases_dict import phrases_dict
    from pypinyin.pinyin_dict import pinyin_dict

    longest = max(len(w) for w in phrases_dict)

    def read(word: str) -> list[str] | None:
        if word in phrases_dict:
            return [toneless(p[0]) for p in phrases_dict[word]]
        out: list[str] = []
        i = 0
        while i < len(word):
            for size in range(min(longest, len(word) - i), 1, -1):
                part = word[i:i + size]
                if part in phrases_dict:
                    out += [toneless(p[0]) for p in phrases_dict[part]]
                    i += size
                    break
            else:
                readings = pinyin_dict.get(ord(word[i]))
                if readings is None:
                    return None  # not a Chinese character pypinyin knows (Latin, digits)
                out.append(toneless(readings.split(",")[0]))
                i += 1
        return out

    return read, pinyin_dict


def _jieba_words():
    import jieba

    path = Path(jieba.__file__).with_name("dict.txt")
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                yield parts[0], int(parts[1])


def build(path: Path) -> Path:
    """Build the lexicon at `path` (atomically) and return it."""
    read, char_readings = _word_reader()
    rows: dict[tuple[str, str], int] = {}
    for word, freq in _jieba_words():
        if len(word) == 1:
            readings = char_readings.get(ord(word))
            if readings is None:
                continue
            for reading in dict.fromkeys(toneless(r) for r in readings.split(",")):
                rows[(word, reading)] = max(freq, rows.get((word, reading), 0))
            continue
        if freq < MIN_FREQ:
            continue
        syllables = read(word)
        if not syllables or not all(s.isascii() and s.isalpha() for s in syllables):
            continue
        rows[(word, " ".join(syllables))] = max(freq, rows.get((word, " ".join(syllables)), 0))
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    db = sqlite3.connect(tmp)
    try:
        db.executescript("""
            PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
            CREATE TABLE words (word TEXT NOT NULL, pinyin TEXT NOT NULL, initials TEXT NOT NULL,
                                syllables INTEGER NOT NULL, freq INTEGER NOT NULL);
        """)
        db.executemany(
            "INSERT INTO words VALUES (?, ?, ?, ?, ?)",
            ((word, reading.replace(" ", ""), "".join(s[0] for s in reading.split()), reading.count(" ") + 1, freq)
             for (word, reading), freq in rows.items()))
        db.executescript("""
            CREATE INDEX words_pinyin ON words (pinyin, freq DESC);
            CREATE INDEX words_initials ON words (initials, freq DESC);
        """)
        db.execute("INSERT INTO meta VALUES ('sources', ?)", (_source_versions(),))
        db.commit()
    finally:
        db.close()
    os.replace(tmp, path)
    log.info("pinyin lexicon built: %d entries in %s", len(rows), path)
    return path


class PinyinLexicon:
    """Candidates for typed pinyin letters, best first:

    1. words whose whole pinyin is the letters ("xingli" -> 行李, 行礼), most frequent first;
    2. from three letters, words whose pinyin starts with them ("xingl" -> 行李), most frequent first;
    3. from two letters, words whose syllables start with those letters ("xl" -> 行李), below
       every full-pinyin match;
    4. words that stand for the first letters only ("xinglizai" -> 行李, then 行, 星 ...), longest
       first: tapping one leaves the rest of the letters to compose.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def is_built(self) -> bool:
        if not self.path.exists():
            return False
        try:
            with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True) as db:
                row = db.execute("SELECT value FROM meta WHERE key = 'sources'").fetchone()
        except sqlite3.Error:
            return False
        return bool(row) and row[0] == _source_versions()

    def ensure_built(self) -> PinyinLexicon:
        """Build the file if it is missing or from other package versions (slow: call it off
        the UI thread). Safe to call from two threads."""
        with self._lock:
            if not self.is_built():
                self.path.parent.mkdir(parents=True, exist_ok=True)
                build(self.path)
            if self._db is None:
                self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        return self

    def lookup(self, letters: str, limit: int = 30) -> list[tuple[str, int, str]]:
        """(word, letters consumed, kind) for the typed letters; kind is pinyin or initials."""
        letters = "".join(ch for ch in letters.lower() if "a" <= ch <= "z")
        if not letters or self._db is None:
            return []
        db = self._db
        seen: set[str] = set()
        out: list[tuple[str, int, str]] = []

        def add(rows, consumed: int, kind: str) -> None:
            for (word,) in rows:
                if word not in seen and len(out) < limit:
                    seen.add(word)
                    out.append((word, consumed, kind))

        n = len(letters)
        with self._lock:
            # at most two thirds for the whole reading: "ta" has hundreds, and initials need room
            add(db.execute("SELECT word FROM words WHERE pinyin = ? ORDER BY freq DESC LIMIT ?",
                           (letters, max(1, limit * 2 // 3))), n, "pinyin")
            if n >= 3:  # two letters match thousands of words: too slow to rank per keystroke
                add(db.execute("SELECT word FROM words WHERE pinyin > ? AND pinyin < ? "
                               "ORDER BY freq DESC LIMIT ?", (letters, letters + "{", 10)), n, "pinyin")
            if n >= 2:
                add(db.execute("SELECT word FROM words WHERE initials = ? ORDER BY freq DESC LIMIT ?",
                               (letters, 10)), n, "initials")
            for size in range(n - 1, 0, -1):
                if len(out) >= limit:
                    break
                add(db.execute("SELECT word FROM words WHERE pinyin = ? ORDER BY freq DESC LIMIT 8",
                               (letters[:size],)), size, "pinyin")
        return out

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
