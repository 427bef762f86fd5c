"""Read aloud: the text of a step spoken by espeak-ng, when it is installed, in the step's language."""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading

log = logging.getLogger(__name__)

ESPEAK_VOICES = {"zh": "cmn", "en": "en-gb"}


class Speech:
    def __init__(self):
        self.available = shutil.which("espeak-ng") is not None
        self._speech: subprocess.Popen | None = None

    def say(self, text: str, language: str) -> None:
        self.stop()
        voice = ESPEAK_VOICES.get(language, language)
        threading.Thread(target=self._speak, args=(text, voice), daemon=True, name="speech").start()

    def _speak(self, text: str, voice: str) -> None:
        try:
            self._speech = subprocess.Popen(["espeak-ng", "-v", voice, text], stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL)
            self._speech.wait(timeout=120)
        except (OSError, subprocess.SubprocessError):  # no speaker, no espeak: stay silent
            log.info("read-aloud unavailable", exc_info=True)

    def stop(self) -> None:
        proc, self._speech = self._speech, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
