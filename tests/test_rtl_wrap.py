"""kiosk.i18n.wrap_rtl: a long Arabic paragraph is broken into lines *before* each line is laid out
right to left, so the top line holds the text's beginning and reads from the right edge. (Laying
out the whole paragraph first and letting the label wrap it puts the last words on top.) No window:
the width is measured in characters."""

from __future__ import annotations

from kiosk.i18n import shape, wrap_rtl

# "Go to the baggage service desk next to belt number four and show your boarding pass and your
# baggage tag to the staff there" — every word different, so each can be found on its line
PARAGRAPH = ("اذهب إلى مكتب خدمة الأمتعة بجوار الحزام رقم أربعة وأظهر بطاقة الصعود الخاصة بك "
             "وملصق حقيبتك للموظفين هناك")
WORDS = PARAGRAPH.split(" ")
WIDTH = 24


def measure(visual: str) -> float:
    return len(visual)


def test_a_long_arabic_paragraph_reads_from_its_first_line():
    lines = wrap_rtl(PARAGRAPH, WIDTH, measure).split("\n")
    assert len(lines) >= 3, lines
    assert all(measure(line) <= WIDTH for line in lines), "every line fits the width"
    first, last = shape(WORDS[0]), shape(WORDS[-1])
    assert first in lines[0], "the paragraph's first word is on the top line"
    assert last in lines[-1] and last not in lines[0], "its last word is on the bottom line"
    # right to left within the line: the first word is the rightmost one
    assert lines[0].rindex(first) > lines[0].index(shape(WORDS[1]))


def test_every_word_is_kept_in_order():
    lines = wrap_rtl(PARAGRAPH, WIDTH, measure).split("\n")
    # line by line, each word appears once, top to bottom in the text's order
    where = [next(i for i, line in enumerate(lines) if shape(word) in line) for word in WORDS]
    assert where == sorted(where) and where[0] == 0 and where[-1] == len(lines) - 1


def test_paragraphs_stay_apart_and_latin_text_is_untouched():
    text = PARAGRAPH + "\n" + "قف هنا"
    lines = wrap_rtl(text, WIDTH, measure).split("\n")
    assert lines[-1] == shape("قف هنا"), "a new paragraph starts a new line"
    assert wrap_rtl("Go to belt 4 and ask at the desk", 10, measure) == "Go to belt 4 and ask at the desk"


def test_a_line_that_starts_with_a_latin_word_still_runs_right_to_left():
    """Each line takes its paragraph's direction: "Gate B12" opening the second line stays at the
    line's right end, where an Arabic reader starts it, not at its left as a Latin line would."""
    text = "اذهب الآن إلى Gate B12 ثم انتظر هناك"
    lines = wrap_rtl(text, len(shape("اذهب الآن إلى")), measure).split("\n")
    assert lines[0] == shape("اذهب الآن إلى")
    assert lines[1].startswith(shape("ثم")) and lines[1].endswith("Gate B12"), lines


def test_brackets_read_the_right_way_round_in_arabic_lines():
    # Drawn left to right (the label's order): a pair inside Arabic text is mirrored with its run;
    # Latin text with brackets keeps them as typed, even at the end of an Arabic line
    # ("(Gate B12)" came out as ")Gate B12(" there), and two Latin pairs side by side stay pairs.
    site = shape("الموقع: Terminal 2 (Gate B12)")
    assert "Terminal 2 (Gate B12)" in site and ")Gate" not in site
    assert "(Gate B12)" in shape("اذهب (Gate B12) ثم (البوابة)")
    assert shape("اذهب (Gate B12) ثم (البوابة)").startswith("(" + shape("البوابة") + ")")
    assert "(Desk) (Gate)" in shape("اذهب إلى (Gate) (Desk) الآن")
    assert shape("قرب (البوابة) الآن") == shape("الآن") + " (" + shape("البوابة") + ") " + shape("قرب")
    assert "«" + shape("مرحبا") + "»" in shape("«مرحبا» بكم")
    assert "f(x)" in shape("f(x) = قيمة")
