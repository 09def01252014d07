"""Payment rules (PRODUCT.md §25–27): the bot's payment port, order states, matching a provider's
payment to our order, refund days, reminder windows and renewal keys. Pure, no SDK.

``PaymentOffer``/``PaymentUnavailable``/``PaymentPort`` live here (re-exported by ``carsbot.bot.ports``)
so that the bot and ``carsbot.payments`` — independent parts of the application layer — share them
without importing each other; the entry points wire the implementation into the dispatcher.

An order is one purchase attempt. Its state only moves forward::

    pending -> succeeded -> partially_refunded -> refunded
    pending -> canceled

Every transition is a conditional write on the state that was read (see ``carsbot.payments``).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal, Protocol

from carsbot.core.subscriptions import Plan, refunded_days


@dataclass(frozen=True)
class PaymentOffer:
    """How the user pays for a plan: a URL button ("Оплатить") or a Stars invoice (``sendInvoice``, XTR)."""

    kind: Literal["url", "stars_invoice"]
    order_id: str
    url: str | None = None  # YooKassa confirmation URL -> "Оплатить" URL button
    title: str = ""  # Stars invoice fields
    description: str = ""
    payload: str = ""  # the order id for Stars
    stars: int = 0


class PaymentUnavailable(Exception):
    """The provider or its API is down: the user is told to try later; nothing is half-created."""


class PaymentPort(Protocol):
    async def offer(self, user_id: int, plan: Plan) -> PaymentOffer: ...


PENDING = "pending"
SUCCEEDED = "succeeded"
CANCELED = "canceled"
PARTIALLY_REFUNDED = "partially_refunded"
REFUNDED = "refunded"

TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({SUCCEEDED, CANCELED}),
    SUCCEEDED: frozenset({PARTIALLY_REFUNDED, REFUNDED}),
    PARTIALLY_REFUNDED: frozenset({PARTIALLY_REFUNDED, REFUNDED}),
    CANCELED: frozenset(),
    REFUNDED: frozenset(),
}

RUB = "RUB"
XTR = "XTR"  # Telegram Stars
CENT = Decimal("0.01")


def can_move(current: str, new: str) -> bool:
    return new in TRANSITIONS.get(current, frozenset())


def money(value: Decimal | int | str) -> Decimal:
    """An amount with two decimals (how YooKassa and our records spell it: ``190.00``)."""
    return Decimal(str(value)).quantize(CENT)


def money_text(value: Decimal) -> str:
    return f"{money(value):.2f}"


@dataclass(frozen=True)
class Expected:
    """What our order says a genuine payment must carry."""

    order_id: str
    user_id: int
    plan: str
    amount: Decimal
    currency: str


def mismatch(
    expected: Expected, *, amount: Decimal, currency: str, metadata: Mapping[str, str]
) -> str | None:
    """Why a provider's payment does not belong to our order (``None`` when everything matches)."""
    if money(amount) != money(expected.amount):
        return "amount"
    if currency != expected.currency:
        return "currency"
    if metadata.get("order_id") != expected.order_id:
        return "order_id"
    if metadata.get("user_id") != str(expected.user_id):
        return "user_id"
    if metadata.get("plan") != expected.plan:
        return "plan"
    return None


def days_to_remove(plan_days: int, paid: Decimal, refunded_total: Decimal, already_removed: int) -> int:
    """Days to take back now so that the removed total matches the refunded share of ``paid``.

    Refunds accumulate: two half refunds remove all the days, never more than the plan gave.
    """
    if paid <= 0:
        return 0
    share = float(min(refunded_total, paid) / paid)
    target = plan_days if refunded_total >= paid else refunded_days(plan_days, share)
    return max(0, min(plan_days, target) - already_removed)


def reminder_kind(end: datetime, now: datetime, reminder_days: tuple[int, ...]) -> str | None:
    """``"d3"``/``"d1"``... for the closest reminder whose window ``(now, now + d days]`` holds ``end``.

    With reminders at 3 and 1 days, an end 2.5 days away is in the ``d3`` window, 20 hours away in
    ``d1``; an end that has passed has none (it gets the expiry notice instead).
    """
    if end <= now:
        return None
    for days in sorted(reminder_days):
        if end <= now + timedelta(days=days):
            return f"d{days}"
    return None


def period_tag(end: datetime) -> str:
    """A subscription period, named by its end (``20250131T120000``): notices go once per period."""
    return end.strftime("%Y%m%dT%H%M%S")


def renewal_order_id(user_id: int, period_end: datetime) -> str:
    """The one renewal order of a user's period (a retried job finds it instead of making another)."""
    return f"renew-{user_id}-{period_tag(period_end)}"


def renewal_idempotence_key(user_id: int, period_end: datetime) -> str:
    """The YooKassa idempotence key of a period's renewal charge, derived from user + period."""
    digest = hashlib.sha256(f"carsbot-renewal:{user_id}:{period_tag(period_end)}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def new_order_id() -> str:
    return uuid.uuid4().hex
