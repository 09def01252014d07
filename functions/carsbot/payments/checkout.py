"""``PaymentPort`` for the bot's plan buttons: a YooKassa payment link or a Telegram Stars invoice.

YooKassa: the order is opened first (a double tap reuses it), then the payment is created with the
order's stored idempotence key — a retry after a timeout gets the same payment back, never a second one.
Amount in RUB, ``capture: true``, redirect confirmation back to the bot, metadata (order id, user id,
plan), a 54-FZ receipt when enabled, ``save_payment_method`` when the user switched auto-renewal on.
An API failure raises ``PaymentUnavailable``: the user is told to try later and holds no payment link;
the pending order keeps its key, so the next tap asks YooKassa with the same key.

Stars: the order is opened the same way and the bot sends an invoice in XTR whose payload is the order
id; ``pre_checkout_query`` re-validates it (``carsbot.payments.stars``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pynamodb.exceptions import DoesNotExist

from carsbot.adapters.db.users import UserModel
from carsbot.adapters.yookassa import YooKassaClient, YooKassaRejected, YooKassaUnavailable
from carsbot.config import Settings, get_settings
from carsbot.core import payments as rules
from carsbot.core.payments import PaymentOffer, PaymentUnavailable
from carsbot.core.subscriptions import Plan
from carsbot.observability import add_metric, logger
from carsbot.payments import ledger, refunds, stars


class ReceiptContactRequired(PaymentUnavailable):
    """Receipts are enabled and the user has given neither an e-mail nor a phone yet."""


def return_url(settings: Settings) -> str:
    return settings.payment_return_url or f"https://t.me/{settings.bot_username}"


def receipt_for(settings: Settings, plan: Plan, user: UserModel | None) -> dict[str, Any] | None:
    """The 54-FZ receipt of a plan purchase (``None`` when receipts are off)."""
    if not settings.receipt_enabled:
        return None
    customer: dict[str, str] = {}
    if user is not None and user.receipt_email:
        customer["email"] = user.receipt_email
    elif user is not None and user.receipt_phone:
        customer["phone"] = user.receipt_phone.lstrip("+")
    if not customer:
        raise ReceiptContactRequired("no e-mail or phone for the receipt")
    receipt: dict[str, Any] = {
        "customer": customer,
        "items": [
            {
                "description": f"Подписка на {plan.title}"[:128],
                "quantity": "1.00",
                "amount": {"value": rules.money_text(Decimal(plan.price_rub)), "currency": rules.RUB},
                "vat_code": settings.receipt_vat_code,
                "payment_subject": settings.receipt_payment_subject,
                "payment_mode": settings.receipt_payment_mode,
            }
        ],
    }
    if settings.receipt_tax_system_code is not None:
        receipt["tax_system_code"] = settings.receipt_tax_system_code
    return receipt


def payment_params(
    settings: Settings, order: Any, plan: Plan, receipt: dict[str, Any] | None
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "amount": {"value": order.amount, "currency": order.currency},
        "capture": True,
        "confirmation": {"type": "redirect", "return_url": return_url(settings)},
        "description": f"Подписка на {plan.title}"[:128],
        "metadata": {"order_id": order.order_id, "user_id": str(order.user_id), "plan": plan.code},
    }
    if order.save_method:
        params["save_payment_method"] = True
    if receipt is not None:
        params["receipt"] = receipt
    return params


class PaymentService:
    """The bot's ``PaymentPort`` (the provider is ``payment_provider`` from settings)."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        client_factory: Callable[[], YooKassaClient] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings or get_settings()
        self._client_factory = client_factory or (lambda: YooKassaClient.from_settings(self.settings))
        self._client: YooKassaClient | None = None
        self.clock = clock

    @property
    def client(self) -> YooKassaClient:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    async def offer(self, user_id: int, plan: Plan) -> PaymentOffer:
        # pynamodb and the yookassa SDK are synchronous: keep them off the bot's event loop.
        return await asyncio.to_thread(self.offer_sync, user_id, plan)

    def offer_sync(self, user_id: int, plan: Plan) -> PaymentOffer:
        if self.settings.payment_provider == "stars":
            return self._stars_offer(user_id, plan)
        return self._yookassa_offer(user_id, plan)

    def _user(self, user_id: int) -> UserModel | None:
        try:
            return UserModel.get(user_id)
        except DoesNotExist:
            return None

    def _stars_offer(self, user_id: int, plan: Plan) -> PaymentOffer:
        order, _ = ledger.open_order(
            user_id=user_id,
            plan=plan,
            provider="stars",
            amount=Decimal(plan.stars),
            currency=rules.XTR,
            now=self.clock(),
            reuse_for=timedelta(minutes=self.settings.order_reuse_minutes),
        )
        return PaymentOffer(
            kind="stars_invoice",
            order_id=order.order_id,
            title=f"Подписка на {plan.title}"[:32],
            description=f"Доступ к контактам продавцов на {plan.title}."[:255],
            payload=order.order_id,
            stars=plan.stars,
        )

    def _yookassa_offer(self, user_id: int, plan: Plan) -> PaymentOffer:
        user = self._user(user_id)
        receipt = receipt_for(self.settings, plan, user)  # may ask for the receipt contact first
        now = self.clock()
        order, created = ledger.open_order(
            user_id=user_id,
            plan=plan,
            provider="yookassa",
            amount=Decimal(plan.price_rub),
            currency=rules.RUB,
            now=now,
            reuse_for=timedelta(minutes=self.settings.order_reuse_minutes),
            save_method=bool(user is not None and user.auto_renew and not user.payment_method_id),
            receipt=receipt is not None,
        )
        if order.confirmation_url:
            return PaymentOffer(kind="url", order_id=order.order_id, url=order.confirmation_url)
        try:
            payment = self.client.create_payment(
                payment_params(self.settings, order, plan, receipt), idempotence_key=order.idempotence_key
            )
        except YooKassaUnavailable as exc:
            add_metric("PaymentCreateFailed")
            logger.warning(
                "YooKassa unavailable; the order keeps its key",
                extra={"order_id": order.order_id, "error": str(exc)},
            )
            raise PaymentUnavailable("YooKassa is unavailable") from None
        except YooKassaRejected as exc:
            add_metric("PaymentCreateFailed")
            logger.error(
                "YooKassa rejected the payment", extra={"order_id": order.order_id, "error": str(exc)}
            )
            ledger.cancel(order.order_id, "rejected by the provider", now=self.clock())
            raise PaymentUnavailable("YooKassa rejected the payment") from None
        if not payment.confirmation_url:
            ledger.cancel(order.order_id, "no confirmation url", now=self.clock())
            raise PaymentUnavailable("YooKassa answered without a confirmation URL")
        ledger.attach_payment(order, payment.id, payment.confirmation_url, self.clock())
        logger.info(
            "payment created",
            extra={"order_id": order.order_id, "payment_id": payment.id, "reused_order": not created},
        )
        return PaymentOffer(kind="url", order_id=order.order_id, url=payment.confirmation_url)

    # ------------------------------------------------------------------ what the payments router calls
    async def pre_checkout(self, user_id: int, payload: str, currency: str, total: int) -> str | None:
        """Stars ``pre_checkout_query``: ``None`` = accept, else the error shown to the user."""
        return await asyncio.to_thread(
            stars.pre_checkout,
            self.settings,
            user_id=user_id,
            payload=payload,
            currency=currency,
            total=total,
            now=self.clock(),
        )

    async def credit_stars(
        self, user_id: int, payload: str, charge_id: str, currency: str, total: int
    ) -> stars.StarsCredit:
        return await asyncio.to_thread(
            stars.credit,
            self.settings,
            user_id=user_id,
            payload=payload,
            charge_id=charge_id,
            currency=currency,
            total=total,
            now=self.clock(),
        )

    async def refund_preview(self, payment_id: str) -> refunds.RefundPreview | None:
        return await asyncio.to_thread(refunds.preview, payment_id)

    async def refund(
        self, payment_id: str, stars_refunder: Callable[[int, str], Awaitable[object]]
    ) -> refunds.RefundOutcome:
        return await refunds.refund(
            payment_id,
            client_factory=lambda: self.client,
            stars_refunder=stars_refunder,
            now=self.clock(),
            run_sync=asyncio.to_thread,
        )

    async def save_receipt_contact(self, user_id: int, text: str) -> bool:
        """Store the receipt e-mail or phone a user typed; False when it is neither."""
        contact = parse_receipt_contact(text)
        if contact is None:
            return False
        field, value = contact
        attribute = UserModel.receipt_email if field == "email" else UserModel.receipt_phone
        await asyncio.to_thread(
            UserModel(user_id).update, actions=[attribute.set(value), UserModel.updated_at.set(self.clock())]
        )
        return True

    def needs_receipt_contact(self, user: UserModel | None) -> bool:
        return self.settings.receipt_enabled and not (
            user is not None and (user.receipt_email or user.receipt_phone)
        )


_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[A-Za-z]{2,}$")


def parse_receipt_contact(text: str) -> tuple[str, str] | None:
    """``("email", "ivan@example.ru")`` or ``("phone", "+79001234567")`` (E.164), else ``None``."""
    value = (text or "").strip()
    if _EMAIL.match(value) and len(value) <= 254:
        return "email", value.lower()
    import phonenumbers

    try:
        number = phonenumbers.parse(value, "RU")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return "phone", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
