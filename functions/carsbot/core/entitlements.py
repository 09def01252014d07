"""Who may see a seller's contacts (PRODUCT.md §20-21). Pure, no SDK.

A contact card is shown only to an active subscriber, and at most ``daily_cap`` *new* cards a day (a
listing already opened before opens again without counting), so nobody scrapes the contacts base.
Days are Moscow calendar days (UTC+3, no DST since 2014): the cap resets at midnight for the reader.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum

from carsbot.core.subscriptions import is_active

MOSCOW = timezone(timedelta(hours=3), "MSK")


class ContactAccess(StrEnum):
    GRANTED = "granted"  # show the card (and count it when it is a new listing for this user)
    REOPEN = "reopen"  # show the card again, not counted
    PAYWALL = "paywall"  # no active subscription: teaser and plans
    DAILY_CAP = "daily_cap"  # active, but today's allowance of new cards is used up


def day_key(now: datetime) -> str:
    """The counting day of ``now``: ``"YYYY-MM-DD"`` in Moscow time."""
    return now.astimezone(MOSCOW).strftime("%Y-%m-%d")


def next_day_start(now: datetime) -> datetime:
    """When the next counting day starts (UTC), e.g. for the counter's TTL."""
    local = now.astimezone(MOSCOW)
    midnight = datetime(local.year, local.month, local.day, tzinfo=MOSCOW) + timedelta(days=1)
    return midnight.astimezone(UTC)


def contact_access(
    subscription_end: datetime | None,
    now: datetime,
    *,
    already_opened: bool,
    opened_today: int,
    daily_cap: int,
) -> ContactAccess:
    if not is_active(subscription_end, now):
        return ContactAccess.PAYWALL
    if already_opened:
        return ContactAccess.REOPEN
    if opened_today >= daily_cap:
        return ContactAccess.DAILY_CAP
    return ContactAccess.GRANTED
