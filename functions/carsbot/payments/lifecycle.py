"""The subscription lifecycle job (hourly, EventBridge Scheduler): auto-renewal, reminders, expiry.

One **query** of the users table's ``by-subscription-end`` index (``sub_bucket = "sub"``,
``subscription_end <= now + max(reminder days)``) — never a scan — so the job reads only the subscribers
that are due, however many there are. Ended subscriptions leave the ``"sub"`` bucket (``"expired"``), so
they are read once. For each due subscriber, in this order:

* **ended** -> the expiry notice (not to users who blocked the bot) and ``sub_bucket = "expired"``,
  conditioned on the end that was read;
* **auto-renewal** (on, a saved YooKassa method, end within ``renewal_lead_hours``) -> one renewal order
  per user and period (``renew-<user>-<period>``) and a charge of the saved method with an idempotence
  key derived from user + period: a job that runs twice, or retries after a timeout, charges once. A
  charge that succeeds at once is credited through the ledger like any payment; a pending one waits for
  its notification; a declined one becomes a reminder with a pay button;
* **reminders** 3 days and 1 day before the end (``reminder_days``), each at most once per user and period:
  a marker item (``notice#<dedupe key>``, conditional put) before the notice is queued.

Notices go through the bot's rate-limited fan-out (``NotifyMessage`` on the alerts queue).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pynamodb.exceptions import DeleteError, PutError, UpdateError

from carsbot.adapters.db.conditions import is_conditional_failure
from carsbot.adapters.db.models import StateModel
from carsbot.adapters.db.orders import OrderModel
from carsbot.adapters.db.users import SUB_BUCKET, UserModel
from carsbot.adapters.yookassa import YooKassaClient, YooKassaRejected, YooKassaUnavailable
from carsbot.config import Settings
from carsbot.core import payments as rules
from carsbot.core.contracts import NotifyMessage
from carsbot.core.subscriptions import Plan
from carsbot.observability import add_metric, logger
from carsbot.payments import ledger, notices
from carsbot.payments.callback import credit_payment
from carsbot.payments.checkout import ReceiptContactRequired, receipt_for
from carsbot.payments.notices import Outbox

EXPIRED_BUCKET = "expired"


@dataclass
class JobReport:
    due: int = 0  # subscribers read from the index
    reminders: int = 0
    expired: int = 0
    renewals_charged: int = 0
    renewals_pending: int = 0
    renewals_failed: int = 0
    errors: list[str] = field(default_factory=list)


class LifecycleJob:
    def __init__(
        self,
        settings: Settings,
        *,
        client_factory: Callable[[], YooKassaClient],
        outbox: Outbox,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self._client_factory = client_factory
        self._client: YooKassaClient | None = None
        self.outbox = outbox
        self.clock = clock

    @property
    def client(self) -> YooKassaClient:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def due(self, now: datetime) -> Iterator[UserModel]:
        """Subscribers whose end is at most the largest reminder window away (ended ones included)."""
        horizon = now + timedelta(days=max(self.settings.reminder_days or [1]))
        yield from UserModel.by_subscription_end.query(
            SUB_BUCKET, range_key_condition=UserModel.subscription_end <= horizon
        )

    def run(self) -> JobReport:
        now = self.clock()
        report = JobReport()
        for user in self.due(now):
            report.due += 1
            try:
                self._one(user, now, report)
            except Exception as exc:  # one subscriber's failure must not stop the others; raised at the end
                logger.exception("lifecycle step failed", extra={"user_id": int(user.user_id)})
                report.errors.append(f"{int(user.user_id)}: {type(exc).__name__}")
        add_metric("LifecycleDue", report.due)
        if report.renewals_failed:
            add_metric("RenewalFailed", report.renewals_failed)
        return report

    def _one(self, user: UserModel, now: datetime, report: JobReport) -> None:
        end = user.subscription_end
        if end is None:
            return
        if end <= now:
            self._expire(user, end, report)
            return
        if (
            user.auto_renew
            and user.payment_method_id
            and self.settings.payment_provider == "yookassa"
            and end <= now + timedelta(hours=self.settings.renewal_lead_hours)
        ):
            outcome = self._renew(user, end, now)
            if outcome == "charged":
                report.renewals_charged += 1
                return
            if outcome == "pending":
                report.renewals_pending += 1
                return
            if outcome == "failed":
                report.renewals_failed += 1
                return
        kind = rules.reminder_kind(end, now, tuple(self.settings.reminder_days))
        if kind is None or user.blocked:
            return
        days = int(kind[1:])
        message = notices.reminder(
            int(user.user_id), end, kind, days, auto_renew=bool(user.auto_renew and user.payment_method_id)
        )
        if self._send_once(message, expires=end + timedelta(days=7)):
            report.reminders += 1

    # ------------------------------------------------------------------ notices once per period
    def _send_once(self, message: NotifyMessage, *, expires: datetime) -> bool:
        marker = StateModel(pk=f"notice#{message.dedupe_key}", updated_at=self.clock(), expires_at=expires)
        try:
            marker.save(condition=StateModel.pk.does_not_exist())
        except PutError as exc:
            if is_conditional_failure(exc):
                return False  # already sent for this period
            raise
        try:
            self.outbox.send([message])
        except Exception:
            try:  # let the next run try again
                marker.delete()
            except DeleteError:
                logger.exception("could not release a notice marker", extra={"key": message.dedupe_key})
            raise
        return True

    # ------------------------------------------------------------------ expiry
    def _expire(self, user: UserModel, end: datetime, report: JobReport) -> None:
        user_id = int(user.user_id)
        if not user.blocked:  # queued first: the marker below takes the user out of this query
            self.outbox.send([notices.expired(user_id, end)])
        try:
            user.update(
                actions=[UserModel.sub_bucket.set(EXPIRED_BUCKET), UserModel.updated_at.set(self.clock())],
                condition=(UserModel.subscription_end == end) & (UserModel.sub_bucket == SUB_BUCKET),
            )
        except UpdateError as exc:
            if not is_conditional_failure(exc):
                raise
            return  # extended or revoked meanwhile
        report.expired += 1

    # ------------------------------------------------------------------ auto-renewal
    def _plan(self, code: str | None) -> Plan:
        return (self.settings.plan(code) if code else None) or self.settings.plans[0]

    def _renew(self, user: UserModel, end: datetime, now: datetime) -> str:
        """``charged`` | ``pending`` | ``failed`` | ``skipped`` (already done / retry next run)."""
        user_id = int(user.user_id)
        plan = self._plan(user.plan)
        order_id = rules.renewal_order_id(user_id, end)
        ledger.create_order(
            OrderModel(
                order_id=order_id,
                user_id=user_id,
                plan=plan.code,
                days=plan.days,
                amount=rules.money_text(Decimal(plan.price_rub)),
                currency=rules.RUB,
                provider="yookassa",
                kind="renewal",
                status=rules.PENDING,
                idempotence_key=rules.renewal_idempotence_key(user_id, end),
                save_method=True,
                period_end=end,
                created_at=now,
                updated_at=now,
            )
        )
        order = ledger.get_order(order_id)
        if order is None or order.status != rules.PENDING or order.provider_payment_id:
            return "skipped"  # charged (or declined) by an earlier run: never twice
        params = {
            "amount": {"value": order.amount, "currency": order.currency},
            "capture": True,
            "payment_method_id": user.payment_method_id,
            "description": f"Продление подписки на {plan.title}"[:128],
            "metadata": {"order_id": order_id, "user_id": str(user_id), "plan": plan.code, "kind": "renewal"},
        }
        try:
            receipt = receipt_for(self.settings, plan, user)
        except ReceiptContactRequired:
            receipt = None  # no receipt contact: YooKassa rejects the charge if its shop requires receipts
        if receipt is not None:
            params["receipt"] = receipt
        try:
            payment = self.client.create_payment(params, idempotence_key=order.idempotence_key)
        except YooKassaUnavailable as exc:
            logger.warning("renewal charge will be retried", extra={"order_id": order_id, "error": str(exc)})
            add_metric("RenewalRetry")
            return "skipped"
        except YooKassaRejected as exc:
            logger.warning("renewal charge rejected", extra={"order_id": order_id, "error": str(exc)})
            return self._declined(order, end, "rejected by the provider")
        ledger.attach_payment(order, payment.id, None, now)
        expected = rules.Expected(order_id, user_id, plan.code, rules.money(order.amount), order.currency)
        wrong = rules.mismatch(
            expected, amount=payment.amount, currency=payment.currency, metadata=payment.metadata
        )
        if wrong:
            logger.error(
                "renewal payment does not match its order", extra={"order_id": order_id, "field": wrong}
            )
            return "skipped"
        if payment.status == rules.SUCCEEDED:
            result = credit_payment(order, payment, now=self.clock())
            if result.credited and result.new_end is not None:
                self.outbox.send(
                    [notices.credited(user_id, payment.id, plan.title, result.new_end, renewal=True)]
                )
                add_metric("PaymentCredited")
            logger.info("renewal charged", extra={"order_id": order_id, "payment_id": payment.id})
            return "charged"
        if payment.status == rules.CANCELED:
            return self._declined(order, end, payment.cancellation_reason or "canceled")
        return "pending"  # its notification credits it

    def _declined(self, order: OrderModel, end: datetime, reason: str) -> str:
        ledger.cancel(order.order_id, reason, now=self.clock())
        self.outbox.send([notices.renewal_failed(int(order.user_id), order.order_id, end)])
        return "failed"
