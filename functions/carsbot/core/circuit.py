"""A consecutive-failure circuit breaker (pure: no I/O, an injectable clock).

closed -> open (``cooldown`` s) -> half-open (one probe at a time) -> closed on success, open again on
failure. The LLM engine keeps one per (endpoint, model) per process; anything else that calls a flaky
service (the bot's alerts, payments' API) can use the same class.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["DEFAULT_COOLDOWN", "DEFAULT_FAILURES", "CircuitBreaker"]

DEFAULT_FAILURES = 3
DEFAULT_COOLDOWN = 60.0


class CircuitBreaker:
    """Consecutive-failure circuit breaker: closed -> open (``cooldown`` s) -> half-open (one probe).

    ``record_failure(retry_after=...)`` keeps the breaker open at least as long as the server asked, and
    opens it at once when the server asks for a pause of ``cooldown`` or longer. Thread-safe.
    """

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"

    def __init__(
        self,
        failure_threshold: int = DEFAULT_FAILURES,
        cooldown: float = DEFAULT_COOLDOWN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = max(1, failure_threshold)
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._open_until is None:
            return self.CLOSED
        if self._clock() < self._open_until:
            return self.OPEN
        return self.HALF_OPEN

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def seconds_until_probe(self) -> float:
        with self._lock:
            if self._open_until is None:
                return 0.0
            return max(0.0, self._open_until - self._clock())

    def allow(self) -> bool:
        """Whether a call may be made now (in half-open state only one probe at a time)."""
        with self._lock:
            state = self._state()
            if state == self.CLOSED:
                return True
            if state == self.OPEN or self._probing:
                return False
            self._probing = True
            return True

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._open_until = None
            self._probing = False

    def record_failure(self, retry_after: float | None = None) -> None:
        with self._lock:
            self._failures += 1
            was_probe = self._probing
            self._probing = False
            pause = retry_after or 0.0
            if was_probe or self._failures >= self.failure_threshold:
                self._open_until = self._clock() + max(self.cooldown, pause)
            elif pause >= self.cooldown:
                self._open_until = self._clock() + pause
