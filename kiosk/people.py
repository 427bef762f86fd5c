"""Where a person can be found, for the traveller a guide did not help (the screen after "No").

The most specific place wins: one written for this site and this guide in `_library.yaml`, then
one for this guide at any site, then the guide's own `help` field, then one for this site, then one
for every site and guide. None when the library says nothing: the screen then gives its general
sentence (the information desk, anyone in uniform). kiosk.toml's `site` names this kiosk's site.
"""

from __future__ import annotations

from contract.guides import Guide, LibrarySettings, Text, pick


def where_to_find_a_person(settings: LibrarySettings, guide: Guide | None, site: str, lang: str) -> str | None:
    """The sentence in `lang` (else the guide's or English, else any language it has), or None."""
    site = site.strip()
    guide_id = guide.id if guide else None
    candidates: list[Text] = []
    places = settings.help

    def matching(want_site: bool, want_guide: bool) -> list[Text]:
        return [p.text for p in places
                if (p.site == site if want_site else p.site is None)
                and (p.guide == guide_id if want_guide else p.guide is None)]

    if site and guide_id:
        candidates += matching(True, True)
    if guide_id:
        candidates += matching(False, True)
    if guide is not None and guide.help:
        candidates.append(guide.help)
    if site:
        candidates += matching(True, False)
    candidates += matching(False, False)
    if not candidates:
        return None
    return pick(candidates[0], lang, guide.language if guide else "en")
