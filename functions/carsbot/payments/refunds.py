"""Admin refunds (``/refund <payment id>`` with a confirm step) and revenue for ``/stats``.

A refund calls the provider — YooKassa's refund API (idempotence key ``refund:<payment id>``, so a
double confirm refunds once) or Telegram's ``refundStarPayment`` (passed in by the bot router, which owns
the Bot API) — and then takes the days back through ``ledger.apply_refund``, once per refund id. The
YooKassa ``refund.succeeded`` notification that follows finds the refund already applied.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from carsbot.adapters.db import daily
from carsbot.adapters.db.orders import PaymentModel
from carsbot.adapters.yookassa import YooKassaClient
from carsbot.core import payments as rules
from carsbot.observability import add_metric, logger
from carsbot.payments import ledger
from carsbot.payments.stars import STARS_PREFIX


@dataclass(frozen=True)
class RefundPreview:
    payment_id: str
    order_id: str
    provider: str
    amount: str  # what is still refundable
    currency: str
    user_id: int
    new_end: datetime
    charge_id: str | None


@dataclass(frozen=True)
class RefundOutcome:
    done: bool  # days taken back now
    new_end: datetime | None
    pending: bool = False  # the provider accepted it; days go when it confirms


def _record(key: str) -> PaymentModel | None:
    """The credited payment named by a provider payment id, a Stars charge id or our order id."""
    key = key.strip()
    if not key or len(key) > 160:
        return None
    record = ledger.get_payment(key)
    if record is None and not key.startswith(STARS_PREFIX):
        record = ledger.get_payment(STARS_PREFIX + key)
    if record is None:
        order = ledger.get_order(key)
        if order is not None and order.provider_payment_id:
            record = ledger.get_payment(order.provider_payment_id)
    return record


def preview(payment_id: str) -> RefundPreview | None:
    """What ``/refund`` would return (``None``: never credited, or already fully refunded)."""
    record = _record(payment_id)
    if record is None or record.status == rules.REFUNDED:
        return None
    left = rules.money(record.amount) - rules.money(record.refunded_amount)
    return RefundPreview(
        payment_id=record.payment_id,
        order_id=record.order_id,
        provider=record.provider,
        amount=rules.money_text(left),
        currency=record.currency,
        user_id=int(record.user_id),
        new_end=record.new_end,
        charge_id=record.charge_id,
    )


async def refund(
    payment_id: str,
    *,
    client_factory: Callable[[], YooKassaClient],
    stars_refunder: Callable[[int, str], Awaitable[object]],
    now: datetime,
    run_sync: Callable[..., Awaitable[object]],
) -> RefundOutcome:
    """Refund the rest of a credited payment (see the module doc). Raises when the provider refuses."""
    found = await run_sync(preview, payment_id)
    if not isinstance(found, RefundPreview):
        raise LookupError("nothing to refund")
    amount = Decimal(found.amount)
    if found.provider == "stars":
        assert found.charge_id
        await stars_refunder(found.user_id, found.charge_id)
        refund_id = f"stars-refund:{found.charge_id}"
    else:
        client = client_factory()
        made = await run_sync(
            lambda: client.create_refund(
                found.payment_id, amount, found.currency, idempotence_key=f"refund:{found.payment_id}"
            )
        )
        refund_id = str(getattr(made, "id", ""))
        if getattr(made, "status", "") != rules.SUCCEEDED:
            logger.info("refund pending at the provider", extra={"payment_id": found.payment_id})
            return RefundOutcome(False, found.new_end, pending=True)
    result = await run_sync(lambda: ledger.apply_refund(found.payment_id, refund_id, amount, now=now))
    add_metric("PaymentRefunded")
    logger.info("refund applied by an admin", extra={"payment_id": found.payment_id})
    return RefundOutcome(True, getattr(result, "new_end", None))


def revenue(since: datetime, until: datetime) -> int:
    """Net RUB revenue (payments credited in ``[since, until)`` minus their refunds), by the ``by-day``
    index of the payments table: one query per day, never a scan. Stars payments are not roubles."""
    total = Decimal(0)
    for record in daily.payments(since, until):
        if record.currency == rules.RUB and record.credited_at < until:
            total += Decimal(record.amount) - Decimal(record.refunded_amount)
    return int(total)
