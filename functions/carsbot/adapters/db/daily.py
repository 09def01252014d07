"""Daily figures read through the by-day indexes: one query per UTC day, never a table scan.

The posts and listings tables keep every item for good, so a scan for "the last seven days" would read
(and pay for) their whole history every time. Their ``by-received-day``, ``by-created-day`` and
``by-published-day`` indexes (and the payments table's ``by-day``) are keyed by the UTC day and sorted by
the timestamp, so a window ``[since, until]`` is one query per day it touches, reading only its items.
The items come back projected (docs/data-model.md lists what each index holds).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, TypeVar

from carsbot.adapters.db.base import day_of
from carsbot.adapters.db.models import ListingModel, PostModel, StateModel
from carsbot.adapters.db.orders import PaymentModel
from carsbot.adapters.db.posts import posts_seen_key
from carsbot.core.states import PostStatus

T = TypeVar("T")


def days(since: datetime, until: datetime) -> list[str]:
    """The UTC days ``[since, until]`` touches, oldest first ("2025-01-31")."""
    out = []
    day = datetime.fromisoformat(day_of(since))
    while (key := day.strftime("%Y-%m-%d")) <= day_of(until):
        out.append(key)
        day += timedelta(days=1)
    return out


def _window(query: Callable[..., Iterable[T]], at: Any, since: datetime, until: datetime) -> Iterator[T]:
    for day in days(since, until):
        yield from query(day, range_key_condition=at.between(since, until))


def posts(since: datetime, until: datetime) -> Iterator[PostModel]:
    """Posts received in ``[since, until]``: ``received_at``, ``status`` and ``channel_id``."""
    return _window(PostModel.by_received_day.query, PostModel.received_at, since, until)


def post_figures(post: PostModel) -> tuple[str, ...]:
    """The daily figures a received post counts in: "posts", and "rejected" or "duplicates" by its status."""
    if post.status == PostStatus.REJECTED:
        return ("posts", "rejected")
    if post.status == PostStatus.DUPLICATE:
        return ("posts", "duplicates")
    return ("posts",)


def listings_created(since: datetime, until: datetime) -> Iterator[ListingModel]:
    """Listings created in ``[since, until]``: ``created_at``, ``brand``, ``model``, ``price``, ``status``."""
    return _window(ListingModel.by_created_day.query, ListingModel.created_at, since, until)


def listings_published(since: datetime, until: datetime) -> Iterator[ListingModel]:
    """Listings published in ``[since, until]``: their ids and ``published_at``."""
    return _window(ListingModel.by_published_day.query, ListingModel.published_at, since, until)


def payments(since: datetime, until: datetime) -> Iterator[PaymentModel]:
    """Payments credited in ``[since, until]`` (every attribute: the index projects all)."""
    return _window(PaymentModel.by_day.query, PaymentModel.credited_at, since, until)


def posts_seen(channel_ids: Iterable[int]) -> dict[int, int]:
    """Posts received so far from each channel (its ``posts-seen#`` counter; absent: none yet)."""
    keys = {posts_seen_key(channel_id): int(channel_id) for channel_id in channel_ids}
    return {keys[item.pk]: int(item.counter or 0) for item in StateModel.batch_get(list(keys))}
