"""The on-screen keyboards on the real app, tapped through X like a touch panel: every key of every
language's keyboard types what it shows, Shift, the symbols and accent pages, Search, Hide and
showing it again, and Chinese typed as pinyin ("xingli", the first candidate: 行李, searched)."""

from __future__ import annotations

from collections import deque

import pytest

from kiosk.keyboard import LAYOUT_ORDER, load_layout
from tests.lexicon_cache import copy_into

pytestmark = pytest.mark.ui

ACTIONS = {"key:shift", "key:delete", "key:special", "key:layout", "key:accent", "key:enter", "key:escape",
           "key:space"}


def field(snap: dict, probe_id: str = "search-field") -> str | None:
    """The field's logical text (the probe reports raw text, so Arabic is as typed, not as drawn)."""
    if probe_id == "comment":
        return next((label for label in snap["labels"] if label.endswith("|")), None)
    return next((b["text"] for b in snap["buttons"] if b["id"] == probe_id), None)


def char_keys(snap: dict) -> list[dict]:
    return [b for b in snap["buttons"] if b["id"].startswith("key:") and b["id"] not in ACTIONS]


def tap_all(kiosk, buttons: list[dict]) -> None:
    """Tap the buttons one after another in a single xdotool run, as a quick typist would."""
    args: list[str] = []
    for b in buttons:
        # mousedown/mouseup: xdotool's click waits 100 ms after each
        args += ["mousemove", str(b["x"]), str(b["y"]), "mousedown", "1", "sleep", "0.015", "mouseup", "1",
                 "sleep", "0.015"]
    kiosk.xdotool(*args)


def press(kiosk, probe_id: str, then, what: str = "") -> dict:
    """Tap one key and wait until the app shows `then` (a page that changes needs a frame)."""
    snap = kiosk.wait_button(probe_id)
    tap_all(kiosk, [kiosk.button(snap, probe_id)])
    return kiosk.wait(lambda s: s["frame"] > snap["frame"] and then(s), what=what or f"after {probe_id}")


def wait_field(kiosk, text: str, probe_id: str = "search-field") -> dict:
    return kiosk.wait(lambda s: field(s, probe_id) == text, what=f"the field to hold {text!r}")


def keyboard_is(kiosk, layout: str) -> dict:
    """Wait until the keyboard shows `layout`: its next-keyboard key names the one after it."""
    after = LAYOUT_ORDER[(LAYOUT_ORDER.index(layout) + 1) % len(LAYOUT_ORDER)]
    first = load_layout(layout).pages["normal"][0][0].text
    return kiosk.wait(lambda s: any(b["id"] == "key:layout" and b["text"] == load_layout(after).title
                                    for b in s["buttons"]) and any(b["id"] == f"key:{first}" for b in s["buttons"]),
                      what=f"the {layout} keyboard")


def type_page(kiosk, snap: dict, before: str = "") -> str:
    """Tap every character key on the page shown in `snap`; the field must gain exactly the
    characters drawn on them, in order."""
    keys = char_keys(snap)
    assert keys, "no character keys on screen"
    for b in keys:
        assert b["id"] == f"key:{b['text']}" and b["spoken"] == b["text"], f"key {b} is named as it is drawn"
    tap_all(kiosk, keys)
    expected = before + "".join(b["text"] for b in keys)
    wait_field(kiosk, expected + "|")
    return expected


def clear(kiosk) -> dict:
    return press(kiosk, "search-clear", lambda s: field(s) == "|")


def test_every_key_of_every_keyboard_types_what_it_shows(start_kiosk, tmp_path):
    copy_into(tmp_path)  # the Chinese keyboard composes; built once for the whole run
    kiosk = start_kiosk()
    kiosk.touch_to_start()
    snap = press(kiosk, "search-field", lambda s: any(b["id"] == "key:q" for b in s["buttons"]), "the keyboard")
    snap = keyboard_is(kiosk, "en_qwerty")
    assert {kiosk.button(snap, a)["spoken"] for a in ("key:enter", "key:escape", "key:shift")} == \
        {"Search", "Hide keyboard", "Shift"}
    assert kiosk.button(snap, "key:layout")["spoken"] == "Next keyboard: Español"

    for n, layout in enumerate(LAYOUT_ORDER):
        if n:
            snap = kiosk.tap("key:layout")
            snap = keyboard_is(kiosk, layout)
        if layout in ("en_qwerty", "ar_arabic"):  # the symbols page stays until ABC
            page = press(kiosk, "key:special", lambda s: any(b["id"] == "key:@" for b in s["buttons"]),
                         "the symbols page")
            typed = type_page(kiosk, page)
            assert set("@.-?!'0123456789") <= set(typed)
            if layout == "ar_arabic":
                assert set("٠١٢٣٤٥٦٧٨٩") <= set(typed), "Eastern Arabic digits too"
            press(kiosk, "key:special", lambda s: not any(b["id"] == "key:@" for b in s["buttons"]),
                  "the letters again")
            snap = clear(kiosk)
        shown = {b["text"] for b in char_keys(snap)}
        assert shown == {k.text for k in load_layout(layout).keys("normal") if k.text and k.text != " "}
        typed = type_page(kiosk, snap)
        # then, in the same field: Shift (one capital, then small letters again) and the accent key
        extra = {"de_qwertz": "Übéß", "es_qwerty": "ñá", "fr_azerty": "éç", "en_qwerty": "ü"}.get(layout, "")
        for ch in extra:
            if not any(b["id"] == f"key:{ch}" for b in kiosk.probe()["buttons"]):
                page = "key:shift" if ch.isupper() else "key:accent"
                press(kiosk, page, lambda s, c=ch: any(b["id"] == f"key:{c}" for b in s["buttons"]))
            typed += ch
            press(kiosk, f"key:{ch}", lambda s, t=typed: field(s) == t + "|")
        snap = clear(kiosk)

    # Delete, then Hide: the keyboard goes, the field keeps its text; tapping the field brings it back
    snap = kiosk.tap("key:layout")
    snap = keyboard_is(kiosk, "en_qwerty")
    tap_all(kiosk, [kiosk.button(snap, "key:b"), kiosk.button(snap, "key:a"), kiosk.button(snap, "key:g"),
                    kiosk.button(snap, "key:s"), kiosk.button(snap, "key:delete")])
    wait_field(kiosk, "bag|")
    snap = press(kiosk, "key:escape", lambda s: not any(b["id"].startswith("key:") for b in s["buttons"]),
                              "the keyboard hidden")
    assert field(snap) == "bag" and any(b["id"] == "guide:lost-baggage" for b in snap["buttons"])
    press(kiosk, "search-field", lambda s: any(b["id"] == "key:b" for b in s["buttons"]), "the keyboard back")
    snap = press(kiosk, "key:enter", lambda s: not any(b["id"].startswith("key:") for b in s["buttons"]),
                              "Search: the results, the keyboard out of their way")
    assert any(b["id"] == "guide:lost-baggage" for b in snap["buttons"])


def _path_to_end(guide) -> list[int]:
    queue = deque([(guide.start, [])])
    seen = {guide.start}
    while queue:
        sid, path = queue.popleft()
        step = guide.steps[sid]
        if step.end:
            return path
        for i, choice in enumerate(step.choices):
            if choice.next and choice.next not in seen:
                seen.add(choice.next)
                queue.append((choice.next, path + [i]))
    raise AssertionError(f"{guide.id}: no end")


def test_pinyin_candidates_type_chinese_for_search_and_comments(start_kiosk, tmp_path, library):
    copy_into(tmp_path)
    kiosk = start_kiosk()
    kiosk.touch_to_start()
    press(kiosk, "lang:zh", lambda s: s["lang"] == "zh", "Chinese")
    press(kiosk, "search-field", lambda s: any(b["id"] == "key:x" for b in s["buttons"]), "the keyboard")
    snap = keyboard_is(kiosk, "zh_pinyin")  # the session's language chose the keyboard

    tap_all(kiosk, [kiosk.button(snap, f"key:{ch}") for ch in "xingli"])
    snap = kiosk.wait(lambda s: field(s) == "xingli|" and any(b["id"] == "candidate:0" for b in s["buttons"]),
                      what="candidates for xingli")
    first = kiosk.button(snap, "candidate:0")
    assert first["text"] == first["spoken"] == "行李"
    snap = press(kiosk, "candidate:0", lambda s: field(s) == "行李|", "the field to hold 行李")
    assert not any(b["id"].startswith("candidate:") for b in snap["buttons"]), "nothing left to compose"

    # the query reaches the search: the sample library's baggage guide has 行李 in its Chinese title
    wanted = {f"guide:{g.id}" for g in library.guides.values() if "行李" in g.title.get("zh", "")}
    snap = kiosk.wait(lambda s: wanted & {b["id"] for b in s["buttons"]}, what="a result for 行李")
    guide_id = min(wanted & {b["id"] for b in snap["buttons"]}).split(":", 1)[1]
    kiosk.tap(f"guide:{guide_id}")
    kiosk.wait_screen("step")
    kiosk.wait(lambda s: any(e["type"] == "search" for e in kiosk.events()), what="the search recorded")
    search = next(e for e in kiosk.events() if e["type"] == "search")
    assert search["data"]["query"] == "行李" and search["data"]["hits"] >= 1

    for index in _path_to_end(library.guides[guide_id]):
        before = kiosk.probe()["frame"]
        kiosk.tap(f"choice:{index}")
        kiosk.wait(lambda s, b=before: s["frame"] > b)
    kiosk.wait_screen("outcome")
    kiosk.tap("helped:yes")
    kiosk.wait_screen("thanks")
    kiosk.tap("thanks:more")
    snap = kiosk.wait(lambda s: s["screen"] == "feedback" and any(b["id"] == "key:h" for b in s["buttons"]),
                      what="feedback with its keyboard")
    tap_all(kiosk, [kiosk.button(snap, f"key:{ch}") for ch in "henhao"])
    kiosk.wait(lambda s: field(s, "comment") == "henhao|" and any(
        b["id"] == "candidate:0" and b["text"] == "很" for b in s["buttons"]), what="很 offered for hen")
    press(kiosk, "candidate:0", lambda s: field(s, "comment") == "很hao|" and any(
        b["id"] == "candidate:0" and b["text"] == "好" for b in s["buttons"]), "好 offered for the rest")
    press(kiosk, "candidate:0", lambda s: field(s, "comment") == "很好|", "the comment 很好")

    # Done hides the keyboard; the Keyboard button shows it again
    press(kiosk, "key:enter", lambda s: not any(b["id"].startswith("key:") for b in s["buttons"]),
                       "the keyboard hidden")
    press(kiosk, "keyboard:show", lambda s: any(b["id"] == "key:h" for b in s["buttons"]), "the keyboard back")
    kiosk.tap("feedback:send")
    kiosk.wait_screen("thanks")
    feedback = next(e for e in kiosk.events() if e["type"] == "feedback")
    assert feedback["data"]["comment"] == "很好"
