"""YooKassa notifications: trusted only after every check, credited once, answered so YooKassa retries
only what can succeed later.

Checks, in order (any failure changes nothing):

1. the caller's source IP (from the request context) is in YooKassa's networks, else **403**;
2. the body is at most 64 KB of JSON that parses as a notification (``WebhookNotificationFactory``),
   else **413** / **400**;
3. the object is **re-fetched from the API**; its status must be the one the event claims, and the
   payment's amount, currency and metadata (order id, user id, plan) must match our order. A
   contradiction (forged, unknown, tampered) answers **200** so it is not re-sent, with a warning log and
   the ``PaymentCallbackRejected`` metric. The API being down answers **503**: YooKassa redelivers for
   24 hours and the credit happens exactly once when a retry gets through.

No path credits without the re-fetch. Logs carry ids, never payment objects or secrets.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from carsbot.adapters.db.orders import OrderModel
from carsbot.adapters.yookassa import (
    NotANotification,
    Notification,
    ProviderPayment,
    YooKassaClient,
    YooKassaError,
    YooKassaNotFound,
    YooKassaUnavailable,
    parse_notification,
)
from carsbot.config import Settings
from carsbot.core import payments as rules
from carsbot.observability import add_metric, logger
from carsbot.payments import ledger, notices
from carsbot.payments.notices import Outbox
from carsbot.payments.trust import TrustedNetworks

MAX_BODY_BYTES = 64 * 1024
PAYMENT_EVENTS = ("payment.succeeded", "payment.canceled", "payment.waiting_for_capture")


@dataclass(frozen=True)
class CallbackAnswer:
    status: int
    outcome: str  # credited | duplicate | canceled | refunded | ignored | rejected:<why> | retry:<why>


class NotificationProcessor:
    def __init__(
        self,
        settings: Settings,
        *,
        client_factory: Callable[[], YooKassaClient],
        outbox: Outbox,
        trusted: TrustedNetworks | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self._client_factory = client_factory
        self._client: YooKassaClient | None = None
        self.outbox = outbox
        self.trusted = trusted or TrustedNetworks(settings.yookassa_trusted_networks)
        self.clock = clock

    @property
    def client(self) -> YooKassaClient:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    # ------------------------------------------------------------------ entry
    def handle(self, source_ip: str | None, body: bytes | str) -> CallbackAnswer:
        if source_ip not in self.trusted:
            return self._reject(403, "untrusted_source", source_ip=source_ip)
        raw = body.encode() if isinstance(body, str) else body
        if len(raw) > MAX_BODY_BYTES:
            return self._reject(413, "too_large", size=len(raw))
        try:
            data = json.loads(raw)
            notification = parse_notification(data)
        except (ValueError, UnicodeDecodeError, NotANotification) as exc:
            return self._reject(400, "not_a_notification", error=type(exc).__name__)
        extra = {"event": notification.event, "object_id": notification.object_id}
        try:
            if notification.event in PAYMENT_EVENTS:
                return self._payment_event(notification)
            if notification.event == "refund.succeeded":
                return self._refund_event(notification)
        except YooKassaUnavailable as exc:
            return self._retry("api_unavailable", **extra, error=str(exc))
        except ledger.LedgerConflict:
            return self._retry("ledger_conflict", **extra)
        except YooKassaError as exc:  # e.g. our credentials rejected: ops must fix it, YooKassa retries
            logger.error("YooKassa API error during re-fetch", extra={**extra, "error": str(exc)})
            return self._retry("api_error", **extra)
        logger.info("notification event ignored", extra=extra)
        return CallbackAnswer(200, "ignored")

    # ------------------------------------------------------------------ answers
    def _reject(self, status: int, why: str, **extra: object) -> CallbackAnswer:
        logger.warning("payment notification rejected", extra={"reason": why, "http_status": status, **extra})
        add_metric("PaymentCallbackRejected")
        return CallbackAnswer(status, f"rejected:{why}")

    def _retry(self, why: str, **extra: object) -> CallbackAnswer:
        logger.warning(
            "payment notification not processed; YooKassa will retry", extra={"reason": why, **extra}
        )
        add_metric("PaymentCallbackRetry")
        return CallbackAnswer(503, f"retry:{why}")

    # ------------------------------------------------------------------ payments
    def _payment_event(self, claimed: Notification) -> CallbackAnswer:
        if claimed.event == "payment.waiting_for_capture":  # never expected with capture=true
            logger.warning(
                "payment waiting for capture (auto-capture expected)", extra={"payment_id": claimed.object_id}
            )
            return CallbackAnswer(200, "ignored")
        try:
            payment = self.client.get_payment(claimed.object_id)
        except YooKassaNotFound:
            return self._reject(200, "unknown_payment", payment_id=claimed.object_id)
        if payment.status != claimed.status or payment.status != claimed.event.removeprefix("payment."):
            return self._reject(
                200, "status_mismatch", payment_id=payment.id, claimed=claimed.status, actual=payment.status
            )
        order = ledger.get_order(payment.metadata.get("order_id", ""))
        if order is None or order.provider != "yookassa":
            return self._reject(200, "unknown_order", payment_id=payment.id)
        if order.provider_payment_id and order.provider_payment_id != payment.id:
            return self._reject(200, "payment_id_mismatch", payment_id=payment.id, order_id=order.order_id)
        expected = rules.Expected(
            order_id=order.order_id,
            user_id=int(order.user_id),
            plan=order.plan,
            amount=rules.money(order.amount),
            currency=order.currency,
        )
        wrong = rules.mismatch(
            expected, amount=payment.amount, currency=payment.currency, metadata=payment.metadata
        )
        if wrong:
            return self._reject(200, f"{wrong}_mismatch", payment_id=payment.id, order_id=order.order_id)
        if payment.status == rules.SUCCEEDED:
            return self._credit(order, payment)
        return self._canceled(order, payment)

    def _plan_title(self, code: str) -> str:
        plan = self.settings.plan(code)
        return plan.title if plan is not None else code

    def _credit(self, order: OrderModel, payment: ProviderPayment) -> CallbackAnswer:
        result = credit_payment(order, payment, now=self.clock())
        order_id = order.order_id
        if result.status == rules.CANCELED:
            # Paid, but the order was closed before (e.g. canceled): ops must refund or credit by hand.
            logger.error(
                "payment succeeded for a closed order", extra={"payment_id": payment.id, "order_id": order_id}
            )
            add_metric("PaymentForClosedOrder")
            return CallbackAnswer(200, "rejected:order_closed")
        if result.status == rules.SUCCEEDED and result.new_end is not None:
            # Also on a duplicate (an earlier attempt may have credited and failed to queue the DM):
            # the dedupe key keeps it to one message.
            self.outbox.send(
                [
                    notices.credited(
                        result.user_id,
                        payment.id,
                        self._plan_title(order.plan),
                        result.new_end,
                        renewal=order.kind == "renewal",
                    )
                ]
            )
        if result.credited:
            add_metric("PaymentCredited")
            if payment.currency == "RUB":  # the dashboard's revenue widget (YooKassa payments, roubles)
                add_metric("RevenueRub", float(payment.amount), "None")
            logger.info("payment credited", extra={"payment_id": payment.id, "order_id": order_id})
            return CallbackAnswer(200, "credited")
        return CallbackAnswer(200, "duplicate")

    def _canceled(self, order: OrderModel, payment: ProviderPayment) -> CallbackAnswer:
        order_id = order.order_id
        ledger.cancel(order_id, payment.cancellation_reason or "canceled", now=self.clock())
        current = ledger.get_order(order_id)
        if current is None or current.status != rules.CANCELED:
            return CallbackAnswer(200, "ignored")
        user_id = int(current.user_id)
        if current.kind == "renewal":
            end = current.period_end or self.clock()
            message = notices.renewal_failed(user_id, order_id, end)
        else:
            message = notices.canceled(user_id, order_id, self._plan_title(current.plan))
        self.outbox.send([message])
        logger.info("payment canceled", extra={"payment_id": payment.id, "order_id": order_id})
        return CallbackAnswer(200, "canceled")

    # ------------------------------------------------------------------ refunds
    def _refund_event(self, claimed: Notification) -> CallbackAnswer:
        try:
            refund = self.client.get_refund(claimed.object_id)
        except YooKassaNotFound:
            return self._reject(200, "unknown_refund", refund_id=claimed.object_id)
        if refund.status != claimed.status or refund.status != rules.SUCCEEDED:
            return self._reject(200, "status_mismatch", refund_id=refund.id, actual=refund.status)
        record = ledger.get_payment(refund.payment_id)
        if record is None or record.provider != "yookassa":
            return self._reject(200, "unknown_payment", refund_id=refund.id, payment_id=refund.payment_id)
        paid, refunded = rules.money(record.amount), rules.money(record.refunded_amount)
        if refund.currency != record.currency or (
            refund.id not in (record.refund_ids or set()) and refund.amount + refunded > paid
        ):
            return self._reject(200, "amount_mismatch", refund_id=refund.id, payment_id=record.payment_id)
        result = ledger.apply_refund(record.payment_id, refund.id, refund.amount, now=self.clock())
        if result.applied:
            self.outbox.send(
                [notices.refunded(result.user_id, refund.id, refund.amount, refund.currency, result.new_end)]
            )
            add_metric("PaymentRefunded")
            logger.info(
                "refund applied",
                extra={
                    "refund_id": refund.id,
                    "payment_id": record.payment_id,
                    "removed_days": result.removed_days,
                },
            )
            return CallbackAnswer(200, "refunded")
        return CallbackAnswer(200, "duplicate")


def credit_payment(order: OrderModel, payment: ProviderPayment, *, now: datetime) -> ledger.CreditResult:
    """Credit a re-fetched, matching, succeeded YooKassa payment (the callback and renewals share it)."""
    method = payment.payment_method_id if payment.payment_method_saved else None
    return ledger.credit(order.order_id, payment.id, now=now, method_id=method)
