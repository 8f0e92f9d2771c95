"""Capped exponential back-off with jitter, for signing in again and restarting a bot."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass
class Backoff:
    """``first`` seconds after the first failure, doubling up to ``cap``; each delay is
    spread by up to ``jitter`` (a fraction) either way so that accounts failing together
    (a server down) do not all come back in the same second."""

    first: float = 1.0
    cap: float = 60.0
    jitter: float = 0.2
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, failures: int) -> float:
        """The pause after ``failures`` failures in a row (1 for the first)."""
        # the exponent stops growing long after the cap is reached (2.0 ** 1024 overflows)
        base = min(self.cap, self.first * 2.0 ** min(max(0, failures - 1), 64))
        spread = base * self.jitter * (2 * self.rng.random() - 1)
        return max(0.0, min(self.cap, base + spread))
