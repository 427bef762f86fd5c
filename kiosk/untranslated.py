"""Guides not written in the customer's language (kiosk.toml `untranslated`): "mark" lists them in
their own language, tagged with that language's name; "hide" leaves them out of the lists and the
search results. A guide reads in a language when every text of it has that language
(contract Guide.languages); its own language comes first in that list."""

from __future__ import annotations

from collections.abc import Sequence


def own_language(languages: Sequence[str], lang: str) -> str | None:
    """The language a guide is shown in for a customer reading `lang`, when it is not `lang`
    (its own); None when the guide reads in `lang` (or in `lang`'s base, "pt" for "pt-BR")."""
    if not languages or lang in languages or lang.split("-")[0] in languages:
        return None
    return languages[0]


def listed(languages: Sequence[str], lang: str, mode: str) -> bool:
    """Whether the guide appears in lists and results at all."""
    return mode != "hide" or own_language(languages, lang) is None
