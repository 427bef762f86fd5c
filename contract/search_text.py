"""Search that forgives, defined once for both sides: how text is folded (index and query alike),
the pinyin keys of Chinese text, how a site's synonyms widen a query, how a misspelled or
run-together word is corrected, and why a guide matched. The kiosk's store runs it on its FTS5
index; the server can run the same on an in-memory SQLite FTS5 index of the same columns.

The index has one row per (guide, language) with the columns of `COLUMNS`, each holding the
space-separated tokens of `index_tokens` (or `pinyin_keys` for the last two). A query becomes an
FTS5 MATCH expression (`match_expression`) in which every typed word is an FTS5 string, so nothing
a traveller types is syntax.

What is folded, on both sides:
- case, compatibility forms (NFKC) and accents everywhere ("médecin" = "medecin");
- German ä ö ü ß as a o u ss, and the ae oe ue spellings as a o u ("Gepäck" = "gepaeck" = "gepack");
- Arabic: alef forms (أ إ آ ٱ) to ا, ة to ه, ى to ي, tashkeel and tatweel dropped, Eastern Arabic
  and Persian digits to 0-9, Persian ی ک to ي ك; a word's article (ال) is indexed with and without;
- Chinese: every ideograph is a token; runs of ideographs in the title, keywords and category also
  give their pinyin (without tones),
  every run of one to four syllables joined ("xing", "xingli", "li") and the initials of two to four
  ("xl"). Traditional characters are folded to simplified (OpenCC's t2s tables, phrase-aware),
  so 轉機 and 转机 are the same tokens; a query in characters is matched by its pinyin too.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

# The index's columns, in order, and their bm25 weights: the title weighs most; pinyin below the
# text it reads; initials least, so "xl" ranks below "xingli".
COLUMNS = ("title", "keywords", "category", "body", "pinyin", "initials")
WEIGHTS = (10.0, 6.0, 3.0, 1.0, 4.0, 0.5)
TEXT_COLUMNS = COLUMNS[:4]
SHORT_COLUMNS = ("title", "keywords", "category")  # where one or two typed letters look
SAME_LANGUAGE_BOOST = 1.5  # a row in the traveller's language ranks above the same match elsewhere

CJK = re.compile(r"([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff])")
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD_SPLIT = re.compile(r"[^\w]+")
# Combining marks below U+0700: Latin, Greek and Cyrillic accents, Hebrew points, Arabic tashkeel
# (and the hamza and madda that NFD splits off أ إ آ ؤ ئ). Marks of other scripts (kana's
# dakuten, Indic vowel signs) change the letter, so they stay.
_MARKS = re.compile(r"[\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")
_CHARS = str.maketrans({
    "\u0671": "\u0627",  # ٱ alef wasla
    "\u0629": "\u0647",  # ة taa marbuta -> ه
    "\u0649": "\u064a",  # ى alef maqsura -> ي
    "\u06cc": "\u064a",  # ی Persian yeh -> ي
    "\u06a9": "\u0643",  # ک Persian kaf -> ك
    "\u0640": None,  # tatweel
    **{chr(0x0660 + d): str(d) for d in range(10)},  # ٠-٩
    **{chr(0x06F0 + d): str(d) for d in range(10)},  # ۰-۹
})
_ARTICLE = "\u0627\u0644"  # ال

# Corrections: the shortest word corrected, and how many edits a word of a length may need.
# Arabic words are short and dense (a root of three letters in a pattern): one letter changed in
# a five-letter word is usually another real word (بركان, a volcano, is one edit from بمكان), so
# an Arabic word is corrected only from six letters.
MIN_CORRECTED = 4
MIN_CORRECTED_ARABIC = 6
_ARABIC_LETTER = re.compile(r"[\u0600-\u06ff]")
_DECOMPOSABLE = re.compile(r"[\u00c0-\u06ff\u1e00-\u1fff]")  # letters with marks NFD splits off


def max_edits(word: str) -> int:
    return 1 if len(word) < 8 else 2


def correctable(word: str) -> bool:
    if CJK.match(word) or word.isdigit():
        return False
    return len(word) >= (MIN_CORRECTED_ARABIC if _ARABIC_LETTER.match(word) else MIN_CORRECTED)


def fold(text: str) -> str:
    """Text as both the index and the query see it (module docstring)."""
    if text.isascii():  # the fast path: most text, and most of every import
        return text.lower().replace("ae", "a").replace("oe", "o").replace("ue", "u")
    text = unicodedata.normalize("NFKC", text).casefold()
    if HAN_RUN.search(text):
        text = _t2s()(text)
    if _ARABIC_LETTER.search(text):
        text = text.translate(_CHARS)
    if _DECOMPOSABLE.search(text):  # not for text that is all ideographs, say
        text = unicodedata.normalize("NFC", _MARKS.sub("", unicodedata.normalize("NFD", text)))
    return text.replace("ae", "a").replace("oe", "o").replace("ue", "u")


@lru_cache(maxsize=1)
def _t2s() -> Callable[[str], str]:
    """OpenCC's traditional-to-simplified converter (about 1 µs a call), loaded when Chinese is
    first seen. Phrase-aware, so 乾燥 becomes 干燥 while 乾隆 stays: a character table alone gets
    those wrong."""
    import opencc

    return opencc.OpenCC("t2s").convert


def _spaced(run: re.Match) -> str:
    return " " + " ".join(run.group()) + " "


def words(text: str) -> list[str]:
    """The folded words of a query, each ideograph a word of its own."""
    folded = fold(text)
    if not folded.isascii() and CJK.search(folded):
        folded = _CJK_RUN.sub(_spaced, folded)
    return [w for w in _WORD_SPLIT.split(folded) if w]


_ARTICLE_WORD = re.compile(r"(?<!\w)\u0627\u0644(\w{2,})")


def index_tokens(text: str) -> str:
    """A text field as the index holds it: folded, each ideograph spaced into a word of its own,
    and an Arabic word that starts with the article also without it (so "امتعة" finds "الأمتعة"
    and the other way round). FTS5's unicode61 splits the words, as `words` does for a query."""
    folded = fold(text)
    if folded.isascii():
        return folded
    if CJK.search(folded):
        folded = _CJK_RUN.sub(_spaced, folded)
    if _ARTICLE in folded:
        folded = _ARTICLE_WORD.sub(lambda m: f"{m.group()} {m.group(1)}", folded)
    return folded


_TONELESS = str.maketrans({
    **dict.fromkeys("āáǎà", "a"), **dict.fromkeys("ēéěèế", "e"), **dict.fromkeys("īíǐì", "i"),
    **dict.fromkeys("ōóǒò", "o"), **dict.fromkeys("ūúǔù", "u"), **dict.fromkeys("üǖǘǚǜ", "v"),
    **dict.fromkeys("ńňǹ", "n"), **dict.fromkeys("ḿ", "m"),
})
_LONGEST_PHRASE = 4


@lru_cache(maxsize=1)
def _readings() -> tuple[dict[int, str], dict[str, list[str]]]:
    """pypinyin's dictionaries, tones taken off: {code point: its most common reading} and
    {phrase: its readings}. Loaded once Chinese is first seen (about 0.3 s). Reading them
    directly costs a dictionary look-up per character, where pypinyin's converter costs 25 µs:
    at import that was three quarters of a six-language library's time."""
    from pypinyin.phrases_dict import phrases_dict
    from pypinyin.pinyin_dict import pinyin_dict

    chars = {cp: r.split(",")[0].translate(_TONELESS) for cp, r in pinyin_dict.items()}
    phrases = {p: [r[0].translate(_TONELESS) for r in rs] for p, rs in phrases_dict.items()
               if 2 <= len(p) <= _LONGEST_PHRASE}
    return chars, phrases


def _syllables(run: str) -> list[str]:
    """The toneless pinyin of a run of ideographs: the longest phrase pypinyin knows at each
    point (so 行李 reads xing li and 银行 yin hang), else each character's most common reading."""
    chars, phrases = _readings()
    out: list[str] = []
    i = 0
    while i < len(run):
        for n in range(min(_LONGEST_PHRASE, len(run) - i), 1, -1):
            found = phrases.get(run[i:i + n])
            if found:
                out += found
                i += n
                break
        else:
            reading = chars.get(ord(run[i]))
            if reading:
                out.append(reading)
            i += 1
    return [s for s in out if s.isascii() and s.isalpha()]


# Pinyin keys are indexed behind a Bopomofo letter, in a part of the index's vocabulary of their
# own: a Latin prefix query ("li*") then never walks the thousands of pinyin keys that start with
# the same letters, and a pinyin query walks nothing else. unicode61 keeps the letter in the token.
PINYIN_MARK = "\u3106"  # ㄆ
INITIALS_MARK = "\u3114"  # ㄔ
_SPAN = 4  # syllables joined into one key at most


def pinyin_keys(text: str) -> tuple[str, str]:
    """(full, initials) keys of the Chinese in `text`: every one to four consecutive syllables
    joined, and the initials of every two to four, each behind its mark."""
    full: list[str] = []
    initials: list[str] = []
    for run in HAN_RUN.findall(unicodedata.normalize("NFKC", text)):
        syl = _syllables(run)
        first = [s[0] for s in syl]
        n = len(syl)
        for i in range(n):
            key, init = PINYIN_MARK + syl[i], INITIALS_MARK + first[i]
            full.append(key)
            for j in range(i + 1, min(i + _SPAN, n)):
                key += syl[j]
                init += first[j]
                full.append(key)
                initials.append(init)
    return " ".join(full), " ".join(initials)


def query_pinyin(text: str) -> str | None:
    """What a query is, read as pinyin: Latin letters with the spaces taken out ("xing li" is
    "xingli"), or the pinyin of the ideographs it holds (a traditional or simplified spelling)."""
    if HAN_RUN.search(text):
        syl = [s for run in HAN_RUN.findall(unicodedata.normalize("NFKC", text)) for s in _syllables(run)]
        joined = "".join(syl)
    else:
        folded = fold(text)
        if not re.fullmatch(r"[a-z' ]+", folded):
            return None
        joined = re.sub(r"[^a-z]", "", folded)
    return joined if len(joined) >= 2 else None


def search_rows(guide) -> list[tuple[str, tuple[str, ...]]]:
    """The index rows of one guide: (language, the COLUMNS' tokens) for every language it has text
    in. Title weighs most, then keywords, category, and the steps' text with the answers."""
    from contract.guides import pick

    langs = set(guide.title) | set(guide.keywords)
    for step in guide.steps.values():
        langs |= set(step.text)
    rows = []
    for lang in sorted(langs):
        title = guide.title.get(lang, "")
        keywords = " ".join(guide.keywords.get(lang, ()))
        category = guide.category.get(lang, "")
        body = " ".join(step.text[lang] for step in guide.steps.values() if lang in step.text)
        body += " " + " ".join(pick(c.label, lang, "") for s in guide.steps.values() for c in s.choices
                               if lang in c.label)
        # Pinyin of what names the guide (title, keywords, category), not of every step: that is
        # what a traveller looks for by sound, and the steps' pinyin doubled a Chinese library's
        # index and its import time.
        named = f"{title} {keywords} {category}"
        full, initials = pinyin_keys(named) if HAN_RUN.search(named) else ("", "")
        rows.append((lang, (index_tokens(title), index_tokens(keywords), index_tokens(category),
                            index_tokens(body), full, initials)))
    return rows


# --- synonyms ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Synonyms:
    """A site's synonym groups, folded: {language: [group, ...]}, each group a tuple of terms and
    each term the tuple of its words."""
    groups: Mapping[str, tuple[tuple[tuple[str, ...], ...], ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, synonyms: Mapping[str, Iterable[Iterable[str]]]) -> Synonyms:
        folded = {}
        for lang, groups in synonyms.items():
            folded[lang] = tuple(tuple(t for t in (tuple(words(term)) for term in group) if t) for group in groups)
        return cls(folded)

    def runs(self, typed: Sequence[str], lang: str) -> dict[int, tuple[int, tuple[tuple[str, ...], ...]]]:
        """{start: (end, alternatives)}: where a run of typed words is a term of a group (the last
        word may be the start of a term's last word, from three letters), the longest at each start."""
        found: dict[int, tuple[int, tuple[tuple[str, ...], ...]]] = {}
        groups = self.groups.get(lang) or self.groups.get(lang.split("-")[0], ())
        for group in groups:
            for term in group:
                n = len(term)
                for i in range(len(typed) - n + 1):
                    run = tuple(typed[i:i + n])
                    last = i + n == len(typed)
                    matches = run == term or (last and run[:-1] == term[:-1] and len(run[-1]) >= 3
                                              and term[-1].startswith(run[-1]))
                    if matches and n > found.get(i, (i, ()))[0] - i:
                        found[i] = (i + n, tuple(t for t in group if t != run) + (run,))
        return found


NO_SYNONYMS = Synonyms()


# --- the query -----------------------------------------------------------------------------------

def fts_string(word: str) -> str:
    """`word` as an FTS5 string: inside double quotes nothing is syntax, and a quote is doubled."""
    return '"' + word.replace('"', '""') + '"'


@dataclass(frozen=True)
class Query:
    typed: str
    words: tuple[str, ...]
    match: str  # the FTS5 MATCH expression
    synonym_runs: Mapping[int, tuple[int, tuple[tuple[str, ...], ...]]]
    pinyin: str | None


def _phrase(term: Sequence[str], prefix: bool) -> str:
    return fts_string(" ".join(term)) + ("*" if prefix else "")


def build_query(text: str, lang: str = "en", synonyms: Synonyms = NO_SYNONYMS,
                typed_words: Sequence[str] | None = None) -> Query | None:
    """Search-as-you-type: every word must match, the last one as a prefix; a word (or run of
    words) that is a synonym term matches any term of its group; in a Chinese session Latin
    letters also match the pinyin of Chinese text (full from two letters, initials from two), and
    in any session ideographs match their pinyin too (traditional finds simplified). None when
    nothing searchable was typed."""
    ws = tuple(words(text)) if typed_words is None else tuple(typed_words)
    if not ws:
        return None
    runs = synonyms.runs(ws, lang)
    parts = []
    i = 0
    while i < len(ws):
        last = i == len(ws) - 1
        if i in runs:
            end, alternatives = runs[i]
            # A short term is matched whole: "loo" must not find "look".
            alts = [_phrase(t, prefix=len(t[-1]) >= 4 or t == tuple(ws[i:end])) for t in alternatives]
            parts.append("(" + " OR ".join(alts) + ")")
            i = end
            continue
        parts.append(_phrase((ws[i],), prefix=last))
        i += 1
    text_part = " ".join(parts)
    short = len(ws[-1]) < 3 and not CJK.match(ws[-1])
    # One or two typed letters match a large part of a big library's step text; ranking all of it
    # costs frames. Until the third letter, look in titles, keywords and categories.
    columns = SHORT_COLUMNS if short else TEXT_COLUMNS
    expression = "({" + " ".join(columns) + "} : (" + text_part + "))"
    # Latin letters are read as pinyin in a Chinese session only: elsewhere "ban" or "li" would
    # rank Chinese guides among the traveller's own, and cost every keystroke a second lookup.
    chinese = lang.split("-")[0] == "zh" or HAN_RUN.search(text)
    pinyin = query_pinyin(text) if typed_words is None and chinese else None
    if pinyin:
        expression += f" OR (pinyin : {fts_string(PINYIN_MARK + pinyin)}*)"
        if len(pinyin) <= _SPAN and not HAN_RUN.search(text):
            expression += f" OR (initials : {fts_string(INITIALS_MARK + pinyin)}*)"
    return Query(text, ws, expression, runs, pinyin)


# --- why a guide matched -------------------------------------------------------------------------

def explain(query: Query, row: Sequence[str], corrected: bool = False) -> str:
    """Why the index row `row` (the COLUMNS' tokens) matched `query`: exact, prefix, synonym,
    pinyin, or corrected (the query matched only once a word was corrected)."""
    if corrected:
        return "corrected"
    tokens = set(_WORD_SPLIT.split(" ".join(row[:4])))

    def direct(word: str, last: bool) -> str | None:
        if word in tokens:
            return "exact"
        if last and any(t.startswith(word) for t in tokens):
            return "prefix"
        return None

    n = len(query.words)
    found = [direct(w, i == n - 1) for i, w in enumerate(query.words)]
    if all(found):
        return "prefix" if "prefix" in found else "exact"
    if query.synonym_runs:
        return "synonym"
    if query.pinyin:
        return "pinyin"
    return "prefix"


# --- corrections ---------------------------------------------------------------------------------

class Corrector:
    """Spelling corrections from the index's own vocabulary ({word: documents it is in}): a word
    no guide has is replaced by the most common word within one edit (two from eight letters) that
    starts with the same letter, or split into two words the index has ("firstaid"). The last word
    may also be the start of a word ("chargr" -> "charg[ing]" is "charger" or "charging")."""

    def __init__(self, vocabulary: Mapping[str, int]):
        self.counts = {w: n for w, n in vocabulary.items() if len(w) >= 2 and not w.isdigit()}
        self.sorted = sorted(self.counts)
        # Candidates grouped by (first letter, length), most common first.
        self._buckets: dict[tuple[str, int], list[str]] = {}
        for w in sorted(self.counts, key=lambda w: -self.counts[w]):
            self._buckets.setdefault((w[0], len(w)), []).append(w)
        self._prefixes: dict[tuple[str, int], dict[str, str]] = {}

    def known(self, word: str, last: bool) -> bool:
        if word in self.counts:
            return True
        if last:
            i = bisect.bisect_left(self.sorted, word)
            return i < len(self.sorted) and self.sorted[i].startswith(word)
        return False

    def _nearest(self, word: str, last: bool, k: int,
                 prefer: Callable[[str], bool] | None = None) -> tuple[str, int] | None:
        """The most common known word within `k` edits (a swap of two letters is one), or the
        start of one within one edit if `word` is the last; with its distance. Of the nearest,
        one that `prefer` accepts (a word of the traveller's language) wins."""
        from rapidfuzz import process
        from rapidfuzz.distance import OSA

        found: list[tuple[int, int, str]] = []
        for length in range(len(word) - k, len(word) + k + 1):
            bucket = self._buckets.get((word[0], length))
            if bucket:
                found += [(d, -self.counts[w], w) for w, d, _ in
                          process.extract(word, bucket, scorer=OSA.distance, score_cutoff=k, limit=3)]
        if not found and last:
            prefixes = self._prefix_map(word[0], len(word))
            if prefixes:
                found = [(d, -self.counts[prefixes[p]], prefixes[p]) for p, d, _ in
                         process.extract(word, list(prefixes), scorer=OSA.distance, score_cutoff=1, limit=3)]
        if not found:
            return None
        found.sort()
        nearest = [f for f in found if f[0] == found[0][0]]
        if prefer is not None and len(nearest) > 1:
            for f in nearest[:4]:
                if prefer(f[2]):
                    return f[2], f[0]
        return nearest[0][2], nearest[0][0]

    def _prefix_map(self, first: str, length: int) -> dict[str, str]:
        """{the first `length` letters of a longer word: its most common word}, for one first letter."""
        key = (first, length)
        if key not in self._prefixes:
            out: dict[str, str] = {}
            for (f, n), bucket in self._buckets.items():
                if f == first and n > length:
                    for w in bucket:
                        p = w[:length]
                        if p not in out or self.counts[w] > self.counts[out[p]]:
                            out[p] = w
            self._prefixes[key] = out
        return self._prefixes[key]

    def correct(self, typed: Sequence[str], prefer: Callable[[str], bool] | None = None) -> list[str] | None:
        """The typed words with unknown ones corrected, or None when nothing could be corrected.
        `prefer` breaks a tie between equally near words ("baggge": baggage, not French bagage)."""
        out: list[str] = []
        changed = False
        for i, word in enumerate(typed):
            last = i == len(typed) - 1
            if self.known(word, last) or not correctable(word):
                out.append(word)
                continue
            # One typo beats a split ("perdida" is "perdido", not "perdi da"); a split beats two.
            near = self._nearest(word, last, 1, prefer)
            split = None if near else self._split(word, last)
            if split:
                out.extend(split)
            elif near or (max_edits(word) > 1 and (near := self._nearest(word, last, max_edits(word), prefer))):
                out.append(near[0])
            else:
                return None
            changed = True
        return out if changed else None

    def _split(self, word: str, last: bool) -> list[str] | None:
        best = None
        for i in range(3, len(word) - 2):
            a, b = word[:i], word[i:]
            if a in self.counts and self.known(b, last):
                score = self.counts[a] + self.counts.get(b, 0)
                if best is None or score > best[0]:
                    best = (score, [a, b])
        return best[1] if best else None
