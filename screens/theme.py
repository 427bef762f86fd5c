"""The kiosk's look in one place: colours, sizes (dp/sp), fonts and the accessibility switches.

Every .kv rule reads `app.theme.<name>`, so turning on large text, high contrast or the reach
layout is one property change that the whole UI follows.
"""

from __future__ import annotations

import logging
from pathlib import Path

from kivy.core.text import LabelBase
from kivy.event import EventDispatcher
from kivy.metrics import dp, sp
from kivy.properties import AliasProperty, BooleanProperty

from kiosk.i18n import script_of

log = logging.getLogger(__name__)

FONT_FILES = {
    # name: (regular, bold); Debian packages fonts-noto-core and fonts-noto-cjk
    "KioskLatin": ("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
                   "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf"),
    "KioskArabic": ("/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf",
                    "/usr/share/fonts/truetype/noto/NotoSansArabic-Bold.ttf"),
    "KioskCJK": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                 "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
}
FONT_FOR_SCRIPT = {"latin": "KioskLatin", "arabic": "KioskArabic", "cjk": "KioskCJK"}
_registered: set[str] = set()


def register_fonts() -> None:
    """Register the Noto fonts; a missing file falls back to Kivy's Roboto with a log line
    (Chinese and Arabic then show boxes, which the screenshots make plain)."""
    for name, (regular, bold) in FONT_FILES.items():
        if not Path(regular).exists():
            log.error("font %s not found (install fonts-noto-core / fonts-noto-cjk)", regular)
            continue
        LabelBase.register(name, regular, fn_bold=bold if Path(bold).exists() else None)
        _registered.add(name)


def font_for(text: str) -> str:
    name = FONT_FOR_SCRIPT[script_of(text)]
    return name if name in _registered else "Roboto"


def _rgba(hex_colour: str) -> list[float]:
    h = hex_colour.lstrip("#")
    return [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)] + [1.0]


PALETTES = {
    "normal": {
        "bg": "#F4F6FA", "fg": "#1B2430", "muted": "#5A6675", "panel": "#FFFFFF",
        "accent": "#0B5FFF", "accent_fg": "#FFFFFF", "button": "#DCE5F5", "button_fg": "#10223F",
        "good": "#1E7D34", "warn": "#B54708", "overlay": "#000000", "key": "#FFFFFF",
    },
    "contrast": {
        "bg": "#000000", "fg": "#FFFFFF", "muted": "#FFFF00", "panel": "#000000",
        "accent": "#FFFF00", "accent_fg": "#000000", "button": "#FFFFFF", "button_fg": "#000000",
        "good": "#00FF66", "warn": "#FFB000", "overlay": "#000000", "key": "#FFFFFF",
    },
}


class Theme(EventDispatcher):
    large_text = BooleanProperty(False)
    high_contrast = BooleanProperty(False)
    reach = BooleanProperty(False)  # every control in the lower two thirds of the screen

    def _colour(self, name: str) -> list[float]:
        return _rgba(PALETTES["contrast" if self.high_contrast else "normal"][name])

    def _scale(self) -> float:
        return 1.35 if self.large_text else 1.0

    # colours
    bg = AliasProperty(lambda self: self._colour("bg"), bind=["high_contrast"], cache=True)
    fg = AliasProperty(lambda self: self._colour("fg"), bind=["high_contrast"], cache=True)
    muted = AliasProperty(lambda self: self._colour("muted"), bind=["high_contrast"], cache=True)
    panel = AliasProperty(lambda self: self._colour("panel"), bind=["high_contrast"], cache=True)
    accent = AliasProperty(lambda self: self._colour("accent"), bind=["high_contrast"], cache=True)
    accent_fg = AliasProperty(lambda self: self._colour("accent_fg"), bind=["high_contrast"], cache=True)
    button = AliasProperty(lambda self: self._colour("button"), bind=["high_contrast"], cache=True)
    button_fg = AliasProperty(lambda self: self._colour("button_fg"), bind=["high_contrast"], cache=True)
    good = AliasProperty(lambda self: self._colour("good"), bind=["high_contrast"], cache=True)
    warn = AliasProperty(lambda self: self._colour("warn"), bind=["high_contrast"], cache=True)
    key = AliasProperty(lambda self: self._colour("key"), bind=["high_contrast"], cache=True)
    border = AliasProperty(lambda self: dp(3) if self.high_contrast else 0, bind=["high_contrast"], cache=True)

    # type sizes
    font_small = AliasProperty(lambda self: sp(17) * self._scale(), bind=["large_text"], cache=True)
    font_body = AliasProperty(lambda self: sp(22) * self._scale(), bind=["large_text"], cache=True)
    font_button = AliasProperty(lambda self: sp(22) * self._scale(), bind=["large_text"], cache=True)
    font_title = AliasProperty(lambda self: sp(32) * self._scale(), bind=["large_text"], cache=True)
    font_hero = AliasProperty(lambda self: sp(54) * self._scale(), bind=["large_text"], cache=True)

    # control sizes: a choice is at least 72 dp tall (>= 60 px at 1080p), with room between
    button_height = AliasProperty(lambda self: dp(72) * self._scale(), bind=["large_text"], cache=True)
    bar_height = AliasProperty(lambda self: dp(76) * self._scale(), bind=["large_text"], cache=True)
    key_height = AliasProperty(lambda self: dp(52) * self._scale(), bind=["large_text"], cache=True)
    pad = AliasProperty(lambda self: dp(20), bind=[], cache=True)
    gap = AliasProperty(lambda self: dp(14), bind=[], cache=True)
    # the reach layout leaves the top third of the screen for text only
    top_reserve = AliasProperty(lambda self: 1 / 3 if self.reach else 0, bind=["reach"], cache=True)
