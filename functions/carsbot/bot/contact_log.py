"""Contact requests: who opened which listing's contacts, and the daily anti-scraping allowance.

Reading decides (``access``): an active subscription, then "opened before" (free to reopen), then
today's count against the cap. Writing happens only after the card was sent (``record``), as one
DynamoDB transaction: the request row (``attribute_not_exists``: once per user and listing), today's
counter (conditional on staying within the cap) and the user's total. A Bot API or DynamoDB failure
before that leaves nothing written; a lost race (a double tap, a parallel request past the cap) writes
nothing either. Seller contacts are never logged here or anywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from carsbot.adapters.db.bot import BotStateModel, ContactRequestModel
from carsbot.adapters.db.conditions import is_conditional_failure
from carsbot.adapters.db.transactions import transact_write
from carsbot.adapters.db.users import UserModel
from carsbot.core.entitlements import ContactAccess, contact_access, day_key, next_day_start
from carsbot.observability import add_metric, logger


def _counter_key(user_id: int, day: str) -> str:
    return f"contacts#{user_id}#{day}"


def opened_before(user_id: int, listing_id: str) -> bool:
    try:
        ContactRequestModel.get(user_id, listing_id, consistent_read=True)
    except DoesNotExist:
        return False
    return True


def opened_today(user_id: int, now: datetime) -> int:
    try:
        return int(BotStateModel.get(_counter_key(user_id, day_key(now)), consistent_read=True).counter or 0)
    except DoesNotExist:
        return 0


def access(user: UserModel | None, listing_id: str, now: datetime, daily_cap: int) -> ContactAccess:
    end = user.subscription_end if user is not None else None
    if user is None:
        return contact_access(None, now, already_opened=False, opened_today=0, daily_cap=daily_cap)
    user_id = int(user.user_id)
    before = opened_before(user_id, listing_id)
    today = 0 if before else opened_today(user_id, now)
    return contact_access(end, now, already_opened=before, opened_today=today, daily_cap=daily_cap)


def record(user_id: int, listing_id: str, now: datetime, daily_cap: int) -> bool:
    """Count a sent card (once per user and listing, within the cap); False when nothing was written."""
    day = day_key(now)
    counter = BotStateModel(_counter_key(user_id, day))
    try:
        with transact_write() as tx:
            tx.save(
                ContactRequestModel(user_id, listing_id, day=day, requested_at=now),
                condition=ContactRequestModel.listing_id.does_not_exist(),
            )
            tx.update(
                counter,
                actions=[
                    BotStateModel.counter.add(1),
                    BotStateModel.updated_at.set(now),
                    BotStateModel.expires_at.set(next_day_start(now) + timedelta(days=2)),
                ],
                condition=BotStateModel.counter.does_not_exist() | (BotStateModel.counter < daily_cap),
            )
            tx.update(
                UserModel(user_id),
                actions=[UserModel.contact_requests.add(1), UserModel.updated_at.set(now)],
            )
    except TransactWriteError as exc:
        if not is_conditional_failure(exc):
            raise
        logger.info(
            "contact request not counted (already logged or over the cap)", extra={"user_id": user_id}
        )
        return False
    add_metric("ContactRequests")
    return True


def requests_on(day: str) -> int:
    """How many contact requests were first made on ``day`` (admin statistics)."""
    return sum(1 for _ in ContactRequestModel.by_day.query(day))


def today(now: datetime | None = None) -> str:
    return day_key(now or datetime.now(UTC))
