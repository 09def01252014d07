"""The payment ledger: opening orders, crediting, refunds and cancellations — conditional writes only.

* ``open_order`` — a double tap on a plan button reuses the user's pending order for that plan: a pointer
  item in the state table (``order-open#<provider>#<user>#<plan>``) is claimed in the same transaction
  that creates the order, so two concurrent taps make one order.
* ``credit`` — ONE DynamoDB transaction: the order ``pending -> succeeded``, the ledger item of the
  provider payment (``attribute_not_exists``: one credit per payment id) and the user's
  ``subscription_end`` = ``max(now, end) + days``, conditioned on the end that was read. A lost race
  re-reads and tries again; once the order is no longer pending the answer is "already credited".
* ``apply_refund`` — removes the refunded share of the days (a full refund revokes), once per refund id.
* ``cancel`` — ``pending -> canceled``, reported once so the user is told once.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError

from carsbot.adapters.db.base import day_of
from carsbot.adapters.db.conditions import is_conditional_failure
from carsbot.adapters.db.models import StateModel
from carsbot.adapters.db.orders import OrderModel, PaymentModel
from carsbot.adapters.db.transactions import transact_write
from carsbot.adapters.db.users import UserModel, subscription_fields, subscription_unchanged
from carsbot.core import payments as rules
from carsbot.core.subscriptions import Plan, extend, remove_days

MAX_ATTEMPTS = 8


class LedgerConflict(RuntimeError):
    """Too many concurrent writers; nothing was written by this call (the caller retries later)."""


@dataclass(frozen=True)
class CreditResult:
    credited: bool  # True only for the one call that credited
    status: str  # the order's status after the call
    new_end: datetime | None
    user_id: int


@dataclass(frozen=True)
class RefundResult:
    applied: bool
    removed_days: int
    new_end: datetime | None
    revoked: bool
    user_id: int


def _get_order(order_id: str) -> OrderModel | None:
    try:
        return OrderModel.get(order_id, consistent_read=True)
    except DoesNotExist:
        return None


def get_order(order_id: str) -> OrderModel | None:
    return _get_order(order_id) if order_id and len(order_id) <= 128 else None


def get_payment(payment_id: str) -> PaymentModel | None:
    try:
        return PaymentModel.get(payment_id, consistent_read=True)
    except DoesNotExist:
        return None


def _get_user(user_id: int) -> UserModel | None:
    try:
        return UserModel.get(user_id, consistent_read=True)
    except DoesNotExist:
        return None


def _retryable(exc: Exception) -> bool:
    return is_conditional_failure(exc) or "TransactionConflict" in repr(getattr(exc, "cause", exc))


def _backoff(attempt: int) -> None:
    time.sleep(min(0.5, 0.02 * (2**attempt)) * (0.5 + uuid.uuid4().int % 100 / 100))


def open_order(
    *,
    user_id: int,
    plan: Plan,
    provider: str,
    amount: Decimal,
    currency: str,
    now: datetime,
    reuse_for: timedelta,
    save_method: bool = False,
    receipt: bool = False,
) -> tuple[OrderModel, bool]:
    """The user's pending order for this plan (reused) or a new one; returns ``(order, created)``."""
    pk = f"order-open#{provider}#{user_id}#{plan.code}"
    amount_text = rules.money_text(amount)
    for attempt in range(MAX_ATTEMPTS):
        try:
            pointer: StateModel | None = StateModel.get(pk, consistent_read=True)
        except DoesNotExist:
            pointer = None
        if pointer is not None and pointer.owner and pointer.expires_at and pointer.expires_at > now:
            order = _get_order(pointer.owner)
            if (
                order is not None
                and order.status == rules.PENDING
                and order.amount == amount_text
                and order.currency == currency
                and order.save_method == save_method
            ):
                return order, False
        order = OrderModel(
            order_id=rules.new_order_id(),
            user_id=user_id,
            plan=plan.code,
            days=plan.days,
            amount=amount_text,
            currency=currency,
            provider=provider,
            kind="purchase",
            status=rules.PENDING,
            idempotence_key=str(uuid.uuid4()),
            save_method=save_method,
            receipt=receipt,
            created_at=now,
            updated_at=now,
        )
        claim = StateModel(pk=pk, owner=order.order_id, expires_at=now + reuse_for, updated_at=now)
        claim_condition = (
            StateModel.pk.does_not_exist() if pointer is None else StateModel.owner == pointer.owner
        )
        try:
            with transact_write() as tx:
                tx.save(order, condition=OrderModel.order_id.does_not_exist())
                tx.save(claim, condition=claim_condition)
        except TransactWriteError as exc:
            if not _retryable(exc):
                raise
            _backoff(attempt)
            continue  # another tap won: read its order
        return order, True
    raise LedgerConflict(f"could not open an order for user {user_id}")


def create_order(order: OrderModel) -> bool:
    """Put ``order`` unless an order with its id exists (renewals: one order per user and period)."""
    try:
        order.save(condition=OrderModel.order_id.does_not_exist())
    except PutError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def attach_payment(order: OrderModel, payment_id: str, confirmation_url: str | None, now: datetime) -> bool:
    """Record the provider's payment id on a pending order (the same id again is fine)."""
    actions: list[Any] = [OrderModel.provider_payment_id.set(payment_id), OrderModel.updated_at.set(now)]
    if confirmation_url:
        actions.append(OrderModel.confirmation_url.set(confirmation_url))
    try:
        order.update(
            actions=actions,
            condition=(OrderModel.status == rules.PENDING)
            & (
                OrderModel.provider_payment_id.does_not_exist()
                | (OrderModel.provider_payment_id == payment_id)
            ),
        )
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def credit(
    order_id: str,
    payment_id: str,
    *,
    now: datetime,
    method_id: str | None = None,
    charge_id: str | None = None,
) -> CreditResult:
    """Credit ``order_id`` for provider payment ``payment_id`` exactly once (see the module doc)."""
    for attempt in range(MAX_ATTEMPTS):
        order = _get_order(order_id)
        if order is None:
            raise LookupError(f"order {order_id} does not exist")
        if order.status != rules.PENDING:
            return CreditResult(False, order.status, order.new_end, int(order.user_id))
        user = _get_user(int(order.user_id))
        previous_end = user.subscription_end if user is not None else None
        new_end = extend(previous_end, now, int(order.days))
        user_actions = [
            *subscription_fields(new_end),
            UserModel.plan.set(order.plan),
            UserModel.updated_at.set(now),
        ]
        if method_id and order.save_method:
            user_actions.append(UserModel.payment_method_id.set(method_id))
        record = PaymentModel(
            payment_id=payment_id,
            provider=order.provider,
            order_id=order.order_id,
            user_id=int(order.user_id),
            plan=order.plan,
            days=int(order.days),
            amount=order.amount,
            currency=order.currency,
            kind=order.kind,
            status=rules.SUCCEEDED,
            charge_id=charge_id,
            paid_day=day_of(now),  # the UTC day, as the daily figures query it
            credited_at=now,
            previous_end=previous_end,
            new_end=new_end,
            updated_at=now,
        )
        try:
            with transact_write() as tx:
                tx.update(
                    OrderModel(order.order_id),
                    actions=[
                        OrderModel.status.set(rules.SUCCEEDED),
                        OrderModel.provider_payment_id.set(payment_id),
                        OrderModel.new_end.set(new_end),
                        OrderModel.credited_at.set(now),
                        OrderModel.updated_at.set(now),
                    ],
                    condition=(OrderModel.status == rules.PENDING)
                    & (
                        OrderModel.provider_payment_id.does_not_exist()
                        | (OrderModel.provider_payment_id == payment_id)
                    ),
                )
                tx.save(record, condition=PaymentModel.payment_id.does_not_exist())
                tx.update(
                    UserModel(int(order.user_id)),
                    actions=user_actions,
                    condition=subscription_unchanged(previous_end),
                )
        except TransactWriteError as exc:
            if not _retryable(exc):
                raise
            _backoff(attempt)
            continue  # someone else wrote the order, the payment or the user: read again
        return CreditResult(True, rules.SUCCEEDED, new_end, int(order.user_id))
    raise LedgerConflict(f"could not credit order {order_id}")


def cancel(order_id: str, reason: str, *, now: datetime) -> bool:
    """``pending -> canceled``; True only for the call that moved it."""
    try:
        OrderModel(order_id).update(
            actions=[
                OrderModel.status.set(rules.CANCELED),
                OrderModel.error.set(reason[:200]),
                OrderModel.updated_at.set(now),
            ],
            condition=(OrderModel.status == rules.PENDING),
        )
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def apply_refund(payment_id: str, refund_id: str, amount: Decimal, *, now: datetime) -> RefundResult:
    """Take back the refunded share of a credited payment's days, once per ``refund_id``."""
    for attempt in range(MAX_ATTEMPTS):
        record = get_payment(payment_id)
        if record is None:
            raise LookupError(f"payment {payment_id} was never credited")
        user_id = int(record.user_id)
        if refund_id in (record.refund_ids or set()):
            return RefundResult(False, 0, None, record.status == rules.REFUNDED, user_id)
        paid = Decimal(record.amount)
        refunded_total = Decimal(record.refunded_amount) + amount
        if refunded_total > paid:
            raise ValueError(f"refunds of payment {payment_id} exceed its amount")
        already = int(record.removed_days)
        remove = rules.days_to_remove(int(record.days), paid, refunded_total, already)
        user = _get_user(user_id)
        old_end = user.subscription_end if user is not None else None
        new_end = remove_days(old_end, remove, now) if remove else old_end
        status = rules.REFUNDED if refunded_total >= paid else rules.PARTIALLY_REFUNDED
        try:
            with transact_write() as tx:
                tx.update(
                    PaymentModel(payment_id),
                    actions=[
                        PaymentModel.refund_ids.add({refund_id}),
                        PaymentModel.refunded_amount.set(rules.money_text(refunded_total)),
                        PaymentModel.removed_days.set(already + remove),
                        PaymentModel.status.set(status),
                        PaymentModel.updated_at.set(now),
                    ],
                    condition=~PaymentModel.refund_ids.contains(refund_id)
                    & (PaymentModel.removed_days == already),
                )
                tx.update(
                    OrderModel(record.order_id),
                    actions=[OrderModel.status.set(status), OrderModel.updated_at.set(now)],
                    condition=OrderModel.status.is_in(rules.SUCCEEDED, rules.PARTIALLY_REFUNDED),
                )
                if new_end != old_end:
                    tx.update(
                        UserModel(user_id),
                        actions=[*subscription_fields(new_end), UserModel.updated_at.set(now)],
                        condition=subscription_unchanged(old_end),
                    )
        except TransactWriteError as exc:
            if not _retryable(exc):
                raise
            _backoff(attempt)
            continue
        return RefundResult(True, remove, new_end, new_end is None, user_id)
    raise LedgerConflict(f"could not apply refund {refund_id}")
