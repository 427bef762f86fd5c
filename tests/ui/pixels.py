"""Contrast measured from a screenshot's pixels, as WCAG 2.2 defines it: the layout audit and the
outcome banner's test read text and control boundaries off PNGs with these."""

from __future__ import annotations

from PIL import Image


def luminance(rgb: tuple[int, ...]) -> float:
    linear = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb[:3]]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def ratio(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    light, dark = sorted([luminance(a), luminance(b)], reverse=True)
    return (light + 0.05) / (dark + 0.05)


def colours(image: Image.Image, box: tuple[int, int, int, int]) -> list[tuple[int, tuple[int, ...]]]:
    """(count, colour) of the pixels in box (left, top, right, bottom), most common first."""
    left, top, right, bottom = (max(0, box[0]), max(0, box[1]), min(image.width, box[2]), min(image.height, box[3]))
    if right - left < 1 or bottom - top < 1:
        return []
    found = image.crop((left, top, right, bottom)).getcolors(maxcolors=(right - left) * (bottom - top)) or []
    return sorted(found, reverse=True)


def text_ratio(image: Image.Image, box: tuple[int, int, int, int]) -> float | None:
    """Text against its background inside box: the most common colour is the background; the
    text is what differs from it, measured at its core: the ratio that the strongest 1/30 of the
    inked pixels reaches (an anti-aliased edge is a blend; a thin glyph has few full pixels, so no
    single colour need cover many). None when the box holds one colour only (no text there)."""
    found = colours(image, box)
    if len(found) < 2:
        return None
    background = found[0][1]
    inked = sorted(((ratio(background, colour), count) for count, colour in found[1:]), reverse=True)
    core = max(3, sum(count for _, count in inked) // 30)
    seen = 0
    for measured, count in inked:
        seen += count
        if seen >= core:
            return measured
    return inked[-1][0]


def ring(box: tuple[int, int, int, int], inner: int, outer: int) -> list[tuple[int, int, int, int]]:
    """The four strips between `inner` and `outer` pixels outside box (negative: inside it)."""
    left, top, right, bottom = box
    return [(left - outer, top - outer, right + outer, top - inner),
            (left - outer, bottom + inner, right + outer, bottom + outer),
            (left - outer, top - inner, left - inner, bottom + inner),
            (right + inner, top - inner, right + outer, bottom + inner)]


def ring_colour(image: Image.Image, box, inner: int, outer: int) -> tuple[int, ...] | None:
    counts: dict[tuple[int, ...], int] = {}
    for strip in ring(box, inner, outer):
        for count, colour in colours(image, strip):
            counts[colour] = counts.get(colour, 0) + count
    return max(counts, key=counts.get) if counts else None


def frame_colour(image: Image.Image, box, around: tuple[int, ...], depth: int) -> tuple[int, ...] | None:
    """The colour of a control's frame: of the colours in the band `depth` pixels deep inside box,
    one that covers at least a fifth of it (a line all round, not a glyph touching the edge), the
    one that differs most from `around`."""
    counts: dict[tuple[int, ...], int] = {}
    for strip in ring(box, -depth, 0):
        for count, colour in colours(image, strip):
            counts[colour] = counts.get(colour, 0) + count
    total = sum(counts.values())
    wide = [c for c, n in counts.items() if n >= total / 5]
    return max(wide, key=lambda c: ratio(c, around), default=None)
