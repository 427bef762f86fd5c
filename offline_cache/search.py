"""Full-text search text and queries for the store's FTS5 index: how guide text is tokenised
(Chinese and Japanese ideographs one token each) and how a customer's typing becomes a query that
any text keeps valid."""

from __future__ import annotations

import re
import unicodedata

CJK = re.compile(r"([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff])")


def fts_text(text: str) -> str:
    """Text as FTS5's unicode61 tokenizer should see it. Chinese and Japanese have no spaces, so
    each ideograph becomes its own token; a query for 行李 then finds 行李箱."""
    return CJK.sub(r" \1 ", unicodedata.normalize("NFKC", text))


def fts_string(word: str) -> str:
    """`word` as an FTS5 string: inside double quotes nothing is syntax, and a quote is doubled."""
    return '"' + word.replace('"', '""') + '"'


def fts_query(user_text: str) -> str | None:
    """Search-as-you-type: every word must match, the last one as a prefix. Every word is an FTS5
    string, so operators typed by a customer (AND, NEAR, -, *, ", column:) are words, never
    syntax, and any text makes a valid query."""
    words = [w for w in re.split(r"[^\w]+", fts_text(user_text).casefold()) if w]
    if not words:
        return None
    terms = " ".join([fts_string(w) for w in words[:-1]] + [fts_string(words[-1]) + "*"])
    if len(words[-1]) < 3 and not CJK.match(words[-1]):
        # One or two typed letters match a large part of a big library's step text; ranking all
        # of it costs frames. Until the third letter, look in titles, keywords and categories.
        return "{title keywords category} : (" + terms + ")"
    return terms
