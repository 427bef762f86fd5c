"""Library-level settings: the optional `_library.yaml` at a library's root (shared/DESIGN.md,
"Library-level settings"), never read as a guide. Today it holds the site's search synonyms:

    synonyms:
      en:
        - [toilet, restroom, WC, bathroom]
      de:
        - [Toilette, WC, Klo]

Each language maps to a list of groups; each group is a list of two or more terms (a word or a few
words) that find the same guides. It is validated with the guides, travels with them (bundles,
`Library`, the kiosk's store) and counts in the content digest; a library without the file has
the digest it always had.
"""

from __future__ import annotations

from typing import Any

from contract.guides import LANGUAGE, LibrarySettings, Problem, shown
from contract.limits import MAX_SYNONYM_CHARS, MAX_SYNONYM_GROUPS, MAX_SYNONYM_TERMS

FILE_NAME = "_library.yaml"
FIELDS = {"synonyms"}


def parse_settings(doc: Any, name: str, problems: list[Problem]) -> LibrarySettings:
    """The settings in a `_library.yaml` document (or a served settings document), every problem
    noted in `problems` with the file's name."""
    if doc is None:
        return LibrarySettings()
    if not isinstance(doc, dict):
        problems.append(Problem(name, "must be a mapping of settings (synonyms: ...)"))
        return LibrarySettings()
    for key in doc:
        if key not in FIELDS:
            problems.append(Problem(name, f"has an unknown setting '{shown(key)}'; "
                                    f"known: {', '.join(sorted(FIELDS))}"))
    raw = doc.get("synonyms")
    if raw is None:
        return LibrarySettings()
    if not isinstance(raw, dict):
        problems.append(Problem(name, "synonyms must map a language code to a list of groups, "
                                "e.g. en: [[toilet, restroom, WC]]"))
        return LibrarySettings()
    out: dict[str, tuple[tuple[str, ...], ...]] = {}
    total = 0
    for lang, groups in raw.items():
        if not isinstance(lang, str) or not LANGUAGE.match(lang):
            problems.append(Problem(name, f"synonyms: '{shown(lang)}' is not a language code (en, es, zh, ...)"))
            continue
        if not isinstance(groups, list):
            problems.append(Problem(name, f"synonyms.{lang} must be a list of groups, e.g. [[toilet, restroom]]"))
            continue
        kept = []
        for n, group in enumerate(groups, 1):
            total += 1
            if total > MAX_SYNONYM_GROUPS:
                problems.append(Problem(name, f"has more than {MAX_SYNONYM_GROUPS:,} synonym groups"))
                return LibrarySettings()
            where = f"synonyms.{lang} group {n}"
            if not isinstance(group, list) or not 2 <= len(group) <= MAX_SYNONYM_TERMS:
                problems.append(Problem(name, f"{where} must be a list of 2 to {MAX_SYNONYM_TERMS} words"))
                continue
            terms = []
            for term in group:
                if not isinstance(term, str) or not term.strip():
                    problems.append(Problem(name, f"{where}: {shown(term)} is not a word"))
                elif len(term) > MAX_SYNONYM_CHARS:
                    problems.append(Problem(name, f"{where}: '{shown(term)}' is longer than "
                                            f"{MAX_SYNONYM_CHARS} characters"))
                else:
                    terms.append(term.strip())
            if len(terms) == len(group):
                kept.append(tuple(terms))
        out[lang] = tuple(kept)
    return LibrarySettings(out)
