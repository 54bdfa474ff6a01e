"""When a failed callback is tried again, and when it is given up (dead-lettered).

Delays grow 10 s, 30 s, 1 min, 2 min, 5 min, 10 min, 20 min, 40 min, then stay at the
1 h cap; each is jittered by ±20 % so that the heads of many e-cards that failed
together (a channel went down) do not come back in one burst. With the default limit
of 30 attempts a notification is retried for about 22 hours (1 h 19 min for the first
nine, then hourly): a channel down for a night still gets everything. A channel down
for an hour does not wait up to another hour once it is back: the first callback that
gets through (a retry, or a new notification, tried at once) wakes every notification
of that channel that had failed to connect (see ``worker.py``).
"""

from __future__ import annotations

import random

BASE_DELAYS_S = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 2400.0)
MAX_DELAY_S = 3600.0
DEFAULT_MAX_ATTEMPTS = 30
JITTER = 0.2


class RetrySchedule:
    def __init__(self, max_attempts: int = DEFAULT_MAX_ATTEMPTS, *,
                 rng: random.Random | None = None, cap_s: float = MAX_DELAY_S) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.max_attempts = max_attempts
        self.cap_s = cap_s
        self._rng = rng or random.Random()  # noqa: S311  (timing jitter, not a secret)

    def base_delay_s(self, failures: int) -> float:
        """The un-jittered delay after the ``failures``-th failure in a row (1-based)."""
        if failures < 1:
            raise ValueError("failures counts from 1")
        if failures <= len(BASE_DELAYS_S):
            return min(BASE_DELAYS_S[failures - 1], self.cap_s)
        return self.cap_s

    def delay_s(self, failures: int) -> float:
        return min(self.cap_s, self._add_jitter(self.base_delay_s(failures)))

    def _add_jitter(self, seconds: float) -> float:
        """The one place randomness enters: ``seconds`` ± ``JITTER``."""
        return seconds * self._rng.uniform(1.0 - JITTER, 1.0 + JITTER)

    def exhausted(self, failures: int) -> bool:
        """True once ``failures`` attempts since the last (re)delivery all failed."""
        return failures >= self.max_attempts
