"""Аналитика: one row per day plus "top models and median price this week" (bot-owned tab).

The figures are counted from the tables' by-day indexes (``carsbot.adapters.db.daily``: posts by
``received_at``, listings by ``created_at`` and ``published_at``, RUB payments by ``credited_at``), one
query per day of the window, so a computation reads the last ``DAYS`` days' items whatever the tables'
history; users (new per day, active subscribers) come from the list the sync has read anyway, and each
channel's posts received from its counter. A computation runs at most every ``REFRESH`` (10 minutes); the
syncs in between use the last one, stored in the StateTable (``sheets#analytics``). Only the last
``DAYS`` days are rewritten; older rows stay as they were written.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from carsbot.adapters.db import daily
from carsbot.adapters.db.base import day_of
from carsbot.adapters.db.models import ChannelModel, StateModel
from carsbot.adapters.db.users import UserModel
from carsbot.core.subscriptions import is_active
from carsbot.sheets.grid import Plan, TabView
from carsbot.sheets.layout import ANALYTICS, TOP_ROWS

KEY = "sheets#analytics"
REFRESH = timedelta(minutes=10)
DAYS = 7
FIELDS = [c.key for c in ANALYTICS.columns if c.key != "date"]


def _day(value: datetime | None) -> str | None:
    return day_of(value) if value else None


def compute(users: Iterable[UserModel], now: datetime) -> dict[str, Any]:
    """Daily rows (last ``DAYS`` days), the week's top models and posts per channel (all time)."""
    days = [(now - timedelta(days=i)).strftime("%Y-%m-%d") for i in range(DAYS - 1, -1, -1)]
    since = datetime.fromisoformat(days[0]).replace(tzinfo=UTC)
    until = since + timedelta(days=DAYS) - timedelta(microseconds=1)  # the whole of today
    rows: dict[str, Counter[str]] = {d: Counter() for d in days}

    def count(when: datetime | None, name: str, amount: int = 1) -> None:
        day = _day(when)
        if day in rows:
            rows[day][name] += amount

    for post in daily.posts(since, until):
        for name in daily.post_figures(post):
            count(post.received_at, name)
    week: dict[str, list[int]] = defaultdict(list)
    for listing in daily.listings_created(since, until):
        count(listing.created_at, "listings")
        if listing.brand and listing.model:
            week[f"{listing.brand} {listing.model}"].append(int(listing.price or 0))
    for listing in daily.listings_published(since, until):
        count(listing.published_at, "published")
    for user in users:
        count(user.registered_at, "new_users")
    rows[days[-1]]["active_subs"] = sum(1 for u in users if is_active(u.subscription_end, now))
    for payment in daily.payments(since, until):
        if payment.currency == "RUB":
            try:
                count(payment.credited_at, "revenue", int(Decimal(payment.amount)))
            except (InvalidOperation, TypeError):
                continue
    channel_ids = [
        int(c.channel_id) for c in ChannelModel.scan(attributes_to_get=["ref", "channel_id"]) if c.channel_id
    ]
    top = sorted(week.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:TOP_ROWS]
    return {
        "computed_at": now.isoformat(),
        "rows": {d: dict(c) for d, c in rows.items()},
        "top": [
            [name, len(prices), int(statistics.median([p for p in prices if p] or [0]))]
            for name, prices in top
        ],
        "posts_seen": {str(k): v for k, v in daily.posts_seen(channel_ids).items()},
    }


def load_or_refresh(
    users: Iterable[UserModel], contacts_today: int, now: datetime, force: bool = False
) -> dict[str, Any]:
    try:
        stored = dict(StateModel.get(KEY, consistent_read=True).data or {})
    except StateModel.DoesNotExist:
        stored = {}
    fresh = stored.get("computed_at") and now - datetime.fromisoformat(stored["computed_at"]) < REFRESH
    data = stored if fresh and not force else compute(list(users), now)
    today = now.strftime("%Y-%m-%d")
    data.setdefault("rows", {}).setdefault(today, {})["contacts"] = contacts_today
    if data is not stored or stored.get("rows", {}).get(today, {}).get("contacts") != contacts_today:
        StateModel(KEY, data=data).save()
    return data


def contact_requests_today(users: Iterable[UserModel], now: datetime) -> int:
    """Contact requests since midnight: the users' running totals minus the totals at the day's start."""
    total = sum(int(u.contact_requests or 0) for u in users)
    key = f"sheets#contacts#{now.strftime('%Y-%m-%d')}"
    try:
        start = int(StateModel.get(key, consistent_read=True).counter or 0)
    except StateModel.DoesNotExist:
        item = StateModel(key, counter=total, expires_at=now + timedelta(days=3))
        item.save()
        start = total
    return max(0, total - start)


def write(view: TabView, plan: Plan, data: dict[str, Any]) -> None:
    rows_at = {view.get(r, "date"): r for r in view.data_rows() if view.get(r, "date")}
    for day, counts in sorted(data.get("rows", {}).items()):
        values = {name: int(counts.get(name, 0)) for name in FIELDS}
        row = rows_at.get(day)
        if row is None:
            plan.append(day, {"date": day, **values})
        else:
            for name, value in values.items():
                plan.set(day, row, name, value)
    top = data.get("top", [])
    for index in range(TOP_ROWS):  # the side block: fixed rows 2..11, keyed by position
        entry: list[Any] = list(top[index]) if index < len(top) else ["", "", ""]
        for key, value in zip(("top_model", "top_count", "top_median"), entry, strict=True):
            plan.set_side(index + 1, key, value)
