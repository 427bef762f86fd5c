"""UI strings in the customer's language, and text made ready for right-to-left scripts.

Catalogs are gettext .po files under kiosk/locale/<lang>/LC_MESSAGES/kiosk.po, compiled with Babel.
The compiled .mo files are committed, and `ensure_compiled()` rebuilds any that are missing or older
than their .po, so a fresh clone (or an edited .po) works without a build step.

Arabic needs two things Kivy's SDL2 text provider does not do: letters joined into their
contextual forms (arabic-reshaper) and the line laid out right to left (python-bidi). `shape()`
is the one place that happens; `wrap_rtl()` breaks a paragraph into lines *before* reordering, so a
long Arabic text reads top line first. No Kivy here: the widgets pass in a measuring function.
"""

from __future__ import annotations

import gettext
import logging
import re
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path

from contract.languages import CODES, NATIVE_NAMES, RTL_CODES, is_rtl  # noqa: F401 (re-exported for the UI)

log = logging.getLogger(__name__)

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "kiosk"
UI_LANGUAGES = CODES  # the languages the UI is translated into (contract/languages.py)

_ARABIC = re.compile(r"[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")
_CJK = re.compile(r"[\u25a0-\u25ff\u2600-\u27bf\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


def ensure_compiled(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    """Compile every .po whose .mo is missing or stale; returns the .mo files written."""
    written = []
    for po in sorted(locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        from babel.messages.mofile import write_mo  # only when there is work: Babel is slow to import
        from babel.messages.pofile import read_po

        try:
            with po.open("rb") as fh:
                catalog = read_po(fh, locale=po.parent.parent.name)
            tmp = mo.with_suffix(".mo.tmp")
            with tmp.open("wb") as fh:
                write_mo(fh, catalog)
            tmp.replace(mo)
            written.append(mo)
        except OSError as exc:  # a read-only install still has the committed .mo files
            log.warning("could not compile %s: %s", po, exc)
    return written


@cache
def translations(lang: str) -> gettext.NullTranslations:
    return gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[lang], fallback=True)


def tr(message: str, lang: str) -> str:
    """`message` (English, the msgid) in `lang`; English when the catalog lacks it."""
    return translations(lang).gettext(message)


def is_rtl_text(text: str) -> bool:
    return bool(_ARABIC.search(text))


def script_of(text: str) -> str:
    """'arabic', 'cjk' or 'latin': which font can draw this text."""
    if _ARABIC.search(text):
        return "arabic"
    if _CJK.search(text):
        return "cjk"
    return "latin"


@lru_cache(maxsize=4096)
def shape(text: str) -> str:
    """Text as it must be drawn by a left-to-right renderer: Arabic letters joined and each line
    reordered right to left. Text without right-to-left letters comes back unchanged."""
    if not is_rtl_text(text):
        return text
    import arabic_reshaper
    from bidi import get_display

    return "\n".join(_mirror(get_display(arabic_reshaper.reshape(line))) for line in text.split("\n"))


_MIRRORED = str.maketrans("()[]{}<>«»‹›", ")(][}{><»«›‹")


def _mirror(visual: str) -> str:
    """Turn brackets round in right-to-left text (python-bidi reorders but does not mirror).
    A bracket between two Latin letters or digits, as in f(x), belongs to left-to-right text."""
    chars = list(visual)
    for i, ch in enumerate(chars):
        if ch in "()[]{}<>«»‹›":
            before = chars[i - 1] if i else " "
            after = chars[i + 1] if i + 1 < len(chars) else " "
            if not (before.isascii() and before.isalnum() and after.isascii() and after.isalnum()):
                chars[i] = ch.translate(_MIRRORED)
    return "".join(chars)


_ASCII_RUN = re.compile(r"[\x21-\x7e]+(?: +[\x21-\x7e]+)*")


def mark_font_runs(visual: str, font_name: str) -> str:
    """Kivy markup that draws the ASCII runs of an Arabic line in `font_name`: the Arabic font has
    no Latin letters, and Kivy's text providers do no font fallback of their own."""
    def esc(text: str) -> str:
        return text.replace("&", "&amp;").replace("[", "&bl;").replace("]", "&br;")

    out, last = [], 0
    for m in _ASCII_RUN.finditer(visual):
        out.append(esc(visual[last:m.start()]))
        out.append(f"[font={font_name}]{esc(m.group())}[/font]")
        last = m.end()
    out.append(esc(visual[last:]))
    return "".join(out)


def wrap_rtl(text: str, width: float, measure: Callable[[str], float]) -> str:
    """Break `text` into lines no wider than `width` (as measured on the shaped text), then shape
    each line on its own. Shaping a whole paragraph first would put its last words on top."""
    if not is_rtl_text(text) or width <= 0:
        return shape(text)
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for word in paragraph.split(" "):
            candidate = f"{current} {word}" if current else word
            if current and measure(shape(candidate)) > width:
                lines.append(current)
                current = word
            else:
                current = candidate
        lines.append(current)
    return "\n".join(shape(line) for line in lines)
