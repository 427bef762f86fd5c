"""The layout audit's contrast meter (tests/ui/pixels.py) reads what it should from pixels: text
drawn in a known pair of colours measures near that pair's WCAG ratio, thin and anti-aliased as it
is, and a low pair is caught."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw, ImageFont

from tests.ui.pixels import frame_colour, ratio, text_ratio

FONT = "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf"


def drawn(text_rgb, background_rgb, size=18) -> Image.Image:
    image = Image.new("RGB", (400, 60), background_rgb)
    ImageDraw.Draw(image).text((8, 12), "Try another word, or pick", fill=text_rgb, font=ImageFont.truetype(FONT, size))
    return image


@pytest.mark.parametrize("text, background", [((0x47, 0x54, 0x67), (0xF4, 0xF6, 0xFA)), ((255, 255, 255), (0x1E, 0x7D, 0x34)),
                                              ((0, 0, 0), (0x00, 0xFF, 0x66)), ((255, 255, 255), (0x00, 0xFF, 0x66)),
                                              ((255, 255, 0), (255, 255, 255))])
def test_text_measures_near_its_colours_ratio(text, background):
    measured = text_ratio(drawn(text, background), (0, 0, 400, 60))
    assert measured == pytest.approx(ratio(text, background), rel=0.15)


def test_a_frame_is_found_against_its_surroundings():
    image = Image.new("RGB", (100, 60), (0xF4, 0xF6, 0xFA))
    ImageDraw.Draw(image).rectangle((20, 10, 79, 49), fill=(255, 255, 255), outline=(0x5A, 0x66, 0x75), width=2)
    assert frame_colour(image, (20, 10, 80, 50), (0xF4, 0xF6, 0xFA), 3) == (0x5A, 0x66, 0x75)
