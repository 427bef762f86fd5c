"""The theme's colours keep WCAG 2.2's ratios in every mode, and its switches restore exactly
(issue 12): text on whatever it is drawn on >= 4.5:1, a control's boundary against the screen
>= 3:1, and high contrast (or any switch) on then off leaves every value equal to a fresh theme's.
The screens' pixels are measured too, from screenshots: tests/ui/test_layout_audit.py and
tests/ui/test_after_outcome.py."""

from __future__ import annotations

import pytest

from contract.brand import BOUNDARY, BOUNDARY_PAIRS, TEXT, TEXT_PAIRS, branded, ratio
from screens.theme import PALETTES, Theme

# a site's brand that config check accepts (tests/test_brand.py); the UI audit runs on it too
BRANDED = branded(PALETTES["normal"], {"brand_primary": "#7A1F5C", "brand_accent": "#1F5C3A"})


@pytest.mark.parametrize("palette", [*sorted(PALETTES), "branded"])
def test_text_and_boundaries_keep_their_ratios(palette):
    colours = BRANDED if palette == "branded" else PALETTES[palette]
    low = [f"{t} on {b}: {ratio(colours[t], colours[b]):.2f}:1" for t, b in TEXT_PAIRS
           if ratio(colours[t], colours[b]) < TEXT]
    low += [f"{c} against {b}: {ratio(colours[c], colours[b]):.2f}:1" for c, b in BOUNDARY_PAIRS
            if ratio(colours[c], colours[b]) < BOUNDARY]
    assert not low, low


def test_both_palettes_name_the_same_colours():
    assert set(PALETTES["normal"]) == set(PALETTES["contrast"])


@pytest.mark.parametrize("switches", [("high_contrast",), ("large_text",), ("reach",),
                                      ("high_contrast", "large_text", "reach")])
def test_a_switch_on_then_off_restores_every_value(switches):
    fresh = Theme()
    fresh._sized((1920, 1080))
    theme = Theme()
    theme._sized((1920, 1080))
    before = theme.values()
    for name in switches:
        setattr(theme, name, True)
    during = theme.values()
    assert during != before
    for name in switches:
        setattr(theme, name, False)
    assert theme.values() == fresh.values() == before


def test_the_session_end_turns_every_mode_off():
    theme = Theme()
    theme.large_text = theme.high_contrast = theme.reach = True
    theme.reset_modes()
    assert theme.values() == Theme().values()


def test_high_contrast_banners_use_dark_text():
    """The outcome banners: white on the normal green and orange, black on the bright ones."""
    theme = Theme()
    assert theme.banner_fg == [1.0, 1.0, 1.0, 1.0]
    theme.high_contrast = True
    assert theme.banner_fg == [0.0, 0.0, 0.0, 1.0]
    theme.high_contrast = False
    assert theme.banner_fg == [1.0, 1.0, 1.0, 1.0]
