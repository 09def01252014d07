"""Contact requests: who opened which listing's contacts, and the daily anti-scraping allowance.

Reading decides (``lookup`` then ``decide``): an active subscription, then "opened before" (free to
reopen), then today's count against the cap. Everything the decision needs — the listing, whether an admin
hid it, the user's request row for it and today's counter — is one BatchGetItem (the user record itself
was read by the middleware). A new card is reserved *before* it is sent (``reserve``), as one DynamoDB
transaction: the request row (``attribute_not_exists``: once per user and listing), today's counter
(conditional on staying within the cap) and the user's total. So requests fired in parallel can never show
more new cards than the cap: the one that loses the race writes nothing and is decided again on what is
stored. If Telegram then refuses the card, ``release`` takes the reservation back (one transaction), so a
card is counted only if it was sent. Seller contacts are never logged here or anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import cast

from pynamodb.exceptions import TransactWriteError

from carsbot.adapters.db.batch import Key, get_items
from carsbot.adapters.db.bot import BotStateModel, ContactRequestModel, hidden_key
from carsbot.adapters.db.conditions import is_conditional_failure
from carsbot.adapters.db.models import ListingModel
from carsbot.adapters.db.transactions import transact_write
from carsbot.adapters.db.users import UserModel
from carsbot.core.entitlements import ContactAccess, contact_access, day_key, next_day_start
from carsbot.core.subscriptions import is_active
from carsbot.observability import logger


def _counter_key(user_id: int, day: str) -> str:
    return f"contacts#{user_id}#{day}"


@dataclass(frozen=True)
class ContactLookup:
    """What one contacts request reads (in one request)."""

    listing: ListingModel | None  # None: no such listing
    hidden: bool  # an admin hid it from the bot
    opened_before: bool = False  # (active subscribers only) this user's card for it was sent before
    opened_today: int = 0  # (active subscribers only) new cards this user opened today


def lookup(user: UserModel | None, listing_id: str, now: datetime) -> ContactLookup:
    """The listing and, for an active subscriber, their request row and today's counter: one BatchGetItem."""
    listing, hidden = Key(ListingModel, listing_id), Key(BotStateModel, hidden_key(listing_id))
    counted: tuple[Key, Key] | None = None
    if user is not None and is_active(user.subscription_end, now):
        user_id = int(user.user_id)
        counted = (
            Key(ContactRequestModel, user_id, listing_id),
            Key(BotStateModel, _counter_key(user_id, day_key(now))),
        )
    found = get_items([listing, hidden, *(counted or ())])
    seen = ContactLookup(cast(ListingModel | None, found.get(listing)), hidden in found)
    if counted is None:
        return seen
    request, counter = counted
    today = cast(BotStateModel | None, found.get(counter))
    return replace(
        seen, opened_before=request in found, opened_today=int(today.counter or 0) if today is not None else 0
    )


def decide(user: UserModel | None, seen: ContactLookup, now: datetime, daily_cap: int) -> ContactAccess:
    end = user.subscription_end if user is not None else None
    return contact_access(
        end,
        now,
        already_opened=seen.opened_before,
        opened_today=0 if seen.opened_before else seen.opened_today,
        daily_cap=daily_cap,
    )


def reserve(user_id: int, listing_id: str, now: datetime, daily_cap: int) -> bool:
    """Count a new card before it is sent (once per user and listing, within the cap); False when a
    parallel request took it first: it opened this card, or the last of today's allowance."""
    day = day_key(now)
    try:
        with transact_write() as tx:
            tx.save(
                ContactRequestModel(user_id, listing_id, day=day, requested_at=now),
                condition=ContactRequestModel.listing_id.does_not_exist(),
            )
            tx.update(
                BotStateModel(_counter_key(user_id, day)),
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
        logger.info("contact card not reserved (already opened or over the cap)", extra={"user_id": user_id})
        return False
    return True


def release(user_id: int, listing_id: str, now: datetime) -> None:
    """Take back a reservation whose card Telegram refused (the request row and both counts, together).

    If this fails too, the user has lost one card of today's allowance; nothing was shown twice or free.
    """
    day = day_key(now)
    try:
        with transact_write() as tx:
            tx.delete(
                ContactRequestModel(user_id, listing_id),
                condition=ContactRequestModel.listing_id.exists(),
            )
            tx.update(BotStateModel(_counter_key(user_id, day)), actions=[BotStateModel.counter.add(-1)])
            tx.update(UserModel(user_id), actions=[UserModel.contact_requests.add(-1)])
    except Exception:  # the error that sent us here is the one to report
        logger.exception("contact reservation not released", extra={"user_id": user_id})


def requests_on(day: str) -> int:
    """How many contact requests were first made on ``day`` (admin statistics)."""
    return sum(1 for _ in ContactRequestModel.by_day.query(day))


def today(now: datetime | None = None) -> str:
    return day_key(now or datetime.now(UTC))
