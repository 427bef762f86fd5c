"""`kiosk config check` refuses a panel size or height that cannot be real: the UI lays out in
millimetres from them (screens/theme.py), so a wrong value would size every target wrongly."""

from __future__ import annotations

import pytest

from kiosk.config_check import check_config
from kiosk.settings import Settings


def errors(tmp_path, lines: str) -> list[str]:
    (tmp_path / "kiosk.toml").write_text(f'device = "gate-b12"\n{lines}\n')
    return [f.message for f in check_config(tmp_path) if f.level == "error"]


def test_the_defaults_are_a_floor_standing_24_inch_panel():
    s = Settings()
    assert (s.panel_diagonal_in, s.panel_bottom_mm) == (23.8, 700.0)


@pytest.mark.parametrize("lines", ["panel_diagonal_in = 23.8\npanel_bottom_mm = 700", "panel_diagonal_in = 15.6",
                                   "panel_bottom_mm = 0"])
def test_real_panels_pass(tmp_path, lines):
    assert not [m for m in errors(tmp_path, lines) if "panel" in m]


@pytest.mark.parametrize(("lines", "name"), [("panel_diagonal_in = 0", "panel_diagonal_in"),
                                             ("panel_diagonal_in = 200", "panel_diagonal_in"),
                                             ("panel_bottom_mm = -10", "panel_bottom_mm"),
                                             ("panel_bottom_mm = 5000", "panel_bottom_mm")])
def test_nonsense_is_refused_in_a_sentence(tmp_path, lines, name):
    found = [m for m in errors(tmp_path, lines) if m.startswith(name)]
    assert found and "default" in found[0], errors(tmp_path, lines)
