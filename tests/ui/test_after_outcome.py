"""After the outcome (issue 12), tapped on the real app: the attract loop's language buttons, home
in Chinese and Arabic with untranslated guides marked, the accessibility switches from the bottom band, one tap at "Did this help?", no dead end after "No"
(where a person is, the phone handoff), "tell us more" only on request, an empty Send not thanked
as feedback, and the thanks screen ending the session so the next person starts afresh. Then, in
the next session, the outcome banner's text contrast measured from the screen's pixels, after high
contrast was switched on and off (and reset at the session's end)."""

from __future__ import annotations

from collections import deque

import pytest

from kiosk.i18n import tr
from tests.ui.pixels import text_ratio

pytestmark = pytest.mark.ui

TOKEN, PUBLIC_URL, SITE = "kt_after_outcome_test", "https://help.example.org", "Terminal 2"
GUIDE = "airport-wifi"


def path_to(guide, end: str) -> list[int]:
    """The shortest choice path from the guide's start to an outcome of kind `end`."""
    queue, seen = deque([(guide.start, [])]), {guide.start}
    while queue:
        sid, path = queue.popleft()
        if guide.steps[sid].end == end:
            return path
        for i, choice in enumerate(guide.steps[sid].choices):
            if choice.next and choice.next not in seen:
                seen.add(choice.next)
                queue.append((choice.next, path + [i]))
    raise AssertionError(f"{guide.id} has no {end} outcome")


def selected(snap: dict, probe_id: str) -> bool:
    return next(b["selected"] for b in snap["buttons"] if b["id"] == probe_id)


def walk_to(kiosk, guide, end: str) -> dict:
    kiosk.tap(f"guide:{guide.id}")
    kiosk.wait_screen("step")
    for index in path_to(guide, end):
        before = kiosk.probe()["frame"]
        kiosk.tap(f"choice:{index}")
        kiosk.wait(lambda s, b=before: s["frame"] > b and s["screen"] in ("step", "outcome"), what="the next step")
    return kiosk.wait_screen("outcome")


def banner_ratio(kiosk, snap: dict, text: str) -> float:
    box = next(b["visible"] for b in snap["label_boxes"] if b["text"] == text)
    measured = text_ratio(kiosk.screen_image(), (box[0], box[1], box[0] + box[2], box[1] + box[3]))
    assert measured is not None, f"no text drawn in the banner's box {box}"
    return measured


def untranslated_are_marked(snap: dict, library, lang: str, translated_align: str) -> None:
    """kiosk.toml's default `untranslated = "mark"`: a guide not written in `lang` is listed in its
    own language, tagged, aligned for its own script (English: left, even in Arabic)."""
    guides = [b for b in snap["buttons"] if b["id"].startswith("guide:")]
    assert guides
    marked = 0
    for b in guides:
        guide = library.guides[b["id"].split(":", 1)[1]]
        if lang in guide.languages:
            assert b["text"] == guide.title[lang] and b["halign"] == translated_align, b
        else:
            marked += 1
            assert b["text"] == f"{guide.title['en']} \u00b7 English" and b["halign"] == "left", b
    assert marked, f"the sample library's home in {lang} lists guides written in English only"


def test_after_no_a_person_then_the_next_traveller_starts_afresh(start_kiosk, library):
    kiosk = start_kiosk(KIOSK_TOKEN=TOKEN, KIOSK_PUBLIC_URL=PUBLIC_URL, KIOSK_SITE=SITE,
                        KIOSK_THANKS_TIMEOUT="2")
    guide = library.guides[GUIDE]

    # the attract loop: each language is a button that starts in it
    snap = kiosk.tap_and_wait("lang:zh", lambda s: s["screen"] == "home", "home")
    assert snap["lang"] == "zh" and snap["session"] is not None
    untranslated_are_marked(snap, library, "zh", translated_align="left")
    snap = kiosk.tap_and_wait("lang:ar", lambda s: s["lang"] == "ar" and s["rtl"], "home in Arabic")
    untranslated_are_marked(snap, library, "ar", translated_align="right")

    # Accessibility, low on the screen: each switch shows that it is on by a shape (selected)
    snap = kiosk.tap_and_wait("access", lambda s: any(b["id"] == "toggle:contrast" for b in s["buttons"]),
                              "the accessibility panel")
    height = snap["window"][1]
    assert all(b["y"] > height * 2 / 3 for b in snap["buttons"] if b["id"].startswith("toggle:")), "in the bottom band"
    assert not selected(snap, "toggle:contrast")
    for on in (True, False, True):  # on, off, on again: the session's end must turn it off
        snap = kiosk.tap_and_wait("toggle:contrast", lambda s, on=on: s["modes"]["high_contrast"] is on
                                  and selected(s, "toggle:contrast") is on, f"high contrast {on}")
    kiosk.tap_and_wait("toggle:large", lambda s: s["modes"]["large_text"], "large text")
    kiosk.tap_and_wait("access:close", lambda s: not any(b["id"] == "access:close" for b in s["buttons"]),
                       "the panel closed")

    # "No": where a person is, and the phone handoff offered right there
    walk_to(kiosk, guide, "escalate")
    snap = kiosk.tap_and_wait("helped:no", lambda s: s["screen"] == "person", "where a person is")
    assert any(b["id"] == "handoff" for b in snap["buttons"]), "the phone handoff is offered"
    assert tr("You are at: {site}", "ar").format(site=SITE) in snap["labels"]
    assert not any(e["type"] == "feedback" for e in kiosk.events()), "recorded when the traveller is done"

    # "tell us more" only on request; an empty Send is not thanked as feedback
    kiosk.tap_and_wait("person:more", lambda s: s["screen"] == "feedback", "tell us more")
    snap = kiosk.tap_and_wait("feedback:send", lambda s: s["screen"] == "thanks", "thanks")
    assert tr("Thank you for your feedback!", "ar") not in snap["labels"]
    assert tr("Thank you for using this guide.", "ar") in snap["labels"]

    # the thanks screen ends the session: the next person inherits nothing
    snap = kiosk.wait_screen("attract", timeout=15)
    assert snap["session"] is None and snap["lang"] == "en"
    assert snap["modes"] == {"large_text": False, "high_contrast": False, "reach": False}
    feedback = [e for e in kiosk.events() if e["type"] == "feedback"]
    assert [(f["data"]["helped"], f["data"]["rating"], f["data"]["comment"]) for f in feedback] == [(False, None, "")]
    assert kiosk.events()[-1]["type"] == "session_end"

    # The next session: the banner's text is measured on screen, from its pixels.
    snap = kiosk.touch_to_start()
    assert snap["lang"] == "en" and snap["modes"]["high_contrast"] is False
    field = next(b for b in snap["buttons"] if b["id"] == "search-field")
    assert field["text"] == tr("Search: type a word like \u201cbag\u201d", "en"), "nothing typed is kept"
    snap = walk_to(kiosk, guide, "resolved")
    assert banner_ratio(kiosk, snap, "This should solve it.") >= 4.5
    # and in high contrast (dark text on the bright green)
    kiosk.tap_and_wait("access", lambda s: any(b["id"] == "toggle:contrast" for b in s["buttons"]), "the panel")
    kiosk.tap_and_wait("toggle:contrast", lambda s: s["modes"]["high_contrast"], "high contrast")
    snap = kiosk.tap_and_wait("access:close", lambda s: s["screen"] == "outcome"
                              and not any(b["id"] == "access:close" for b in s["buttons"]), "the outcome")
    assert banner_ratio(kiosk, snap, "This should solve it.") >= 4.5

    # "Yes": one tap, thanked, and "tell us more" offered but not asked
    snap = kiosk.tap_and_wait("helped:yes", lambda s: s["screen"] == "thanks", "thanks")
    assert "Glad it helped!" in snap["labels"] and any(b["id"] == "thanks:more" for b in snap["buttons"])
    kiosk.wait_screen("attract", timeout=15)
    feedback = [e for e in kiosk.events() if e["type"] == "feedback"]
    assert feedback[-1]["data"]["helped"] is True and feedback[-1]["data"]["rating"] is None
