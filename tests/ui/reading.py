"""Does right-to-left text, as Kivy drew it, read in the text's own order? Given the logical text
(what a person reads: the probe's `text`, the widget's `raw`) and the lines as drawn (the probe's
`lines`, top first, each in drawing order left to right), every word must be found on the same line
as the word before it or on a line below, the first word on the top line, and two Arabic words on
one line must run right to left. A line laid out as a whole paragraph and then wrapped by the label
fails the first two (its last words come out on top); a line not reordered fails the third.

Words are matched by their letters and digits (punctuation moves at a run's edge when reordered),
each in the form shape() draws it in.
"""

from __future__ import annotations

from kiosk.i18n import is_rtl_text, shape


def _core(token: str) -> str:
    return "".join(ch for ch in token if ch.isalnum())


def reading_order_problems(what: str, text: str, lines: list[str]) -> list[str]:
    drawn = [[_core(token) for token in line.split(" ")] for line in lines]
    used: set[tuple[int, int]] = set()
    line_no, last_arabic_at = 0, None
    out = []
    for n, word in enumerate(w for w in text.split() if _core(w)):
        arabic = is_rtl_text(word)
        visual = _core(shape(_core(word)))
        found = None
        for at in range(line_no, len(drawn)):
            spots = [i for i, token in enumerate(drawn[at]) if token == visual and (at, i) not in used]
            if spots:
                # on one line the next Arabic word is the nearest one to the left of the last
                if arabic and at == line_no and last_arabic_at is not None:
                    left = [i for i in spots if i < last_arabic_at]
                    if not left:
                        out.append(f"{what}: {word!r} is drawn right of the word before it on line {at + 1}: {lines[at]!r}")
                        return out
                    spots = [max(left)]
                found = (at, max(spots) if arabic else min(spots))
                break
        if found is None:
            above = any(token == visual for line in drawn[:line_no] for token in line)
            out.append(f"{what}: {word!r} (word {n + 1}) is "
                       + ("drawn above the words before it" if above else "not drawn")
                       + f"; lines: {lines!r}")
            return out
        if n == 0 and found[0] != 0:
            out.append(f"{what}: the first word {word!r} is on line {found[0] + 1}, not the top one; lines: {lines!r}")
            return out
        used.add(found)
        if found[0] != line_no:
            last_arabic_at = None
        line_no = found[0]
        if arabic:
            last_arabic_at = found[1]
    return out
