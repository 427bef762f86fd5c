"""The kiosk's look as numbers: its two palettes (screens/theme.py turns them into Kivy properties).

Here, outside the UI, so `kiosk config check` (contract/brand.py) judges a site's brand colours
against the very colours the kiosk draws them with, without importing Kivy.
"""

from __future__ import annotations

# Every pair that is drawn together (contract/brand.py TEXT_PAIRS, BOUNDARY_PAIRS) keeps WCAG 2.2's
# ratios in both palettes (tests/test_theme_contrast.py checks them): text on its background >= 4.5:1, a control's boundary (`outline`, drawn round
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
