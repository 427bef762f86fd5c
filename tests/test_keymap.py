"""Audio mode's keys in kiosk.toml (kiosk/keymap.py): the defaults the issue names, right-to-left
arrows, and `kiosk config check` naming a key it does not know, a key given to two actions and the
other audio settings out of range."""

from __future__ import annotations

from kiosk.config_check import check_config
from kiosk.keymap import DEFAULT_KEYS, KeyMap, map_problems
from kiosk.settings import Settings, load_settings


def test_the_default_keys():
    keys = KeyMap.from_settings(Settings())
    assert [keys.action_for(k) for k in ("tab", "down", "right", "enter", "backspace", "f1", "f2", "f3")] == [
        "next", "next", "next", "activate", "back", "help", "repeat", "pause"]
    assert keys.action_for("tab", ["shift"]) == "previous" and keys.action_for("up") == "previous"
    assert keys.action_for("f10") == "volume_up" and keys.action_for("f9") == "volume_down"
    assert keys.action_for("down", ["shift", "numlock"]) == "next", "a modifier the map does not name is ignored"
    assert keys.action_for("a") is None and keys.action_for("spacebar") is None, "typing keys stay typing keys"
    # no single character is bound (WCAG 2.1.4), and nothing needs two keys at once but Shift+Tab,
    # whose action has keys of its own (EN 301 549 §5.9)
    assert not [k for keys in DEFAULT_KEYS.values() for k in keys if len(k) == 1]
    assert [k for k in DEFAULT_KEYS["previous"] if "+" not in k]


def test_in_right_to_left_the_arrows_swap():
    keys = KeyMap.from_settings(Settings())
    assert keys.action_for("left", rtl=True) == "next" and keys.action_for("right", rtl=True) == "previous"
    assert keys.action_for("tab", rtl=True) == "next", "Tab is reading order whatever the direction"


def test_config_check_reports_the_audio_settings(tmp_path):
    load_settings(tmp_path)  # a kiosk.toml with the defaults
    assert not [f for f in check_config(tmp_path) if "key" in f.message or "speech" in f.message
                or "idle" in f.message]
    (tmp_path / "kiosk.toml").write_text(
        'device = "gate-b12"\nkeys_repeat = ["tab", "F13", "hyper+x", "bogus"]\nkeys_next = []\n'
        'speech_volume = 11\nspeech_rate = 20\nidle_countdown = 10.0\nidle_timeout_assisted = 30.0\n')
    found = [str(f) for f in check_config(tmp_path)]
    for expected in ("ERROR: audio mode keys: keys_next is empty",
                     "ERROR: audio mode keys: keys_repeat: 'hyper+x' has 'hyper', which is not a modifier",
                     "ERROR: audio mode keys: keys_repeat: 'bogus' is not a key name",
                     "ERROR: speech_volume is 11; use 1 to 10",
                     "ERROR: speech_rate is 20 words per minute",
                     "WARNING: idle_countdown is 10 s; WCAG 2.2.1",
                     "ERROR: idle_timeout_assisted is 30 s"):
        assert any(f.startswith(expected) for f in found), (expected, found)
    assert not any("F13" in f for f in found), "key names are read in any case"


def test_a_key_given_to_two_actions_is_named():
    problems = map_problems({**DEFAULT_KEYS, "repeat": ["Tab"]})
    assert problems == ["key 'Tab' is given to both keys_next and keys_repeat"]
