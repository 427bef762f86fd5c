"""The kiosk's one speech queue (kiosk/speech.py): what a traveller hears, in which voice, and what
a new announcement, repeat, pause, volume and the session's end do to it. The real espeak-ng
speaks each kiosk language into a WAV file; a kiosk without it is silent, never broken."""

from __future__ import annotations

import logging
import threading
import wave

import pytest

from kiosk.speech import (
    DEFAULT_VOLUME,
    VOICES,
    EspeakBackend,
    RecordingBackend,
    SilentBackend,
    Speaker,
    Utterance,
    default_backend,
    language_of,
)


class HeldBackend:
    """Speaks each utterance until the test lets it finish (or it is cut): what was started, what
    was cut, and whether it was held by a pause."""

    name = "held"

    def __init__(self):
        self.started: list[str] = []
        self.cut: list[str] = []
        self.finished: list[str] = []
        self.paused_during: list[str] = []
        self.release = threading.Event()
        self.speaking = threading.Event()

    def speak(self, utterance, voice, volume, rate, control):
        self.started.append(utterance.text)
        self.speaking.set()
        while not self.release.is_set():
            if control.stopped.wait(0.01):
                self.cut.append(utterance.text)
                self.speaking.clear()
                return
            if control.paused.is_set() and utterance.text not in self.paused_during:
                self.paused_during.append(utterance.text)
        self.finished.append(utterance.text)
        self.speaking.clear()


def wait_until(condition, timeout=5.0):
    done = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError("timed out")


def test_an_announcement_is_spoken_in_order_with_its_language_and_voice():
    rec = RecordingBackend()
    speaker = Speaker(rec)
    speaker.say([Utterance("How can we help?", "en"), Utterance("Larger text", "en")])
    assert speaker.wait_idle()
    speaker.say_text("كيف يمكننا المساعدة؟", "ar")
    assert speaker.wait_idle()
    speaker.say_text("我们能帮您什么？", "zh")
    assert speaker.wait_idle()
    assert [(r["text"], r["lang"], r["voice"]) for r in rec.said] == [
        ("How can we help?", "en", "en"), ("Larger text", "en", "en"),
        ("كيف يمكننا المساعدة؟", "ar", "ar"), ("我们能帮您什么？", "zh", "cmn")]
    speaker.close()


def test_a_new_announcement_interrupts_the_old_and_drops_its_rest():
    held = HeldBackend()
    speaker = Speaker(held)
    speaker.say([Utterance("Lost baggage", "en"), Utterance("Step 1", "en"), Utterance("Yes", "en")])
    assert held.speaking.wait(2)
    speaker.say_text("No", "en")  # the traveller moved on: "Step 1" and "Yes" are never said
    wait_until(lambda: held.started == ["Lost baggage", "No"])
    held.release.set()
    assert speaker.wait_idle()
    assert held.cut == ["Lost baggage"] and held.finished == ["No"]
    speaker.close()


def test_repeat_says_the_last_announcement_again_from_its_start():
    rec = RecordingBackend()
    speaker = Speaker(rec)
    speaker.say([Utterance("Did this help?", "en"), Utterance("Yes", "en")])
    assert speaker.wait_idle()
    speaker.repeat()
    assert speaker.wait_idle()
    assert [r["text"] for r in rec.said] == ["Did this help?", "Yes"] * 2
    speaker.close()


def test_pause_holds_the_speech_and_resume_goes_on():
    held = HeldBackend()
    speaker = Speaker(held)
    speaker.say([Utterance("one", "en"), Utterance("two", "en")])
    assert held.speaking.wait(2)
    assert speaker.toggle_pause() is True
    wait_until(lambda: held.paused_during == ["one"])
    held.release.set()  # "one" ends while paused; "two" must wait for resume
    wait_until(lambda: held.finished == ["one"])
    assert not speaker.wait_idle(0.2) and held.started == ["one"], "nothing new starts while paused"
    assert speaker.toggle_pause() is False
    assert speaker.wait_idle()
    assert held.started == ["one", "two"]
    speaker.close()


def test_volume_has_bounds_and_the_session_end_puts_it_back():
    rec = RecordingBackend()
    speaker = Speaker(rec, volume=7)
    for _ in range(6):
        speaker.louder()
    assert speaker.volume == 10
    for _ in range(12):
        speaker.quieter()
    assert speaker.volume == 1
    speaker.say_text("quiet", "en")
    assert speaker.wait_idle()
    speaker.reset()
    assert speaker.volume == 7 and speaker.last is None
    speaker.repeat()  # nothing to repeat for the next traveller
    speaker.say_text("fresh", "en")
    assert speaker.wait_idle()
    assert [(r["text"], r["volume"]) for r in rec.said] == [("quiet", 1), ("fresh", 7)]
    speaker.close()


def test_the_recording_backend_writes_json_lines_for_the_ui_tests(tmp_path):
    path = tmp_path / "speech.jsonl"
    backend = default_backend({"KIOSK_TEST_SPEECH": str(path)})
    assert isinstance(backend, RecordingBackend)
    speaker = Speaker(backend)
    speaker.say_text("Audio mode on.", "en")
    assert speaker.wait_idle()
    assert path.read_text(encoding="utf-8") == ('{"text": "Audio mode on.", "lang": "en", "voice": "en", '
                                                f'"volume": {DEFAULT_VOLUME}}}\n')
    speaker.close()


def test_without_espeak_ng_the_kiosk_is_silent_and_says_so_once(monkeypatch, caplog):
    monkeypatch.setenv("PATH", "/nonexistent")
    with caplog.at_level(logging.WARNING, logger="kiosk.speech"):
        backend = default_backend({})
    assert isinstance(backend, SilentBackend)
    assert [r.getMessage() for r in caplog.records] == [
        "espeak-ng is not installed (apt install espeak-ng): the kiosk has no speech output"]
    speaker = Speaker(backend)
    assert not speaker.available
    speaker.say_text("nobody hears this", "en")
    assert speaker.wait_idle()
    speaker.close()


def test_espeak_removed_while_running_costs_one_log_line_not_a_crash(caplog):
    backend = EspeakBackend(command="/nonexistent/espeak-ng")
    speaker = Speaker(backend)
    with caplog.at_level(logging.WARNING, logger="kiosk.speech"):
        speaker.say([Utterance("one", "en"), Utterance("two", "en")])
        assert speaker.wait_idle()
    assert len(caplog.records) == 1 and "could not be started" in caplog.records[0].getMessage()
    speaker.close()


@pytest.mark.parametrize("lang", sorted(VOICES))
def test_espeak_ng_has_a_voice_for_each_kiosk_language(lang, tmp_path):
    """The real espeak-ng, writing to a WAV file instead of the speaker: each voice exists and
    speaks (an unknown voice writes nothing)."""
    out = tmp_path / f"{lang}.wav"
    backend = EspeakBackend(extra_args=["-w", str(out)])
    assert backend.available, "espeak-ng must be installed (scripts/setup installs it)"
    words = {"en": "Yes", "es": "Sí", "fr": "Oui", "de": "Ja", "ar": "نعم", "zh": "是"}[lang]
    speaker = Speaker(backend)
    speaker.say_text(words, lang)
    assert speaker.wait_idle(20)
    with wave.open(str(out)) as wav:
        assert wav.getnframes() > wav.getframerate() * 0.1, "at least a tenth of a second of speech"
    speaker.close()


def test_espeak_ng_is_interrupted_by_the_next_announcement(tmp_path):
    out = tmp_path / "long.wav"
    backend = EspeakBackend(extra_args=["-w", str(out)])
    speaker = Speaker(backend, rate=80)
    speaker.say_text("a long sentence " * 200, "en")
    speaker.say_text("Yes", "en")
    assert speaker.wait_idle(20)
    speaker.close()


def test_text_in_another_script_is_read_by_a_voice_that_can_read_it():
    assert language_of("Lost baggage", "ar") == "en"  # an untranslated title on the Arabic screen
    assert language_of("الأمتعة", "ar") == "ar"
    assert language_of("4 \u2605", "ar") == "ar"  # no letters: the screen's language
    assert language_of("行李", "zh") == "zh" and language_of("Wi-Fi", "zh") == "en"
    assert language_of("Equipaje perdido", "es") == "es"
    assert language_of("العربية", "en") == "ar"
