"""Аналитика: one row per day plus "top models and median price this week" (bot-owned tab).

The figures are counted from the tables themselves (posts by ``received_at``, listings by
``created_at``, users by ``registered_at``, credited RUB orders by ``credited_at``), projected to the few
attributes needed. Scans read whole tables, so they run at most every ``REFRESH`` (10 minutes) and the
rows in between come from the last computation stored in the StateTable (``sheets#analytics``); the
Фильтры/Каналы/Подписчики part of the sync stays cheap every minute. Only the last ``DAYS`` days are
rewritten; older rows stay as they were written.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from carsbot.adapters.db.models import ListingModel, PostModel, StateModel
from carsbot.adapters.db.orders import OrderModel
from carsbot.adapters.db.users import UserModel
from carsbot.core.subscriptions import is_active
from carsbot.sheets.grid import Plan, TabView
from carsbot.sheets.layout import ANALYTICS, TOP_ROWS

KEY = "sheets#analytics"
REFRESH = timedelta(minutes=10)
DAYS = 7
FIELDS = [c.key for c in ANALYTICS.columns if c.key != "date"]


def _day(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%d") if value else None


def compute(users: Iterable[UserModel], now: datetime) -> dict[str, Any]:
    """Daily rows (last ``DAYS`` days), the week's top models and posts per channel (all time)."""
    days = [(now - timedelta(days=i)).strftime("%Y-%m-%d") for i in range(DAYS - 1, -1, -1)]
    rows: dict[str, Counter[str]] = {d: Counter() for d in days}
    per_channel: Counter[int] = Counter()
    for post in PostModel.scan(attributes_to_get=["post_id", "channel_id", "status", "received_at"]):
        per_channel[int(post.channel_id)] += 1
        day = _day(post.received_at)
        if day in rows:
            rows[day]["posts"] += 1
            if post.status == "rejected":
                rows[day]["rejected"] += 1
            elif post.status == "duplicate":
                rows[day]["duplicates"] += 1
    week: dict[str, list[int]] = defaultdict(list)
    week_start = days[0]
    attrs = ["listing_id", "brand", "model", "price", "status", "created_at", "published_at"]
    for listing in ListingModel.scan(attributes_to_get=attrs):
        day = _day(listing.created_at)
        if day in rows:
            rows[day]["listings"] += 1
        published = _day(listing.published_at)
        if published in rows:
            rows[published]["published"] += 1
        if day and day >= week_start and listing.brand and listing.model:
            week[f"{listing.brand} {listing.model}"].append(int(listing.price or 0))
    for user in users:
        day = _day(user.registered_at)
        if day in rows:
            rows[day]["new_users"] += 1
    active = sum(1 for u in users if is_active(u.subscription_end, now))
    rows[days[-1]]["active_subs"] = active
    for order in OrderModel.scan(attributes_to_get=["order_id", "amount", "currency", "credited_at"]):
        day = _day(order.credited_at)
        if day in rows and order.currency == "RUB":
            try:
                rows[day]["revenue"] += int(Decimal(order.amount))
            except (InvalidOperation, TypeError):
                continue
    top = sorted(week.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:TOP_ROWS]
    return {
        "computed_at": now.isoformat(),
        "rows": {d: dict(c) for d, c in rows.items()},
        "top": [
            [name, len(prices), int(statistics.median([p for p in prices if p] or [0]))]
            for name, prices in top
        ],
        "posts_seen": {str(k): v for k, v in per_channel.items()},
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
