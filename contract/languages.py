"""The one table of languages the product speaks: the kiosk's UI and language picker, the phone
page, the dashboard's filters, validation and the simulators all read it from here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    code: str
    native_name: str  # the language named in itself, as the picker shows it
    rtl: bool = False


LANGUAGES: tuple[Language, ...] = (
    Language("en", "English"),
    Language("es", "Español"),
    Language("fr", "Français"),
    Language("de", "Deutsch"),
    Language("zh", "中文"),
    Language("ar", "العربية", rtl=True),
)
CODES: tuple[str, ...] = tuple(lang.code for lang in LANGUAGES)
NATIVE_NAMES: dict[str, str] = {lang.code: lang.native_name for lang in LANGUAGES}
# Right-to-left scripts, including ones a guide may carry before the UI is translated into them.
RTL_CODES: frozenset[str] = frozenset({lang.code for lang in LANGUAGES if lang.rtl} | {"fa", "he", "ur"})


def is_rtl(code: str | None) -> bool:
    return (code or "").split("-")[0] in RTL_CODES
