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

Where a person can be found, for the traveller a guide did not help (the kiosk's screen after
"No"): a list of places, each for one site (kiosk.toml's `site`) or every site, and for one guide
or every guide; the kiosk shows the most specific one (screens and rules: kiosk/people.py):

    help:
      - text: {en: The information desk in the main hall, de: Die Information in der Haupthalle}
      - site: terminal-2
        text: {en: The information desk opposite gate B12}
      - site: terminal-2
        guide: lost-baggage
        text: {en: The Baggage Service desk by belt 4}

Categories: a title per language and a pictogram (contract/icons.py) for the home screen's tiles.
An entry names the guides whose `category` reads as its title in English (else in the title's
first language); a category no entry names keeps the guides' own text and no icon:

    categories:
      - title: {en: Baggage, de: Gepäck, ar: الأمتعة}
        icon: baggage
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contract.guides import (
    GUIDE_ID,
    LANGUAGE,
    CategorySetting,
    HelpPlace,
    LibrarySettings,
    Problem,
    Text,
    category_key,
    shown,
)
from contract.icons import icon_problem
from contract.limits import MAX_SYNONYM_CHARS, MAX_SYNONYM_GROUPS, MAX_SYNONYM_TERMS

FILE_NAME = "_library.yaml"
FIELDS = {"synonyms", "help", "categories"}
HELP_FIELDS = {"text", "site", "guide"}
CATEGORY_FIELDS = {"title", "icon"}
MAX_CATEGORIES = 500
MAX_HELP_PLACES = 500
MAX_HELP_CHARS = 500


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
    return LibrarySettings(_synonyms(doc.get("synonyms"), name, problems),
                           _help_places(doc.get("help"), name, problems),
                           _categories(doc.get("categories"), name, problems))


def _help_text(value: Any, where: str, name: str, problems: list[Problem], what: str = "text") -> Text | None:
    if isinstance(value, str):
        value = {"en": value}
    if not isinstance(value, dict) or not value:
        problems.append(Problem(name, f"{where}: {what} must be text, or translations like {{en: ..., de: ...}}"))
        return None
    out: Text = {}
    for lang, words in value.items():
        if not isinstance(lang, str) or not LANGUAGE.match(lang):
            problems.append(Problem(name, f"{where}: '{shown(lang)}' is not a language code (en, es, zh, ...)"))
        elif not isinstance(words, str) or not words.strip() or len(words) > MAX_HELP_CHARS:
            problems.append(Problem(name, f"{where}: the {what} in '{lang}' must be 1 to {MAX_HELP_CHARS} characters"))
        else:
            out[lang] = words.strip()
    return out if len(out) == len(value) else None


@dataclass(frozen=True)
class _ListSetting:
    """A setting that is a list of mappings (help places, categories), in the words its problems use."""

    key: str  # the setting's name in the file
    item: str  # one entry, as a problem names it ("help place 2")
    limit: int
    fields: frozenset[str]
    required: str
    each: str  # "each with ...", after "a list of up to N ..."
    mapping: str  # "a mapping with ...", for an entry that is not one


HELP = _ListSetting("help", "help place", MAX_HELP_PLACES, frozenset(HELP_FIELDS), "text",
                    "places, each with text and optionally site and guide", "text (and optionally site, guide)")
CATEGORIES = _ListSetting("categories", "category", MAX_CATEGORIES, frozenset(CATEGORY_FIELDS), "title",
                          "categories, each with a title and optionally an icon", "a title (and optionally an icon)")


def _entries(setting: _ListSetting, raw: Any, name: str, problems: list[Problem]) -> list[tuple[int, str, dict]]:
    """(number, how a problem names it, the mapping) of each sound entry of a list setting; every
    entry that is not a mapping with the required field and known fields only is a problem."""
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > setting.limit:
        problems.append(Problem(name, f"{setting.key} must be a list of up to {setting.limit} {setting.each}"))
        return []
    out = []
    for n, entry in enumerate(raw, 1):
        where = f"{setting.item} {n}"
        if not isinstance(entry, dict) or setting.required not in entry:
            problems.append(Problem(name, f"{where} must be a mapping with {setting.mapping}"))
            continue
        unknown = sorted(set(map(shown, entry)) - setting.fields)
        if unknown:
            problems.append(Problem(name, f"{where} has an unknown field '{unknown[0]}'; "
                                    f"known: {', '.join(sorted(setting.fields))}"))
            continue
        out.append((n, where, entry))
    return out


def _help_places(raw: Any, name: str, problems: list[Problem]) -> tuple[HelpPlace, ...]:
    out = []
    for _, where, place in _entries(HELP, raw, name, problems):
        site, guide = place.get("site"), place.get("guide")
        if site is not None and (not isinstance(site, str) or not site.strip() or len(site) > 100):
            problems.append(Problem(name, f"{where}: site must be a site's name as kiosk.toml gives it"))
            continue
        if guide is not None and (not isinstance(guide, str) or not GUIDE_ID.match(guide)):
            problems.append(Problem(name, f"{where}: guide '{shown(guide)}' is not a guide id"))
            continue
        text = _help_text(place["text"], where, name, problems)
        if text:
            out.append(HelpPlace(text, site.strip() if site else None, guide))
    return tuple(out)


def _categories(raw: Any, name: str, problems: list[Problem]) -> tuple[CategorySetting, ...]:
    out, seen = [], {}
    for n, where, entry in _entries(CATEGORIES, raw, name, problems):
        icon = entry.get("icon")
        if icon is not None and (why := icon_problem(icon, f"{where}: icon")):
            problems.append(Problem(name, why))
            continue
        title = _help_text(entry["title"], where, name, problems, "title")
        if not title:
            continue
        key = category_key(title, next(iter(title)))
        if key in seen:
            problems.append(Problem(name, f"{where} names the same category as category {seen[key]}"))
            continue
        seen[key] = n
        out.append(CategorySetting(title, icon))
    return tuple(out)


def _synonyms(raw: Any, name: str, problems: list[Problem]) -> dict[str, tuple[tuple[str, ...], ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append(Problem(name, "synonyms must map a language code to a list of groups, "
                                "e.g. en: [[toilet, restroom, WC]]"))
        return {}
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
                return {}
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
    return out
