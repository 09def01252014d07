"""Subscription rules (PRODUCT.md §22): plans, extending, days left, partial refunds. Pure, no SDK.

All datetimes are timezone-aware UTC. A subscription is active while ``now < end``; buying (or being
granted) days while active extends from the current end, never from today:

    extend(current_end, now, days) = max(now, current_end) + days
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_CODE = re.compile(r"^[a-z0-9_]{1,32}$")


@dataclass(frozen=True)
class Plan:
    """A plan a subscriber can buy: ``title`` is what they read (Russian, e.g. "30 дней")."""

    code: str
    title: str
    days: int
    price_rub: int
    stars: int

    def __post_init__(self) -> None:
        if not _CODE.match(self.code):
            raise ValueError(f"plan code {self.code!r} must be 1-32 of a-z 0-9 _")
        if not self.title.strip():
            raise ValueError(f"plan {self.code!r} needs a title")
        if self.days <= 0 or self.price_rub <= 0 or self.stars <= 0:
            raise ValueError(f"plan {self.code!r}: days, price_rub and stars must be positive")


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: subscriptions use timezone-aware UTC datetimes")
    return value.astimezone(UTC)


def extend(current_end: datetime | None, now: datetime, days: int) -> datetime:
    """The new end after adding ``days``: from the current end while active, else from ``now``."""
    if days <= 0:
        raise ValueError("days must be positive")
    now = _utc(now)
    base = max(now, _utc(current_end)) if current_end is not None else now
    return base + timedelta(days=days)


def is_active(end: datetime | None, now: datetime) -> bool:
    return end is not None and _utc(now) < _utc(end)


def days_left(end: datetime | None, now: datetime) -> int:
    """Whole days left, rounded up (an active subscription ending in 3 hours has 1 day left); 0 if ended."""
    if not is_active(end, now):
        return 0
    assert end is not None
    return math.ceil((_utc(end) - _utc(now)).total_seconds() / 86400)


def remove_days(end: datetime | None, days: int, now: datetime) -> datetime | None:
    """The end after taking ``days`` back (a partial refund); ``None`` (revoked) when nothing is left."""
    if end is None:
        return None
    if days <= 0:
        return _utc(end)
    new_end = _utc(end) - timedelta(days=days)
    return new_end if new_end > _utc(now) else None


def refunded_days(plan_days: int, refunded_share: float) -> int:
    """Days to remove for a refund of ``refunded_share`` (0-1] of a plan's price (rounded up)."""
    share = min(1.0, max(0.0, refunded_share))
    return math.ceil(plan_days * share - 1e-9)
