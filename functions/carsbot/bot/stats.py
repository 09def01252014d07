"""Admin statistics (``/stats``): today (Moscow day) and the last 7 days.

Posts and listings come from their tables' by-day indexes (``carsbot.adapters.db.daily``: one query per
UTC day of the window, never a scan of their whole history), new users from a filtered, projected scan of
the users table (it grows with the users, not with time; an admin command, run by hand), contact requests
by the ``by-day`` index, active subscribers by the ``by-subscription-end`` index (a range query). Revenue
comes from the payments records through an injected ``revenue(since, until) -> RUB`` (``None`` until
wired).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from carsbot.adapters.db import daily
from carsbot.adapters.db.bot import ContactRequestModel
from carsbot.adapters.db.users import SUB_BUCKET, UserModel
from carsbot.core.entitlements import MOSCOW, day_key

Revenue = Callable[[datetime, datetime], int | None]


@dataclass
class Period:
    posts: int = 0
    listings: int = 0
    published: int = 0
    rejected: int = 0
    duplicates: int = 0
    new_users: int = 0
    contact_requests: int = 0
    revenue: int | None = None


@dataclass
class Stats:
    today: Period = field(default_factory=Period)
    week: Period = field(default_factory=Period)
    active_subscribers: int = 0


def _day_start(now: datetime) -> datetime:
    local = now.astimezone(MOSCOW)
    return datetime(local.year, local.month, local.day, tzinfo=MOSCOW)


def collect(now: datetime, revenue: Revenue | None = None) -> Stats:
    today_start = _day_start(now)
    week_start = now - timedelta(days=7)
    stats = Stats()

    def add(when: datetime | None, name: str) -> None:
        if when is None:
            return
        if when >= week_start:
            setattr(stats.week, name, getattr(stats.week, name) + 1)
        if when >= today_start:
            setattr(stats.today, name, getattr(stats.today, name) + 1)

    for post in daily.posts(week_start, now):
        for name in daily.post_figures(post):
            add(post.received_at, name)
    for listing in daily.listings_created(week_start, now):
        add(listing.created_at, "listings")
    for listing in daily.listings_published(week_start, now):
        add(listing.published_at, "published")
    for user in UserModel.scan(
        filter_condition=UserModel.registered_at >= week_start, attributes_to_get=["user_id", "registered_at"]
    ):
        add(user.registered_at, "new_users")
    for offset in range(7):
        day = day_key(now - timedelta(days=offset))
        count = sum(1 for _ in ContactRequestModel.by_day.query(day))
        if offset == 0:
            stats.today.contact_requests = count
        stats.week.contact_requests += count
    stats.active_subscribers = sum(
        1 for _ in UserModel.by_subscription_end.query(SUB_BUCKET, UserModel.subscription_end > now)
    )
    if revenue is not None:
        stats.today.revenue = revenue(today_start, now)
        stats.week.revenue = revenue(week_start, now)
    return stats
