"""Which texts of a library exist in which language: the translatable texts of a guide, each named
by a stable key, and per language how many texts and guides are translated and which texts are
missing (issue 12: "report language coverage at publish"; issue 14: counts per guide and library).

One list of a guide's texts (`guide_texts`) serves the coverage report here and the translation
files (server/translation_files.py), so both agree on what a text is and what it is called. A new
text field of the format is added there, once.

A text's key is `guide/field` or `guide/step/field`: `lost-baggage/title`, `lost-baggage/category`,
`lost-baggage/belt/text`, `lost-baggage/belt/choice 2` (the second answer, counted from 1). Guide
and step ids cannot hold `/`, so a key reads back without doubt.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from contract.guides import DEFAULT_CATEGORY, Guide, Library, Text


@dataclass(frozen=True)
class TextRef:
    """One translatable text of a guide, and where it is."""

    guide: str
    step: str | None  # None: a text of the guide itself (title, category)
    field: str  # title | category | text | choice N
    text: Text

    @property
    def key(self) -> str:
        return "/".join(p for p in (self.guide, self.step, self.field) if p is not None)

    def where(self) -> str:
        """In words, for a person: `lost-baggage, step 'belt', choice 2`."""
        return self.guide + (f", step '{self.step}'" if self.step else "") + f", {self.field}"


def guide_texts(guide: Guide) -> list[TextRef]:
    """Every text of the guide that a traveller reads, in the order the guide shows them. The
    category is left out when it is the format's default ({"en": "General"}, what a file without a
    category gets): that is no text the guide's author wrote, nor one to translate."""
    refs = [TextRef(guide.id, None, "title", guide.title)]
    if guide.category != DEFAULT_CATEGORY:
        refs.append(TextRef(guide.id, None, "category", guide.category))
    for step in guide.steps.values():
        refs.append(TextRef(guide.id, step.id, "text", step.text))
        refs.extend(TextRef(guide.id, step.id, f"choice {n}", choice.label)
                    for n, choice in enumerate(step.choices, start=1))
    return refs


def default_language(library: Library) -> str:
    """The library's default language: the one most of its guides are written in (ties: by code)."""
    counts = Counter(g.language for g in library.guides.values())
    return min(counts, key=lambda lang: (-counts[lang], lang)) if counts else "en"


def library_languages(library: Library) -> list[str]:
    """Every language any text of the library is written in, the default language first."""
    langs = {lang for g in library.guides.values() for ref in guide_texts(g) for lang in ref.text}
    first = default_language(library)
    return sorted(langs | {first}, key=lambda lang: (lang != first, lang))


@dataclass(frozen=True)
class LanguageCoverage:
    """How much of a library reads in one language."""

    lang: str
    guides: int
    complete_guides: int  # guides with every text in this language
    texts: int
    translated_texts: int
    missing: tuple[TextRef, ...]  # in library order: guide by guide, as each guide shows them

    def summary(self) -> str:
        missing = len(self.missing)
        return (f"{self.lang}: {self.complete_guides} of {self.guides} guides complete, "
                f"{missing} text{'' if missing == 1 else 's'} missing")

    def as_dict(self) -> dict[str, Any]:
        return {"lang": self.lang, "guides": self.guides, "complete_guides": self.complete_guides,
                "texts": self.texts, "translated_texts": self.translated_texts,
                "missing": [{"key": r.key, "guide": r.guide, "step": r.step, "field": r.field}
                            for r in self.missing]}


def library_coverage(library: Library) -> list[LanguageCoverage]:
    """Per language of the library, default language first: guides and texts translated, and the
    texts missing. A text counts in a language when the file gives it in that language (a regional
    `pt-BR` text does not count for `pt`, nor the other way round)."""
    texts = {gid: guide_texts(library.guides[gid]) for gid in sorted(library.guides)}
    out = []
    for lang in library_languages(library):
        missing = [ref for refs in texts.values() for ref in refs if lang not in ref.text]
        incomplete = {ref.guide for ref in missing}
        total = sum(len(refs) for refs in texts.values())
        out.append(LanguageCoverage(lang, len(texts), len(texts) - len(incomplete), total,
                                    total - len(missing), tuple(missing)))
    return out


def guide_coverage(guide: Guide, langs: list[str]) -> dict[str, tuple[int, int]]:
    """(texts in the language, texts) of one guide for each of `langs`, for a per-guide count."""
    refs = guide_texts(guide)
    return {lang: (sum(lang in r.text for r in refs), len(refs)) for lang in langs}
