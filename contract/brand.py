"""A site's brand (kiosk.toml `brand_primary`, `brand_accent`, `brand_logo`) and the contrast
rules every palette keeps, branded or not (WCAG 2.2 1.4.3 and 1.4.11, issue 12's audit limits).

The brand colours take two roles of the normal palette (contract/theme.py): `brand_primary` fills
the strong buttons (the step's answers, "More time") and colours the progress bar and the
attract screen's "Touch to start"; `brand_accent` draws every control's frame. High contrast keeps
its own palette: a traveller who asks for it gets it, brand or not. `kiosk config check` refuses a
colour that would break a ratio, naming the pair; the UI's pixel audit runs on a branded theme too.
"""

from __future__ import annotations

import re
from pathlib import Path

from contract.limits import MAX_IMAGE_BYTES
from contract.theme import PALETTES

TEXT, BOUNDARY = 4.5, 3.0  # text on what it is drawn on; a control's boundary against its surroundings
# (text, background) as the .kv files draw them
TEXT_PAIRS = [("fg", "bg"), ("muted", "bg"), ("fg", "panel"), ("muted", "panel"), ("button_fg", "button"),
              ("accent_fg", "accent"), ("banner_fg", "good"), ("banner_fg", "warn"), ("key_fg", "key"),
              ("pressed_fg", "pressed"), ("accent", "bg")]
# a control's frame (every button and key draws one in `outline`) against what lies around it
BOUNDARY_PAIRS = [("outline", "bg"), ("outline", "panel")]

# kiosk.toml setting -> the palette colour it replaces
BRAND_ROLES = {"brand_primary": "accent", "brand_accent": "outline"}
# how an operator sees each pair a brand colour takes part in
SEEN_AS = {
    ("accent_fg", "accent"): "the text on the strong buttons (the answers, \u201cMore time\u201d)",
    ("accent", "bg"): "\u201cTouch to start\u201d and the progress bar on the screen's background",
    ("outline", "bg"): "every button's frame against the screen's background",
    ("outline", "panel"): "every button's frame against the search field and the dialogs",
}
HEX_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def ratio(a: str, b: str) -> float:
    """WCAG's contrast ratio of two #RRGGBB colours, 1 to 21."""
    light, dark = sorted([luminance(a), luminance(b)], reverse=True)
    return (light + 0.05) / (dark + 0.05)


def branded(palette: dict[str, str], brand: dict[str, str]) -> dict[str, str]:
    """`palette` with the brand's colours ({setting: #RRGGBB}, unset ones left out) in their roles."""
    return {**palette, **{BRAND_ROLES[setting]: colour for setting, colour in brand.items() if colour}}


def low_pairs(palette: dict[str, str]) -> list[tuple[str, str, float, float]]:
    """Every pair drawn together below its limit: (colour, drawn on, ratio, limit)."""
    low = [(t, b, ratio(palette[t], palette[b]), TEXT) for t, b in TEXT_PAIRS]
    low += [(c, b, ratio(palette[c], palette[b]), BOUNDARY) for c, b in BOUNDARY_PAIRS]
    return [pair for pair in low if pair[2] < pair[3]]


def brand_problems(brand: dict[str, str]) -> list[str]:
    """Why these brand colours ({setting: value}) cannot be used, in plain sentences; [] when they can."""
    out = []
    for setting, colour in brand.items():
        if colour and not HEX_COLOUR.match(colour):
            out.append(f"{setting} is '{colour[:40]}'; give a colour as #RRGGBB, like #0B5FFF")
    if out:
        return out
    role_of = {role: setting for setting, role in BRAND_ROLES.items() if brand.get(setting)}
    palette = branded(PALETTES["normal"], brand)
    for colour, under, value, limit in low_pairs(palette):
        setting = role_of.get(colour) or role_of.get(under)
        if setting is None:
            continue  # the kiosk's own colours are checked by its tests
        what = "text" if limit == TEXT else "a control's boundary"
        out.append(f"{setting} {brand[setting]} is refused: {SEEN_AS.get((colour, under), f'{colour} on {under}')} "
                   f"would have a contrast of {value:.2f}:1, and {what} needs at least {limit:g}:1 (WCAG 2.2); choose a "
                   f"{'darker' if luminance(palette[under if role_of.get(colour) else colour]) > 0.18 else 'lighter'}"
                   f" {setting.removeprefix('brand_')} colour")
    return out


def read_logo(path: Path) -> bytes:
    """A logo's bytes, read within MAX_IMAGE_BYTES and decoded in full by the bounded loader
    (contract/images.py); ImageRefused ("<path> ...") saying why not. Pillow is imported here, not
    with the module: kiosk/settings.py reads BRAND_ROLES at every start."""
    from contract.images import ImageRefused, check_image

    try:
        with open(path, "rb") as f:
            data = f.read(MAX_IMAGE_BYTES + 1)
    except OSError as exc:
        raise ImageRefused(f"brand_logo {path} cannot be read ({exc.strerror or exc})") from exc
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageRefused(f"brand_logo {path} is larger than {MAX_IMAGE_BYTES // 1_000_000} MB")
    try:
        if check_image(data) != "png":
            raise ImageRefused("is a JPEG; a logo must be a PNG (a transparent background suits every mode)")
    except ImageRefused as exc:
        raise ImageRefused(f"brand_logo {path} {exc}") from exc
    return data
