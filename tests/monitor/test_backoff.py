"""The one backoff policy (carsbot.core.backoff) the monitor uses for every retry."""

from __future__ import annotations

import random

import pytest

from carsbot.core.backoff import Backoff


def test_doubles_from_base_up_to_cap() -> None:
    policy = Backoff(base=0.5, cap=3.0)
    assert [policy.delay(n) for n in range(0, 7)] == [0.0, 0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert policy.delay(10_000) == 3.0  # no overflow however long the failures go on


def test_jitter_stays_within_band_reproducible() -> None:
    policy = Backoff(base=2.0, cap=300.0, jitter=0.2, rng=random.Random(7))
    delays = [policy.delay(3) for _ in range(200)]
    assert all(6.4 <= d <= 9.6 for d in delays)  # 8 s +- 20 %
    assert len(set(delays)) > 100  # really spread, not one value
    again = Backoff(base=2.0, cap=300.0, jitter=0.2, rng=random.Random(7))
    assert [again.delay(3) for _ in range(200)] == delays


def test_cap_applies_before_jitter() -> None:
    policy = Backoff(base=1.0, cap=10.0, jitter=0.5, rng=random.Random(1))
    assert all(5.0 <= policy.delay(20) <= 15.0 for _ in range(100))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base": -1, "cap": 1},
        {"base": 1, "cap": -1},
        {"base": 1, "cap": 2, "factor": 0.5},
        {"base": 1, "cap": 2, "jitter": 1.0},
    ],
)
def test_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)  # type: ignore[arg-type]
