"""Speech output, owned here and nowhere else: what the kiosk says, in which voice, how loud.

EN 301 549 §5.1.3 asks a closed terminal to speak what it shows. The UI hands the `Speaker` an
announcement (one or more texts in a language) and goes on at once: a worker thread speaks it
through a backend, so no tap or key ever waits on audio. A new announcement interrupts the one
being spoken (its rest is dropped), `repeat()` says the last one again, `pause()` holds it where
it is, `stop()` silences it. The volume is a level from 1 to VOLUME_LEVELS; `reset()` (at session
end) silences it and puts the volume back, so the next traveller starts fresh.

Backends: `EspeakBackend` runs espeak-ng, one process per utterance (interrupted with SIGTERM,
paused with SIGSTOP), with a voice per language; a kiosk without espeak-ng gets `SilentBackend`
after one log line, never an error. `RecordingBackend` writes every utterance it is handed, in
order, with its language, voice and volume, as JSON lines: the UI tests read exactly what was said.

No Kivy here: the UI calls in from its thread, and `on_speaking` is called from the worker thread
(the UI moves it onto its own).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

VOLUME_LEVELS = 10
DEFAULT_VOLUME = 7
# espeak-ng's voice for each of the kiosk's languages (espeak-ng --voices); another language is
# tried under its own code.
VOICES = {"en": "en", "es": "es", "fr": "fr", "de": "de", "ar": "ar", "zh": "cmn"}
# How long one utterance may run before it is cut: a stuck speech process must not hold the queue.
MAX_UTTERANCE_SECONDS = 120.0
POLL_SECONDS = 0.02  # how often a running espeak-ng is checked for an interrupt or a pause


@dataclass(frozen=True)
class Utterance:
    text: str
    language: str  # the language the text is written in: it picks the voice


@dataclass(frozen=True)
class Announcement:
    """What one action says: its parts in order (a screen's heading, then the focused control).
    `tag` names where it came from ("read-aloud", "focus", ...), for the UI's state."""

    parts: tuple[Utterance, ...]
    tag: str = ""

    @property
    def texts(self) -> list[str]:
        return [p.text for p in self.parts]


def voice_for(language: str) -> str:
    base = language.split("-")[0].lower()
    return VOICES.get(base, base)


def language_of(text: str, language: str, fallback: str = "en") -> str:
    """The language to speak `text` in when the screen is in `language`: a title the library has
    only in English, shown on the Arabic screen, is read by the English voice, not the Arabic one
    spelling Latin letters. Text without letters (digits, stars) keeps the screen's language."""
    has_arabic = any("\u0600" <= ch <= "\u06ff" or "\u0750" <= ch <= "\u077f" for ch in text)
    has_cjk = any("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in text)
    has_latin = any(ch.isascii() and ch.isalpha() for ch in text) or any(
        "\u00c0" <= ch <= "\u024f" for ch in text)
    base = language.split("-")[0]
    if base == "ar":
        return language if has_arabic or not has_latin else fallback
    if base == "zh":
        return language if has_cjk or not has_latin else fallback
    if has_arabic and not has_latin:
        return "ar"
    if has_cjk and not has_latin:
        return "zh"
    return language


class Control:
    """One utterance's controls, shared by the worker and the backend speaking it."""

    def __init__(self) -> None:
        self.stopped = threading.Event()
        self.paused = threading.Event()


class Backend(Protocol):
    name: str

    def speak(self, utterance: Utterance, voice: str, volume: int, rate: int, control: Control) -> None:
        """Speak, blocking until done or until control.stopped is set; hold while control.paused."""


class SilentBackend:
    name = "silent"

    def speak(self, utterance, voice, volume, rate, control) -> None:
        return None


class EspeakBackend:
    """espeak-ng on the default audio device. Volume level 1-10 is espeak's amplitude 20-200."""

    name = "espeak-ng"

    def __init__(self, command: str = "espeak-ng", extra_args: Sequence[str] = ()):
        self.command = command
        self.extra_args = list(extra_args)
        self._broken = False

    @property
    def available(self) -> bool:
        return shutil.which(self.command) is not None

    def args(self, utterance: Utterance, voice: str, volume: int, rate: int) -> list[str]:
        amplitude = round(200 * volume / VOLUME_LEVELS)
        # "--" ends the options: a text starting with "-" is spoken, not read as a flag
        return [self.command, "-v", voice, "-a", str(amplitude), "-s", str(rate), *self.extra_args, "--",
                utterance.text]

    def speak(self, utterance, voice, volume, rate, control) -> None:
        if self._broken or control.stopped.is_set():
            return
        try:
            proc = subprocess.Popen(self.args(utterance, voice, volume, rate), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as exc:  # removed since start, or not executable: silent from now on
            self._broken = True
            log.warning("speech is off: %s could not be started (%s)", self.command, exc)
            return
        held = False
        waited = 0.0
        try:
            while proc.poll() is None:
                if control.stopped.is_set() or waited > MAX_UTTERANCE_SECONDS:
                    break
                if control.paused.is_set() != held:
                    held = not held
                    proc.send_signal(signal.SIGSTOP if held else signal.SIGCONT)
                control.stopped.wait(POLL_SECONDS)
                if not held:
                    waited += POLL_SECONDS
        finally:
            if proc.poll() is None:
                if held:
                    proc.send_signal(signal.SIGCONT)  # a stopped process does not act on SIGTERM
                proc.terminate()
                try:
                    proc.wait(2)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


class RecordingBackend:
    """Says nothing; writes each utterance it is handed to `path` as a JSON line (text, language,
    voice, volume), in the order spoken, and keeps them in `said`. The UI tests read the file."""

    name = "recording"

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else None
        self.said: list[dict] = []
        self._lock = threading.Lock()

    def speak(self, utterance, voice, volume, rate, control) -> None:
        if control.stopped.is_set():
            return
        record = {"text": utterance.text, "lang": utterance.language, "voice": voice, "volume": volume}
        with self._lock:
            self.said.append(record)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def default_backend(environ: dict[str, str] | None = None) -> Backend:
    """The backend a kiosk speaks with: the recording one when KIOSK_TEST_SPEECH names a file (the
    UI tests), espeak-ng when it is installed, else silence, said once in the log."""
    env = os.environ if environ is None else environ
    if env.get("KIOSK_TEST_SPEECH"):
        return RecordingBackend(env["KIOSK_TEST_SPEECH"])
    espeak = EspeakBackend()
    if espeak.available:
        return espeak
    log.warning("espeak-ng is not installed (apt install espeak-ng): the kiosk has no speech output")
    return SilentBackend()


class Speaker:
    """The one speech queue of the kiosk. Every method returns at once."""

    def __init__(self, backend: Backend | None = None, *, volume: int = DEFAULT_VOLUME, rate: int = 165,
                 on_speaking: Callable[[str | None], None] | None = None):
        self.backend = backend if backend is not None else default_backend()
        self.default_volume = max(1, min(VOLUME_LEVELS, volume))
        self.volume = self.default_volume
        self.rate = rate
        self.on_speaking = on_speaking  # called from the worker: the tag being spoken, or None
        self.last: Announcement | None = None
        self._queue: deque[Utterance] = deque()
        self._tag: str | None = None
        self._paused = False
        self._current: Control | None = None
        self._closed = False
        self._cond = threading.Condition()
        self._worker = threading.Thread(target=self._run, name="speech", daemon=True)
        self._worker.start()

    @property
    def available(self) -> bool:
        """Whether anything can be heard (a recording counts: it stands in for a speaker)."""
        return not isinstance(self.backend, SilentBackend)

    @property
    def paused(self) -> bool:
        return self._paused

    # --- what the UI calls ------------------------------------------------------------------

    def say(self, parts: Sequence[Utterance] | Utterance, tag: str = "") -> Announcement:
        """Speak `parts` in order, interrupting whatever is being said; unpauses."""
        if isinstance(parts, Utterance):
            parts = [parts]
        announcement = Announcement(tuple(p for p in parts if p.text.strip()), tag)
        with self._cond:
            self.last = announcement
            self._replace(announcement)
        return announcement

    def say_text(self, text: str, language: str, tag: str = "") -> Announcement:
        return self.say([Utterance(text, language)], tag)

    def repeat(self) -> None:
        """Say the last announcement again, from its start."""
        with self._cond:
            if self.last is not None:
                self._replace(self.last)

    def pause(self) -> None:
        with self._cond:
            self._paused = True
            if self._current is not None:
                self._current.paused.set()

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            if self._current is not None:
                self._current.paused.clear()
            self._cond.notify_all()

    def toggle_pause(self) -> bool:
        """Pause or go on; returns whether it is paused now."""
        if self._paused:
            self.resume()
        else:
            self.pause()
        return self._paused

    def stop(self) -> None:
        """Silence: the utterance being spoken is cut and the rest dropped."""
        with self._cond:
            self._queue.clear()
            self._cut()

    def set_volume(self, level: int) -> int:
        self.volume = max(1, min(VOLUME_LEVELS, int(level)))
        return self.volume

    def louder(self) -> int:
        return self.set_volume(self.volume + 1)

    def quieter(self) -> int:
        return self.set_volume(self.volume - 1)

    def reset(self) -> None:
        """A new traveller: silence, nothing to repeat, not paused, the default volume."""
        with self._cond:
            self._queue.clear()
            self._cut()
            self.last = None
            self._paused = False
            self.volume = self.default_volume
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cut()
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """For tests and shutdown: wait until nothing is queued or being spoken."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and self._current is None, timeout)

    # --- the worker ---------------------------------------------------------------------------

    def _replace(self, announcement: Announcement) -> None:
        """(lock held) Drop what is queued, cut what is spoken, queue `announcement`."""
        self._queue.clear()
        self._cut()
        self._queue.extend(announcement.parts)
        self._tag = announcement.tag
        self._paused = False
        self._cond.notify_all()

    def _cut(self) -> None:
        if self._current is not None:
            self._current.stopped.set()

    def _run(self) -> None:
        speaking: str | None = None
        while True:
            with self._cond:
                while not self._closed and (not self._queue or self._paused):
                    if speaking is not None and not self._queue:
                        break
                    self._cond.wait()
                if self._closed:
                    return
                if not self._queue or self._paused:
                    utterance, tag = None, None
                else:
                    utterance, tag = self._queue.popleft(), self._tag
                    self._current = control = Control()
            if utterance is None:  # the queue ran dry: say so once
                speaking = None
                self._notify(None)
                continue
            if tag != speaking:
                speaking = tag
                self._notify(tag)
            try:
                self.backend.speak(utterance, voice_for(utterance.language), self.volume, self.rate, control)
            except Exception:  # a backend's failure costs that utterance, never the worker
                log.exception("could not speak %r", utterance.text[:60])
            with self._cond:
                self._current = None
                self._cond.notify_all()

    def _notify(self, tag: str | None) -> None:
        if self.on_speaking is not None:
            try:
                self.on_speaking(tag)
            except Exception:
                log.exception("the speech state callback failed")
