"""The shared sliding-window rate limiter (state table on the moto server), with a controllable clock."""

from __future__ import annotations

import threading

import pytest

from carsbot.adapters.db import StateModel
from carsbot.adapters.ratelimit import RateLimitExceeded, SlidingWindowLimiter, Window
from carsbot_dev.local.stack import LocalStack

BOUNDARY = 1_800_000_000.0  # a multiple of 60: a minute (and a second) boundary


class Clock:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


def most_in_any_span(stamps: list[float], span: float) -> int:
    return max(sum(1 for s in stamps if t - span < s <= t) for t in stamps)


def test_sliding_window_across_minute_boundary(aws: LocalStack) -> None:
    # 20 a minute, starting half-way through a minute: a fixed window would let 20 more through at the
    # boundary, 30 s later (40 in 60 s). The sliding window holds any 60 s span to 20.
    clock = Clock(BOUNDARY - 30)
    limiter = SlidingWindowLimiter(Window("@news", 20, 60), clock=clock, sleep=clock.sleep)
    admitted: list[float] = []
    for _ in range(40):
        limiter.acquire(1, max_wait=120)
        admitted.append(clock.now)

    assert admitted[:20] == [BOUNDARY - 30] * 20  # the first 20 go at once
    assert admitted[20] > BOUNDARY + 1  # the 21st does not go at the boundary
    assert most_in_any_span(admitted, 60) <= 20
    assert clock.now - admitted[0] >= 60  # 40 messages took more than a minute

    # Just after the boundary, with no wait allowed, the full previous minute still counts.
    fresh = Clock(BOUNDARY - 30)
    other = SlidingWindowLimiter(Window("@other", 20, 60), clock=fresh, sleep=fresh.sleep)
    for _ in range(20):
        other.acquire()
    fresh.now = BOUNDARY + 1
    with pytest.raises(RateLimitExceeded) as full:
        other.acquire()
    assert 0 < full.value.retry_after <= 60


def test_album_counts_as_n_and_log_is_stored(aws: LocalStack) -> None:
    clock = Clock(BOUNDARY)
    limiter = SlidingWindowLimiter(Window("@news", 3, 60), clock=clock, sleep=clock.sleep)
    limiter.acquire(2)
    with pytest.raises(RateLimitExceeded) as full:
        limiter.acquire(2)  # 2 + 2 > 3
    assert full.value.retry_after == pytest.approx(60.05)
    limiter.acquire(1)
    assert limiter.in_use() == {"@news": 3}
    item = StateModel.get("ratelimit#@news")
    assert item.data == {"stamps": [BOUNDARY] * 3} and item.version == 2
    assert item.expires_at is not None and item.expires_at.timestamp() > BOUNDARY + 60
    assert limiter.acquire(10, max_wait=120) > 0  # larger than the window: capped, goes out alone
    assert limiter.in_use() == {"@news": 3}


def test_concurrent_invocations_never_overshoot(aws: LocalStack) -> None:
    clock = Clock(BOUNDARY + 5)
    admitted: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        limiter = SlidingWindowLimiter(Window("@busy", 20, 60), clock=clock, sleep=clock.sleep)
        for _ in range(15):
            try:
                limiter.acquire(1)
            except RateLimitExceeded:
                continue
            with lock:
                admitted.append(1)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == 20  # 45 tries, exactly the limit admitted
    assert len(StateModel.get("ratelimit#@busy").data["stamps"]) == 20


def test_several_windows_global_and_per_chat(aws: LocalStack) -> None:
    # The alert fan-out: 5 a second overall (30 in production) and 1 a second per chat.
    clock = Clock(BOUNDARY)

    def for_chat(chat: int) -> SlidingWindowLimiter:
        return SlidingWindowLimiter(
            Window("alerts", 5, 1), Window(f"chat#{chat}", 1, 1), clock=clock, sleep=clock.sleep
        )

    for_chat(1).acquire()
    with pytest.raises(RateLimitExceeded):
        for_chat(1).acquire()  # the chat's window is full; the global one is not
    for chat in (2, 3, 4, 5):
        for_chat(chat).acquire()
    with pytest.raises(RateLimitExceeded, match="alerts"):
        for_chat(6).acquire()  # the global window is full
    assert for_chat(1).in_use() == {"alerts": 5, "chat#1": 1}  # refused requests took nothing
    assert StateModel.count("ratelimit#chat#6") == 0

    waited = for_chat(1).acquire(max_wait=5)  # waits for both windows to slide
    assert waited == pytest.approx(1.05) and for_chat(1).in_use() == {"alerts": 1, "chat#1": 1}


def test_windows_are_validated() -> None:
    with pytest.raises(ValueError):
        Window("x", 0, 60)
    with pytest.raises(ValueError):
        SlidingWindowLimiter()
    with pytest.raises(ValueError):
        SlidingWindowLimiter(Window("x", 1), Window("x", 2))


def test_interleaved_acquire_never_overshoots(aws: LocalStack) -> None:
    # Invocation A reads the log, then B takes the last slot, then A writes: A's write must fail on the
    # version it read, and A must decide again (and find the window full).
    clock = Clock(BOUNDARY)
    window = Window("@race", 2, 60)
    other = SlidingWindowLimiter(window, clock=clock, sleep=clock.sleep)
    other.acquire()  # the log exists (version 1): A's write is conditional on that version

    class ReadThenRace(SlidingWindowLimiter):
        raced = False

        def _logs(self, now: float):  # type: ignore[no-untyped-def]
            logs = super()._logs(now)
            if not self.raced:
                self.raced = True
                other.acquire()  # B, between A's read and A's write
            return logs

    with pytest.raises(RateLimitExceeded):
        ReadThenRace(window, clock=clock, sleep=clock.sleep).acquire()
    assert other.in_use() == {"@race": 2}
