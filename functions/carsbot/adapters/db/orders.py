"""Orders and payments (OrdersTable, PaymentsTable). Key schemas and indexes mirror template.yaml.

* **orders** — one per purchase attempt, by ``order_id``: user, plan, amount, currency, provider, the
  YooKassa idempotence key (reused on every retry of the create call), the provider's payment id and a
  state ``pending -> succeeded -> partially_refunded | refunded`` or ``pending -> canceled``
  (``carsbot.core.payments``). ``by-user`` (``user_id``, ``created_at``) lists a user's orders.
* **payments** — the credit ledger, one item per provider payment (``payment_id`` = the YooKassa payment
  id, or ``stars:<telegram charge id>``), written in the same transaction as the order's transition and
  the user's new ``subscription_end``: a second credit of the same payment finds it and stops. It also
  carries refunds (``refund_ids``, cumulative ``refunded_amount`` and ``removed_days``). ``by-day``
  (``paid_day``, ``credited_at``) gives revenue per day without a scan.

Open-order pointers (double taps reuse one order) and notice markers (a reminder once per user and
period) are small items in the state table (``StateModel``, TTL ``expires_at``).
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from carsbot.adapters.db.base import NowAttribute


class OrdersByUserIndex(GlobalSecondaryIndex["OrderModel"]):
    class Meta:
        index_name = "by-user"
        projection = AllProjection()

    user_id = NumberAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class OrderModel(Model):
    """One purchase attempt (a plan button tap, a renewal charge, a Stars invoice)."""

    class Meta:
        table_name = "carsbot-orders"

    order_id = UnicodeAttribute(hash_key=True)
    user_id = NumberAttribute()
    plan = UnicodeAttribute()  # plan code
    days = NumberAttribute()
    amount = UnicodeAttribute()  # "190.00" (RUB) or "100.00" (Stars, XTR)
    currency = UnicodeAttribute()  # RUB | XTR
    provider = UnicodeAttribute()  # yookassa | stars
    kind = UnicodeAttribute(default="purchase")  # purchase | renewal
    status = UnicodeAttribute(default="pending")
    idempotence_key = UnicodeAttribute()
    provider_payment_id = UnicodeAttribute(null=True)
    confirmation_url = UnicodeAttribute(null=True)
    save_method = BooleanAttribute(default=False)
    receipt = BooleanAttribute(default=False)
    error = UnicodeAttribute(null=True)  # why it was canceled (provider reason / our rejection)
    new_end = UTCDateTimeAttribute(null=True)  # subscription end after the credit
    period_end = UTCDateTimeAttribute(null=True)  # renewals: the end of the period being renewed
    credited_at = UTCDateTimeAttribute(null=True)
    created_at = NowAttribute()
    updated_at = NowAttribute()

    by_user = OrdersByUserIndex()


class PaymentsByDayIndex(GlobalSecondaryIndex["PaymentModel"]):
    class Meta:
        index_name = "by-day"
        projection = AllProjection()

    paid_day = UnicodeAttribute(hash_key=True)  # "2025-01-31" (UTC)
    credited_at = UTCDateTimeAttribute(range_key=True)


class PaymentModel(Model):
    """A credited provider payment (exactly one item per payment, written with the credit)."""

    class Meta:
        table_name = "carsbot-payments"

    payment_id = UnicodeAttribute(hash_key=True)
    provider = UnicodeAttribute()
    order_id = UnicodeAttribute()
    user_id = NumberAttribute()
    plan = UnicodeAttribute()
    days = NumberAttribute()
    amount = UnicodeAttribute()
    currency = UnicodeAttribute()
    kind = UnicodeAttribute(default="purchase")
    status = UnicodeAttribute(default="succeeded")  # succeeded | partially_refunded | refunded
    charge_id = UnicodeAttribute(null=True)  # Telegram Stars: telegram_payment_charge_id (refunds)
    paid_day = UnicodeAttribute()
    credited_at = UTCDateTimeAttribute()
    previous_end = UTCDateTimeAttribute(null=True)
    new_end = UTCDateTimeAttribute()
    refunded_amount = UnicodeAttribute(default="0.00")
    removed_days = NumberAttribute(default=0)
    refund_ids = UnicodeSetAttribute(null=True)
    updated_at = NowAttribute()

    by_day = PaymentsByDayIndex()
