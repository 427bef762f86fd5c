"""Retry pacing shared by downloads, the event push and the scheduler's probes."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: many kiosks coming back at once spread out."""
    return rng.uniform(0, min(cap, base * (2 ** max(attempt - 1, 0))))
