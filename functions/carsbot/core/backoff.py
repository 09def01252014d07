"""One retry backoff policy: capped exponential delays with optional jitter (pure: no I/O, no clock).

``Backoff(base, cap).delay(attempt)`` is ``min(cap, base * factor ** (attempt - 1))`` for the
``attempt``-th consecutive failure (1-based; ``attempt <= 0`` waits nothing), then multiplied by a
random factor in ``[1 - jitter, 1 + jitter]`` so that many retriers do not wake up together. The cap
applies before the jitter. The random source is injectable (``random.Random(seed)``) for tests.

Used by the monitor (reconnects, channel re-reads, edit/deletion retries, join/resolve retries,
checkpoint writes) and available to anything else that retries a flaky service.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Backoff"]

# 2 ** 60 seconds is far beyond any cap; bounding the exponent keeps the arithmetic finite.
_MAX_EXPONENT = 60


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff. ``delay(n)``: seconds to wait after the ``n``-th failure in a row."""

    base: float
    cap: float
    factor: float = 2.0
    jitter: float = 0.0
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.base < 0 or self.cap < 0:
            raise ValueError("backoff base and cap must not be negative")
        if self.factor < 1:
            raise ValueError("backoff factor must be at least 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("backoff jitter must be in [0, 1)")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the ``attempt``-th consecutive failure (0 for ``attempt <= 0``)."""
        if attempt <= 0:
            return 0.0
        exponent = min(attempt - 1, _MAX_EXPONENT)
        seconds = min(self.cap, self.base * self.factor**exponent)
        if self.jitter:
            seconds *= self.rng.uniform(1.0 - self.jitter, 1.0 + self.jitter)
        return seconds
