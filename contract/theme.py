"""The kiosk's look as numbers: its two palettes and its sizes in millimetres on the panel.

screens/theme.py turns these into Kivy properties for the real kiosk; the studio's preview
(server/studio/preview.py) draws an approximate kiosk step in HTML from the same values, so the
server reads the kiosk's look without importing Kivy, and the two never drift apart.

`kiosk config check` (contract/brand.py) judges a site's brand colours against the very colours the
kiosk draws them with, from here, without importing Kivy.
"""

from __future__ import annotations

import math

# Every pair that is drawn together (contract/brand.py TEXT_PAIRS, BOUNDARY_PAIRS) keeps WCAG 2.2's ratios in both palettes (tests/test_theme_contrast.py
# checks them): text on its background >= 4.5:1, a control's boundary (`outline`, drawn round
# every button and key) against the screen's background >= 3:1. A selected control is never told
# by its colour alone: it draws a check mark and a thicker frame (screens/widgets.kv).
PALETTES = {
    "normal": {
        "bg": "#F4F6FA", "fg": "#1B2430", "muted": "#475467", "panel": "#FFFFFF",
        "accent": "#0B5FFF", "accent_fg": "#FFFFFF", "button": "#DCE5F5", "button_fg": "#10223F",
        "good": "#1E7D34", "warn": "#B54708", "banner_fg": "#FFFFFF", "overlay": "#000000",
        "key": "#FFFFFF", "key_fg": "#000000", "outline": "#5A6675", "pressed": "#10223F",
        "pressed_fg": "#FFFFFF",
    },
    "contrast": {
        "bg": "#000000", "fg": "#FFFFFF", "muted": "#FFFF00", "panel": "#000000",
        "accent": "#FFFF00", "accent_fg": "#000000", "button": "#000000", "button_fg": "#FFFFFF",
        "good": "#00FF66", "warn": "#FFB000", "banner_fg": "#000000", "overlay": "#000000",
        "key": "#FFFFFF", "key_fg": "#000000", "outline": "#FFFFFF", "pressed": "#FFFFFF",
        "pressed_fg": "#000000",
    },
}
COLOUR_NAMES = tuple(PALETTES["normal"])


# Sizes in millimetres on the panel (EN 301 549 §8, ADA reach): a touch target is at least 15 mm
# both ways, targets are at least 5 mm apart, and text is sized by its x-height, the height of a
# lower-case letter, which is what a reader standing 50-70 cm away sees.
TARGET_MM = 18.0  # a button's height (its width is never under MIN_TARGET_MM either)
MIN_TARGET_MM = 15.0
GAP_MM = 6.0  # between two targets (>= 5 mm)
KEY_GAP_MM = 5.5  # between two keys
PAD_MM = 6.0  # between the screen's edge and the layout
X_HEIGHT_EM = 0.536  # Noto Sans: the x-height is 0.536 of the font size
X_HEIGHT_MM = {  # normal, large text (>= 4 mm)
    "small": (3.0, 4.1), "body": (3.6, 4.8), "button": (3.6, 4.8), "title": (4.2, 5.6),
    "headline": (4.8, 6.4), "hero": (8.0, 10.0),
}
DEFAULT_DIAGONAL_IN = 23.8
BORDER_MM = (0.6, 0.9)  # every control's frame: normal and large text, high contrast
SELECTED_BORDER_MM = 1.6  # a selected control's frame
STAFF_CORNER_MM = 25.0  # the staff gesture's square in the top-right corner (screens/idle.py)
# The step screen (screens/step.kv): the answers are 1.35 buttons tall in portrait; the step's
# image is 130 mm high in portrait, 70 mm in landscape; the text takes 55 % of a landscape row.
CHOICE_PORTRAIT_SCALE = 1.35
STEP_IMAGE_MM = {"portrait": 130.0, "landscape": 70.0}
# The longest side a library's image needs, in pixels: the step's image is drawn at most 130 mm
# high and the panel's width wide (portrait), about 1040 x 470 px on a full-HD 23.8" panel, and a
# full-HD panel is 1920 px on its longest side, so 1920 covers any panel the kiosk is set up on
# (4K at 32": about 2090 px wide, near enough). Publish re-encodes a larger image to it
# (contract/images.py fit_for_panel), for kiosks on metered 4G.
PANEL_IMAGE_SIDE = 1920
STEP_TEXT_SHARE_LANDSCAPE = 0.55


def px_per_mm(size: tuple[float, float], diagonal_in: float) -> float:
    """Pixels per millimetre of a window that fills a panel of `diagonal_in` inches."""
    return math.hypot(*size) / (diagonal_in * 25.4)


def font_mm(role: str, large_text: bool = False) -> float:
    """A text role's font size in mm on the panel, from its x-height."""
    return X_HEIGHT_MM[role][1 if large_text else 0] / X_HEIGHT_EM
