"""A site's brand by config (issue 12): kiosk.toml's brand colours and logo. `kiosk config check`
refuses colours that break a contrast rule and a logo that is no sound PNG, naming what is wrong;
the kiosk's theme draws accepted colours in its normal palette and high contrast overrides them."""

from __future__ import annotations

from library_factory import JPEG_BYTES, png_bytes

from contract.theme import PALETTES
from kiosk.config_check import check_config
from screens.theme import Theme, _rgba

GOOD = {"brand_primary": "#7A1F5C", "brand_accent": "#1F5C3A"}


def _errors(tmp_path, toml: str) -> list[str]:
    (tmp_path / "kiosk.toml").write_text('device = "gate-b12"\n' + toml)
    return [f.message for f in check_config(tmp_path) if f.level == "error"]


def test_brand_colours_that_fail_contrast_are_refused_by_name(tmp_path):
    errors = _errors(tmp_path, 'brand_primary = "#7FB3FF"\nbrand_accent = "#CCCCCC"\n')
    assert ("brand_primary #7FB3FF is refused: the text on the strong buttons (the answers, \u201cMore time\u201d) "
            "would have a contrast of 2.14:1, and text needs at least 4.5:1 (WCAG 2.2); choose a darker primary "
            "colour") in errors, errors
    assert any(e.startswith("brand_accent #CCCCCC is refused: every button's frame against the screen's background "
                            "would have a contrast of 1.48:1, and a control's boundary needs at least 3:1")
               for e in errors), errors
    assert "brand_primary is 'blue'; give a colour as #RRGGBB, like #0B5FFF" in _errors(tmp_path,
                                                                                    'brand_primary = "blue"\n')


def test_a_logo_must_be_a_sound_png(tmp_path):
    (tmp_path / "logo.jpg").write_bytes(JPEG_BYTES)
    (tmp_path / "broken.png").write_bytes(png_bytes()[:40])
    (tmp_path / "logo.png").write_bytes(png_bytes(64, 32))
    assert f"brand_logo {tmp_path / 'logo.jpg'} is a JPEG; a logo must be a PNG" in " ".join(
        _errors(tmp_path, 'brand_logo = "logo.jpg"\n'))
    assert f"brand_logo {tmp_path / 'broken.png'} is not a PNG or JPEG picture" in " ".join(
        _errors(tmp_path, 'brand_logo = "broken.png"\n'))
    assert f"brand_logo {tmp_path / 'gone.png'} cannot be read" in " ".join(_errors(tmp_path, 'brand_logo = "gone.png"\n'))
    good = 'brand_primary = "#7A1F5C"\nbrand_accent = "#1F5C3A"\nbrand_logo = "logo.png"\n'
    assert not [e for e in _errors(tmp_path, good) if "brand" in e]


def test_the_theme_draws_the_brand_and_high_contrast_overrides_it():
    theme = Theme(brand=GOOD)
    fresh = Theme(brand=GOOD).values()
    assert theme.accent == _rgba("#7A1F5C") and theme.outline == _rgba("#1F5C3A")
    theme.high_contrast = True
    assert theme.accent == _rgba(PALETTES["contrast"]["accent"]) and theme.outline == _rgba("#FFFFFF")
    theme.high_contrast = False
    assert theme.values() == fresh, "high contrast on then off restores the site's colours exactly"
    assert Theme().accent == _rgba(PALETTES["normal"]["accent"]), "no brand: the kiosk's own colours"
