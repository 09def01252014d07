"""Telegram Stars: pre-checkout re-validation, crediting by charge id, refunds.

The invoice's payload is our order id. ``pre_checkout_query`` is answered only after the order is
re-read (Telegram waits at most 10 seconds): it must exist, be a pending Stars order of this user, not be
older than the reuse window (a stale invoice could carry an old price) and match the amount and currency
Telegram reports. ``successful_payment`` is credited through the same ledger transaction as YooKassa,
keyed ``stars:<telegram_payment_charge_id>`` — a redelivered update credits nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from carsbot.config import Settings
from carsbot.core import payment_texts as texts
from carsbot.core import payments as rules
from carsbot.observability import add_metric, logger
from carsbot.payments import ledger

STARS_PREFIX = "stars:"


def ledger_id(charge_id: str) -> str:
    return f"{STARS_PREFIX}{charge_id}"


@dataclass(frozen=True)
class StarsCredit:
    credited: bool
    new_end: datetime | None
    plan_title: str


def _check(
    settings: Settings, order: object | None, user_id: int, currency: str, total: int, now: datetime
) -> str | None:
    if order is None:
        return "unknown_order"
    if getattr(order, "provider", None) != "stars" or int(getattr(order, "user_id", 0)) != user_id:
        return "not_this_users_order"
    if getattr(order, "status", None) != rules.PENDING:
        return "not_pending"
    created = getattr(order, "created_at", None)
    if created is None or now - created > timedelta(minutes=settings.order_reuse_minutes):
        return "stale"
    if currency != rules.XTR or rules.money(total) != rules.money(str(getattr(order, "amount", "0"))):
        return "amount_mismatch"
    plan = settings.plan(str(getattr(order, "plan", "")))
    if plan is None or plan.stars != total:  # the plan's price changed since the invoice
        return "stale"
    return None


def pre_checkout(
    settings: Settings, *, user_id: int, payload: str, currency: str, total: int, now: datetime
) -> str | None:
    """``None`` = accept; otherwise the Russian error Telegram shows the user."""
    order = ledger.get_order(payload)
    problem = _check(settings, order, user_id, currency, total, now)
    if problem is None:
        return None
    logger.warning("stars pre-checkout rejected", extra={"order_id": payload[:64], "reason": problem})
    add_metric("StarsPreCheckoutRejected")
    return texts.ALREADY_PAID if problem == "not_pending" and order is not None else texts.STALE_INVOICE


def credit(
    settings: Settings,
    *,
    user_id: int,
    payload: str,
    charge_id: str,
    currency: str,
    total: int,
    now: datetime,
) -> StarsCredit:
    """Credit a ``successful_payment`` once per charge id (Telegram already took the Stars)."""
    order = ledger.get_order(payload)
    if order is None or order.provider != "stars" or int(order.user_id) != user_id:
        logger.error("stars payment for an unknown order", extra={"order_id": payload[:64]})
        add_metric("PaymentForClosedOrder")
        return StarsCredit(False, None, "")
    plan = settings.plan(order.plan)
    title = plan.title if plan is not None else order.plan
    if currency != rules.XTR or rules.money(total) != rules.money(order.amount):
        logger.error("stars payment does not match its order", extra={"order_id": order.order_id})
        add_metric("PaymentForClosedOrder")
        return StarsCredit(False, None, title)
    result = ledger.credit(order.order_id, ledger_id(charge_id), now=now, charge_id=charge_id)
    if result.credited:
        add_metric("PaymentCredited")
        logger.info("stars payment credited", extra={"order_id": order.order_id})
    elif result.status != rules.SUCCEEDED:
        logger.error("stars payment for a closed order", extra={"order_id": order.order_id})
        add_metric("PaymentForClosedOrder")
    return StarsCredit(result.credited, result.new_end if result.status == rules.SUCCEEDED else None, title)
