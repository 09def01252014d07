"""Rate limits shared by every invocation: sliding logs in the state table.

A :class:`Window` is a named bucket: at most ``limit`` units in *any* ``seconds``-long span. Its state is
one item (``ratelimit#<name>``) holding the time stamps of the units admitted during the last
``seconds`` (an album of ``n`` messages is ``n`` stamps) and a version number. A request of ``n`` units
is admitted when ``live stamps + n <= limit``; the new log is written conditionally on the version it
was computed from, so concurrent invocations never overshoot (the loser re-reads and decides again).

The log is exact where a counter per fixed window is not: fixed windows let ``2 * limit`` through
across a boundary, and the usual "previous window weighted by the time left" estimate still lets a
burst at the end of one window be followed by most of a second one (up to ~``2 * limit`` in 60 s).
Logs stay small (``limit`` stamps: 20 for the news channel, 30 for the bot overall).

A limiter may hold several windows (the bot's alert fan-out: ``Window("alerts", 30, 1)`` overall and
``Window(f"chat#{chat_id}", 1, 1)`` per chat): a request is admitted only when every window admits it,
and all logs are written in one DynamoDB transaction.

    limiter = SlidingWindowLimiter(Window("@news", 20, 60))
    limiter.acquire(3, max_wait=25)   # waits (sleeps) up to 25 s, else raises RateLimitExceeded
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from carsbot.adapters.db.conditions import is_conditional_failure
from carsbot.adapters.db.models import StateModel
from carsbot.adapters.db.transactions import transact_write

KEY_PREFIX = "ratelimit"
SLACK = 0.05  # seconds added to computed waits (clock skew between invocations)
TTL_SPANS = 3  # a log nobody writes to any more is deleted this many window spans after its last write


@dataclass(frozen=True)
class Window:
    """At most ``limit`` units in any ``seconds``, counted under ``name``."""

    name: str
    limit: int
    seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.limit < 1 or self.seconds <= 0:
            raise ValueError(f"window {self.name!r} needs limit >= 1 and seconds > 0")

    @property
    def key(self) -> str:
        return f"{KEY_PREFIX}#{self.name}"


class RateLimitExceeded(Exception):
    """The windows do not open within the allowed wait; ``retry_after`` says when they should."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Log:
    window: Window
    version: int | None  # None: no item yet
    live: list[float]  # stamps inside the window, oldest first

    def admits(self, n: int) -> bool:
        return len(self.live) + n <= self.window.limit

    def wait(self, now: float, n: int) -> float:
        """Seconds until ``n`` more units fit (if no one else takes any)."""
        excess = len(self.live) + n - self.window.limit
        if excess <= 0:
            return 0.0
        return max(SLACK, self.live[excess - 1] + self.window.seconds - now + SLACK)


def _stamps(data: object) -> list[float]:
    items = data.get("stamps") if isinstance(data, dict) else None
    return [float(s) for s in items or () if isinstance(s, int | float)]


class SlidingWindowLimiter:
    """Admits requests while every window has room; ``clock``/``sleep`` are injectable for tests."""

    def __init__(
        self,
        *windows: Window,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not windows:
            raise ValueError("a limiter needs at least one window")
        if len({w.name for w in windows}) != len(windows):
            raise ValueError("window names must differ")
        self.windows = windows
        self._clock = clock
        self._sleep = sleep

    @property
    def capacity(self) -> int:
        """The largest request that can ever be admitted."""
        return min(w.limit for w in self.windows)

    def _logs(self, now: float) -> list[_Log]:
        stored = {
            item.pk: item
            for item in StateModel.batch_get([w.key for w in self.windows], consistent_read=True)
        }
        logs = []
        for w in self.windows:
            item = stored.get(w.key)
            stamps = _stamps(item.data) if item is not None else []
            live = sorted(s for s in stamps if now - w.seconds < s <= now + w.seconds)
            logs.append(_Log(w, int(item.version or 0) if item is not None else None, live))
        return logs

    def in_use(self) -> dict[str, int]:
        """Units admitted during each window's last span, by window name (for operators and tests)."""
        now = self._clock()
        return {log.window.name: sum(1 for s in log.live if s <= now) for log in self._logs(now)}

    def _write(self, logs: list[_Log], n: int, now: float) -> bool:
        """Append ``n`` stamps to every log unless one changed since it was read; False if one did."""
        stamp = datetime.fromtimestamp(now, UTC)

        def actions(log: _Log) -> list[Action]:
            expires = datetime.fromtimestamp(now + TTL_SPANS * log.window.seconds + 60, UTC)
            return [
                StateModel.data.set({"stamps": [*log.live, *([now] * n)]}),
                StateModel.version.set((log.version or 0) + 1),
                StateModel.expires_at.set(expires),
                StateModel.updated_at.set(stamp),
            ]

        def condition(log: _Log) -> Condition:
            if log.version is None:
                return StateModel.pk.does_not_exist()
            return StateModel.version == log.version

        try:
            if len(logs) == 1:
                (log,) = logs
                StateModel(log.window.key).update(actions=actions(log), condition=condition(log))
            else:
                with transact_write() as transaction:
                    for log in logs:
                        transaction.update(
                            StateModel(log.window.key), actions=actions(log), condition=condition(log)
                        )
        except (UpdateError, TransactWriteError) as exc:
            if not is_conditional_failure(exc):
                raise
            return False
        return True

    def acquire(self, n: int = 1, *, max_wait: float = 0.0) -> float:
        """Reserve ``n`` units in every window, waiting up to ``max_wait`` seconds; returns the time waited.

        ``n`` is capped at the smallest limit (an album larger than the window still goes out, alone).
        Raises ``RateLimitExceeded`` (with ``retry_after``) when the windows do not open in time.
        """
        n = min(max(1, n), self.capacity)
        waited = 0.0
        while True:
            now = self._clock()
            logs = self._logs(now)
            if all(log.admits(n) for log in logs):
                if self._write(logs, n, now):
                    return waited
                continue  # another invocation wrote first: decide again on what it left
            wait = max(log.wait(now, n) for log in logs)
            if waited + wait > max_wait:
                full = [log.window for log in logs if not log.admits(n)]
                names = ", ".join(f"{w.name} ({w.limit} per {w.seconds:g} s)" for w in full)
                raise RateLimitExceeded(f"rate limit reached: {names}", retry_after=wait)
            self._sleep(wait)
            waited += wait
