"""The on-screen keyboard in audio mode (issue 13: "every key and candidate is in the audio mode's
focus order and spoken"), on the real app with the keys alone: Tab walks the keyboard key by key,
each key is reached in reading order and says what it types (an action its word); after "xingli"
each pinyin candidate is reached and says its characters, and Enter on the first types 行李; an
Arabic key is checked by the logical character it puts in the field. What the kiosk said is read
from the recording speech backend, as in test_audio_mode.py.

The default run walks the Chinese candidates and the Arabic keyboard; the matrix walks every
layout and types every key of it with Enter."""

from __future__ import annotations

import pytest

from kiosk.keyboard import LAYOUT_ORDER, load_layout
from tests.lexicon_cache import copy_into
from tests.ui.test_audio_mode import Listener
from tests.ui.test_keyboards import field, keyboard_is, tap_all

pytestmark = pytest.mark.ui

# keys a traveller types Arabic with that other keyboards lack: a hamza form, taa marbuta, alef
# maqsura (each drawn in a form that depends on its neighbours, so checked by what it inserts)
ARABIC_TYPED = {"key:ى", "key:ة", "key:أ"}


def keyboard_keys(layout: str) -> list[str]:
    """The probe ids of a layout's first page, in reading order."""
    return [k.probe_id for row in load_layout(layout).pages["normal"] for k in row]


def walk(ear: Listener, wanted: list[str], enter_on: set[str] = frozenset()) -> list[dict]:
    """Tab until the focus reaches the first of `wanted`, then on through the rest: each step says
    exactly the focused control's name, and the controls come in the order of `wanted`. On a key
    of `enter_on`, Enter types it: the field gains the key's logical character (the probe reports
    the field's text as typed, not as drawn) and the focus stays on the key. Returns the buttons
    (probe) of `wanted` as they were focused."""
    focused: list[dict] = []
    for n, want in enumerate(wanted):
        if n == 0:
            focus = Listener.focused(ear.move_to(want))
        else:
            snap, said = ear.press("Tab")
            focus = Listener.focused(snap)
            assert focus["id"] == want, f"after {focused[-1]['id']} the focus went to {focus['id']}, not {want}"
            assert [s["text"] for s in said] == [ear.words(focus)], f"{want} says its name"
        focused.append(focus)
        if want in enter_on:
            before = field(ear.kiosk.probe())
            snap, said = ear.press("Return")
            assert field(snap) == before.removesuffix("|") + focus["spoken"] + "|", f"{want} types {focus['spoken']!r}"
            assert Listener.focused(snap)["id"] == want and said[-1]["text"] == focus["spoken"]
    return focused


def open_keyboard(ear: Listener, layout: str) -> None:
    ear.move_to("search-field")
    ear.press("Return")
    keyboard_is(ear.kiosk, layout)


def says_what_it_types(layout: str, focused: list[dict]) -> None:
    """Each character key is spoken as the character it types, an action key by a word."""
    keys = {k.probe_id: k for row in load_layout(layout).pages["normal"] for k in row}
    for button in focused:
        key = keys[button["id"]]
        if key.action is None and key.code != "spacebar":
            assert button["spoken"] == key.text, f"{button['id']} is spoken as what it types"
        else:
            assert button["spoken"].strip(), f"{button['id']} is spoken by its name"


def start_in(start_kiosk, tmp_path, lang: str) -> Listener:
    copy_into(tmp_path)  # the Chinese keyboard composes with the lexicon
    speech = tmp_path / "speech.jsonl"
    kiosk = start_kiosk(KIOSK_TEST_SPEECH=str(speech))
    ear = Listener(kiosk, speech)
    ear.activate_to_screen("home", key="Tab", prefix=1)
    if lang != "en":
        ear.move_to(f"lang:{lang}")
        ear.lang = lang
        ear.activate_to_screen("home")
    return ear


def test_pinyin_candidates_and_the_arabic_keys_are_reached_and_spoken(start_kiosk, tmp_path):
    ear = start_in(start_kiosk, tmp_path, "zh")
    kiosk = ear.kiosk
    open_keyboard(ear, "zh_pinyin")

    # "xingli" typed by touch (audio mode stays on): the candidates come before the keys
    snap = kiosk.probe()
    tap_all(kiosk, [kiosk.button(snap, f"key:{ch}") for ch in "xingli"])
    kiosk.wait(lambda s: field(s) == "xingli|" and any(b["id"] == "candidate:0" for b in s["buttons"]),
               what="candidates for xingli")
    focused = walk(ear, ["candidate:0"])
    while True:  # on through the bar (it scrolls to the focused one), until the keys
        snap, said = ear.press("Tab")
        focus = Listener.focused(snap)
        assert [s["text"] for s in said] == [ear.words(focus)]
        if not focus["id"].startswith("candidate:"):
            break
        assert focus["id"] == f"candidate:{len(focused)}"
        focused.append(focus)
    assert focus["id"] == keyboard_keys("zh_pinyin")[0], "the keys come after the candidates"
    assert len(focused) >= 2 and focused[0]["text"] == "行李"
    assert all(b["spoken"] == b["text"] for b in focused), "a candidate says the characters it types"
    ear.move_to("candidate:0", key="shift+Tab")
    kiosk.key("Return")
    snap = kiosk.wait(lambda s: field(s) == "行李|", what="Enter on the first candidate to type 行李")
    assert not any(b["id"].startswith("candidate:") for b in snap["buttons"])

    # the next keyboard, Arabic, walked key by key, some keys typed with Enter
    kiosk.tap("key:layout")
    keyboard_is(kiosk, "ar_arabic")
    focused = walk(ear, keyboard_keys("ar_arabic"), enter_on=ARABIC_TYPED)
    says_what_it_types("ar_arabic", focused)
    assert field(kiosk.probe()) == "行李" + "ىةأ" + "|"


@pytest.mark.matrix
@pytest.mark.parametrize("layout", LAYOUT_ORDER)
def test_every_key_of_a_keyboard_is_reached_spoken_and_typed_with_enter(start_kiosk, tmp_path, layout):
    lang = {"es_qwerty": "es", "fr_azerty": "fr", "de_qwertz": "de", "zh_pinyin": "zh", "ar_arabic": "ar"}.get(layout, "en")
    ear = start_in(start_kiosk, tmp_path, lang)
    open_keyboard(ear, layout)
    keys = load_layout(layout).pages["normal"]
    # every character key typed with Enter (Chinese letters compose pinyin: the default run's)
    typed = set() if layout == "zh_pinyin" else {k.probe_id for row in keys for k in row
                                                 if k.action is None and k.code != "spacebar"}
    focused = walk(ear, keyboard_keys(layout), enter_on=typed)
    says_what_it_types(layout, focused)
