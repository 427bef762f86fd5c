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
def shape(text: str, base_dir: str | None = None) -> str:
    """Text as it must be drawn by a left-to-right renderer: Arabic letters joined and each line
    reordered right to left. Text without right-to-left letters comes back unchanged. `base_dir`
    ("R" or "L") is the paragraph's direction when `text` is one line of a longer paragraph: a
    wrapped line that starts with a Latin word ("Gate B12 ...") still runs right to left."""
    if not is_rtl_text(text):
        return text
    import arabic_reshaper

    return "\n".join(_reorder(arabic_reshaper.reshape(line), base_dir or paragraph_dir(line))
                     for line in text.split("\n"))


_STRONG_LTR = re.compile(r"[A-Za-z\u00c0-\u024f\u0370-\u052f\u2e80-\u9fff]")


def paragraph_dir(text: str) -> str:
    """"R" or "L": the direction of a paragraph, from its first strong letter (Unicode's rule P2)."""
    rtl, ltr = _ARABIC.search(text), _STRONG_LTR.search(text)
    return "R" if rtl and (ltr is None or rtl.start() < ltr.start()) else "L"


_MIRRORED = str.maketrans("()[]{}<>«»‹›", ")(][}{><»«›‹")
_OPENING = {"(": ")", "[": "]", "{": "}"}
# Bracket pairs of Unicode's BidiBrackets.txt that the guides do not use: each pair of the text is
# drawn through the reordering as one of these, so its place in the result tells which bracket went
# where (the algorithm treats every paired bracket alike, rule N0).
_TAGS = ("\u2045\u2046", "\u207d\u207e", "\u208d\u208e", "\u2308\u2309", "\u230a\u230b",
         "\u2768\u2769", "\u276a\u276b", "\u276c\u276d", "\u276e\u276f", "\u2770\u2771",
         "\u2772\u2773", "\u2774\u2775", "\u27e6\u27e7", "\u27e8\u27e9", "\u27ea\u27eb",
         "\u2983\u2984", "\u2985\u2986", "\u2987\u2988", "\u2989\u298a", "\u298b\u298c")


def _reorder(line: str, base_dir: str) -> str:
    """One line in drawing order, its brackets mirrored where the reordering put them in a
    right-to-left run (python-bidi reorders but does not mirror). Each pair of brackets in the
    text goes through the reordering tagged (_TAGS): a pair that comes out close-then-open was
    turned round with its run and is mirrored; one left in a left-to-right run ("Terminal 2
    (Gate B12)" in an Arabic line) is kept. A bracket without a partner, and «» ‹› <> (which
    the algorithm places one by one), are mirrored unless they stand between two Latin letters
    or digits, as in f(x)."""
    from bidi import get_display

    chars = list(line)
    stack: list[int] = []
    pairs: list[tuple[int, int]] = []
    for i, ch in enumerate(chars):
        if ch in _OPENING:
            stack.append(i)
        elif ch in _OPENING.values():
            while stack and _OPENING[chars[stack[-1]]] != ch:
                stack.pop()  # an opening bracket of another kind never closed
            if stack:
                pairs.append((stack.pop(), i))
    pairs = pairs[:len(_TAGS)]
    original: dict[str, str] = {}
    for (start, end), tag in zip(pairs, _TAGS):
        original[tag[0]], original[tag[1]] = chars[start], chars[end]
        chars[start], chars[end] = tag
    visual = list(get_display("".join(chars), base_dir=base_dir))
    where = {ch: i for i, ch in enumerate(visual) if ch in original}
    for tag in _TAGS[:len(pairs)]:
        turned = where[tag[1]] < where[tag[0]]
        for ch in tag:
            visual[where[ch]] = original[ch].translate(_MIRRORED) if turned else original[ch]
    for i, ch in enumerate(visual):
        if ch in "()[]{}<>«»‹›" and i not in set(where.values()):
            before = visual[i - 1] if i else " "
            after = visual[i + 1] if i + 1 < len(visual) else " "
            if not (before.isascii() and before.isalnum() and after.isascii() and after.isalnum()):
                visual[i] = ch.translate(_MIRRORED)
    return "".join(visual)


_ASCII_RUN = re.compile(r"[\x21-\x7e]+(?: +[\x21-\x7e]+)*")


def font_runs(visual: str) -> list[tuple[str, str]]:
    """A drawn Arabic line cut into the runs each font draws: ("latin", text) for ASCII runs (the
    Arabic font has no Latin letters), ("arabic", text) for the rest. The label draws them so
    (mark_font_runs), and the wrapping measures them so (the widgets' measuring function)."""
    out, last = [], 0
    for m in _ASCII_RUN.finditer(visual):
        if m.start() > last:
            out.append(("arabic", visual[last:m.start()]))
        out.append(("latin", m.group()))
        last = m.end()
    if last < len(visual):
        out.append(("arabic", visual[last:]))
    return out


def mark_font_runs(visual: str, font_name: str) -> str:
    """Kivy markup that draws the ASCII runs of an Arabic line in `font_name`: the Arabic font has
    no Latin letters, and Kivy's text providers do no font fallback of their own."""
    def esc(text: str) -> str:
        return text.replace("&", "&amp;").replace("[", "&bl;").replace("]", "&br;")

    return "".join(f"[font={font_name}]{esc(run)}[/font]" if script == "latin" else esc(run)
                   for script, run in font_runs(visual))


def wrap_rtl(text: str, width: float, measure: Callable[[str], float]) -> str:
    """Break `text` into lines no wider than `width` (as `measure` finds the shaped line, in the
    fonts and weight it is drawn in), then shape each line on its own with its paragraph's
    direction. Shaping a whole paragraph first and letting the label wrap it would put its last
    words on top. A word wider than the line keeps a line of its own (never broken inside)."""
    if not is_rtl_text(text) or width <= 0:
        return shape(text)
    lines: list[tuple[str, str]] = []
    for paragraph in text.split("\n"):
        base = paragraph_dir(paragraph)
        current = ""
        for word in paragraph.split(" "):
            candidate = f"{current} {word}" if current else word
            if current and measure(shape(candidate, base)) > width:
                lines.append((current, base))
                current = word
            else:
                current = candidate
        lines.append((current, base))
    return "\n".join(shape(line, base) for line, base in lines)
