"""The staff PIN pad against guessing: after 5 wrong PINs each further one makes the pad wait
twice as long (capped at 5 minutes, never locked for good), a restart of the app does not reset
the wait, and while the PIN is still the factory 1234 staff mode asks for a new one first and the
heartbeat tells the Fleet page. The clock is the test's."""

from __future__ import annotations

import json

import pytest

from kiosk.settings import DEFAULT_PIN, hash_pin, load_settings
from kiosk.staff_pin import FREE_ATTEMPTS, MAX_WAIT, PinGuard, PinRefused, wait_after
from kiosk.sync.heartbeat import build_heartbeat
from offline_cache.store import Store


class Wall:
    def __init__(self) -> None:
        self.now = 1_780_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def wall() -> Wall:
    return Wall()


@pytest.fixture
def settings(tmp_path):
    settings = load_settings(tmp_path)  # a new kiosk: no PIN set, so 1234 opens staff mode
    return settings


def guard(settings, tmp_path, wall) -> PinGuard:
    return PinGuard(settings, Store(tmp_path / "kiosk.db"), clock=wall)


def test_wrong_pins_make_the_pad_wait_longer_and_longer_up_to_five_minutes(settings, tmp_path, wall):
    pins = guard(settings, tmp_path, wall)
    for _ in range(FREE_ATTEMPTS - 1):
        assert pins.check("9999").wait == 0, "the first wrong PINs cost nothing (a staff member mistyping)"
    waits = []
    for _ in range(6):
        result = pins.check("9999")
        assert not result.ok
        waits.append(result.wait)
        refused = pins.check(DEFAULT_PIN)
        assert not refused.ok and 0 < refused.wait <= result.wait, "even the right PIN waits"
        wall.now += result.wait
    assert waits == [30, 60, 120, 240, 300, 300]
    assert MAX_WAIT == 300
    assert pins.check(DEFAULT_PIN).ok, "never a permanent lock: the right PIN works after the wait"
    assert pins.check("9999").wait == 0, "and the count starts again"


def test_forty_guesses_take_hours_not_seconds():
    # The waits the first test walked through, summed: no scrypt needed to add them up.
    assert sum(wait_after(n) for n in range(1, 41)) > 2.5 * 3600


def test_a_restart_does_not_reset_the_wait_and_a_clock_set_back_does_not_stretch_it(settings, tmp_path, wall):
    pins = guard(settings, tmp_path, wall)
    for _ in range(FREE_ATTEMPTS):
        pins.check("9999")
    assert pins.wait_left() == 30
    wall.now += 10
    again = guard(settings, tmp_path, wall)  # the app restarted (a new store connection, new objects)
    assert again.wait_left() == 20
    assert not again.check(DEFAULT_PIN).ok
    wall.now -= 86400  # the wall clock jumped a day back
    assert 0 < again.wait_left() <= 30, "the wait is never longer than its step allows"


def test_the_default_pin_opens_staff_mode_only_to_choose_a_new_one(settings, tmp_path, wall):
    pins = guard(settings, tmp_path, wall)
    first = pins.check(DEFAULT_PIN)
    assert first.ok and first.must_change
    for bad in (DEFAULT_PIN, "12", "12a4", "1234567890123"):
        with pytest.raises(PinRefused):
            pins.set_new(bad)
    path = pins.set_new("4826")
    assert path == tmp_path / "kiosk.toml"
    saved = load_settings(tmp_path)
    assert saved.check_staff_pin("4826") and not saved.check_staff_pin(DEFAULT_PIN)
    again = pins.check("4826")
    assert again.ok and not again.must_change
    assert not pins.check(DEFAULT_PIN).ok


def test_a_pin_set_with_the_cli_to_1234_is_still_the_default(tmp_path, wall):
    settings = load_settings(tmp_path)
    settings.staff_pin_hash = hash_pin(DEFAULT_PIN)
    assert guard(settings, tmp_path, wall).check(DEFAULT_PIN).must_change
    assert settings.uses_default_pin


def test_the_heartbeat_says_when_the_pin_is_the_default(settings, tmp_path):
    store = Store(tmp_path / "kiosk.db")
    beat = json.loads(build_heartbeat(store, "0.1.0", tmp_path, 1.0, default_pin=True).wire_bytes())
    assert beat["default_pin"] is True
    normal = build_heartbeat(store, "0.1.0", tmp_path, 1.0, default_pin=False).wire_bytes()
    assert b"default_pin" not in normal, "a kiosk with its own PIN sends the same bytes as before"
