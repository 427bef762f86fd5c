"""screens/theme.py sizes in millimetres of the panel (issue 12): the same panel at any
resolution gives the same millimetres, and the limits hold in both text sizes."""

from __future__ import annotations

import pytest

from screens.theme import X_HEIGHT_EM, Theme


def sized(width: int, height: int, diagonal: float = 23.8) -> Theme:
    theme = Theme(diagonal)
    theme._sized((width, height))
    return theme


@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920), (1280, 800)])
@pytest.mark.parametrize("large", [False, True])
def test_targets_gaps_and_text_in_mm(size, large):
    theme = sized(*size)
    theme.large_text = large
    mm = theme.mm
    assert theme.button_height / mm >= 15 and theme.key_height / mm >= 15 and theme.bar_height / mm >= 15
    assert theme.gap / mm >= 5 and theme.key_gap / mm >= 5
    x_height = theme.font_body * X_HEIGHT_EM / mm
    assert x_height >= (4.0 if large else 2.5)
    assert theme.font_small * X_HEIGHT_EM / mm >= (4.0 if large else 2.5)


def test_the_panel_not_the_pixels_decides():
    full_hd, small = sized(1920, 1080), sized(1280, 800)
    assert full_hd.mm == pytest.approx(3.644, abs=0.001)  # 23.8" at 1920x1080
    assert full_hd.button_height / full_hd.mm == pytest.approx(small.button_height / small.mm)
    assert sized(1920, 1080, diagonal=15.6).mm > full_hd.mm  # a smaller panel: more pixels per mm


def test_portrait_follows_the_window():
    theme = sized(1920, 1080)
    assert not theme.portrait
    theme._sized((1080, 1920))
    assert theme.portrait
    assert theme.above_floor_mm(0) == 700.0
    assert theme.above_floor_mm(1920) == pytest.approx(700 + 1920 / theme.mm)
