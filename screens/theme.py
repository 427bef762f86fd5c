"""The kiosk's look in one place: colours and sizes (their numbers in contract/theme.py, which the
studio's preview reads too), fonts, the portrait and right-to-left switches and the accessibility
switches.

Every .kv rule reads `app.theme.<name>`, so turning on large text, high contrast or the reach
layout is one property change that the whole UI follows.
"""

from __future__ import annotations

import logging
from pathlib import Path

from kivy.core.text import LabelBase
from kivy.event import EventDispatcher
from kivy.properties import AliasProperty, BooleanProperty, NumericProperty

from contract.brand import branded
from contract.theme import (  # noqa: F401 - the kiosk's values live in the contract; re-exported here
    BORDER_MM,
    COLOUR_NAMES,
    DEFAULT_DIAGONAL_IN,
    GAP_MM,
    KEY_GAP_MM,
    MIN_TARGET_MM,
    PAD_MM,
    PALETTES,
    SELECTED_BORDER_MM,
    STAFF_CORNER_MM,
    TARGET_MM,
    X_HEIGHT_EM,
    X_HEIGHT_MM,
    px_per_mm,
)
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


ICON_MM = (11.0, 13.0)  # a pictogram's square on a tile or a guide's button: normal, large text


class Theme(EventDispatcher):
    large_text = BooleanProperty(False)
    high_contrast = BooleanProperty(False)
    reach = BooleanProperty(False)  # every control in the lower two thirds of the screen
    # pixels per millimetre on the panel; follows the window's size (follow_window). Until the
    # window exists: a 1920x1080 window on the default panel.
    mm = NumericProperty(px_per_mm((1920, 1080), DEFAULT_DIAGONAL_IN))
    portrait = BooleanProperty(False)  # the window is taller than wide: the portrait layouts
    rtl = BooleanProperty(False)  # the customer's language is written right to left: mirrored layouts
    panel_bottom_mm = NumericProperty(700.0)  # the panel's lower edge above the floor

    def __init__(self, diagonal_in: float = DEFAULT_DIAGONAL_IN, panel_bottom_mm: float = 700.0,
                 brand: dict[str, str] | None = None, **kwargs):
        # the site's brand colours (contract/brand.py, kiosk.toml brand_primary / brand_accent) in
        # the normal palette; high contrast keeps its own. Set before the properties are first read.
        self._palettes = {"normal": branded(PALETTES["normal"], brand or {}), "contrast": PALETTES["contrast"]}
        super().__init__(**kwargs)
        self.diagonal_in = diagonal_in
        self.panel_bottom_mm = panel_bottom_mm

    def follow_window(self, window) -> None:
        """Size everything from the window: now, and whenever it changes (rotation, resize)."""
        window.bind(size=lambda _w, size: self._sized(size))
        self._sized(window.size)

    def _sized(self, size) -> None:
        width, height = size
        if width < 1 or height < 1:
            return
        self.mm = px_per_mm((width, height), self.diagonal_in)
        self.portrait = height > width

    def values(self) -> dict[str, object]:
        """Every value the screens read from the theme, by name: what a fresh theme must equal
        after any switch is turned on and off again (tests/test_theme.py)."""
        names = [n for n in self.properties() if not n.startswith("_")]
        return {n: getattr(self, n) for n in sorted(names)}

    def reset_modes(self) -> None:
        """A new customer: every accessibility switch off."""
        self.large_text = self.high_contrast = self.reach = False

    def above_floor_mm(self, y_px: float) -> float:
        """How high above the floor a point `y_px` window pixels above the window's bottom is."""
        return self.panel_bottom_mm + y_px / self.mm

    def _colour(self, name: str) -> list[float]:
        return _rgba(self._palettes["contrast" if self.high_contrast else "normal"][name])

    def _scale(self) -> float:
        return 1.35 if self.large_text else 1.0

    def _font(self, role: str) -> float:
        return X_HEIGHT_MM[role][1 if self.large_text else 0] / X_HEIGHT_EM * self.mm

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
    key_fg = AliasProperty(lambda self: self._colour("key_fg"), bind=["high_contrast"], cache=True)
    banner_fg = AliasProperty(lambda self: self._colour("banner_fg"), bind=["high_contrast"], cache=True)
    outline = AliasProperty(lambda self: self._colour("outline"), bind=["high_contrast"], cache=True)
    pressed = AliasProperty(lambda self: self._colour("pressed"), bind=["high_contrast"], cache=True)
    pressed_fg = AliasProperty(lambda self: self._colour("pressed_fg"), bind=["high_contrast"], cache=True)
    # the frame every control draws, in `outline`: its boundary, whatever its fill (WCAG 1.4.11)
    border = AliasProperty(lambda self: self.mm * (BORDER_MM[1] if self.high_contrast else BORDER_MM[0]),
                           bind=["high_contrast", "mm"], cache=True)
    # a selected control's frame (with its check mark): a shape, not a colour
    selected_border = AliasProperty(lambda self: self.mm * SELECTED_BORDER_MM, bind=["mm"], cache=True)

    # type sizes, from the x-height in mm
    font_small = AliasProperty(lambda self: self._font("small"), bind=["large_text", "mm"], cache=True)
    font_body = AliasProperty(lambda self: self._font("body"), bind=["large_text", "mm"], cache=True)
    font_button = AliasProperty(lambda self: self._font("button"), bind=["large_text", "mm"], cache=True)
    font_title = AliasProperty(lambda self: self._font("title"), bind=["large_text", "mm"], cache=True)
    font_headline = AliasProperty(lambda self: self._font("headline"), bind=["large_text", "mm"], cache=True)
    font_hero = AliasProperty(lambda self: self._font("hero"), bind=["large_text", "mm"], cache=True)

    # control sizes in mm: a target is at least 15 mm both ways, with >= 5 mm between targets
    button_height = AliasProperty(lambda self: TARGET_MM * self.mm * (1.2 if self.large_text else 1.0),
                                  bind=["large_text", "mm"], cache=True)
    min_target = AliasProperty(lambda self: MIN_TARGET_MM * self.mm, bind=["mm"], cache=True)
    bar_height = AliasProperty(lambda self: TARGET_MM * self.mm * (1.2 if self.large_text else 1.0),
                               bind=["large_text", "mm"], cache=True)
    # a key is as tall as a button: KeyButton is a KButton, whose height rule is the button's
    key_height = AliasProperty(lambda self: TARGET_MM * self.mm * (1.2 if self.large_text else 1.0),
                               bind=["large_text", "mm"], cache=True)
    key_gap = AliasProperty(lambda self: KEY_GAP_MM * self.mm, bind=["mm"], cache=True)
    pad = AliasProperty(lambda self: PAD_MM * self.mm, bind=["mm"], cache=True)
    gap = AliasProperty(lambda self: GAP_MM * self.mm, bind=["mm"], cache=True)
    # a pictogram (screens/widgets.py IconLabel): about twice a button's x-height, inside its 18 mm
    icon_size = AliasProperty(lambda self: ICON_MM[1 if self.large_text else 0] * self.mm,
                              bind=["large_text", "mm"], cache=True)
    # the room the text of a button with an icon leaves for it: the icon and a 3 mm gap
    icon_room = AliasProperty(lambda self: self.icon_size + 3 * self.mm, bind=["icon_size", "mm"], cache=True)
    # the room a heading row leaves for the staff gesture's corner (screens/idle.py,
    # STAFF_CORNER_MM from the window's corner): a square that never holds a control
    staff_corner = AliasProperty(lambda self: STAFF_CORNER_MM * self.mm, bind=["mm"], cache=True)
    corner = AliasProperty(lambda self: max(0, STAFF_CORNER_MM * self.mm - self.pad), bind=["mm"], cache=True)
    # the reach layout leaves the top third of the screen for text only
    top_reserve = AliasProperty(lambda self: 1 / 3 if self.reach else 0, bind=["reach"], cache=True)
