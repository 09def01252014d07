"""Opening payments (the bot's PaymentPort), Telegram Stars checkout, admin refunds and revenue — with the
real yookassa SDK over HTTP against the stand-in and the tables of template.yaml in moto."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from payments_harness import PayKit

from carsbot.adapters.db.orders import OrderModel
from carsbot.adapters.db.users import UserModel
from carsbot.config import get_settings, reset_settings
from carsbot.core.payments import PaymentUnavailable
from carsbot.core.subscriptions import Plan
from carsbot.payments import refunds
from carsbot.payments.checkout import PaymentService, ReceiptContactRequired, parse_receipt_contact


def _plan(code: str = "month") -> Plan:
    plan = get_settings().plan(code)
    assert plan is not None
    return plan


def test_payment_is_created_like_the_issue_says(pay: PayKit) -> None:
    pay.user()
    offer = pay.service().offer_sync(1001, _plan())

    [call] = pay.yookassa.api_calls("POST", "/payments")
    order = OrderModel.get(offer.order_id)
    assert call.idempotence_key == order.idempotence_key
    body = call.body or {}
    assert body["amount"] == {"value": "190.00", "currency": "RUB"} and body["capture"] is True
    assert body["confirmation"] == {
        "type": "redirect",
        "return_url": "https://t.me/" + get_settings().bot_username,
    }
    assert body["metadata"] == {
        "order_id": offer.order_id,
        "user_id": "1001",
        "plan": "month",
        "cms_name": "yookassa_sdk_python",
    }
    assert "receipt" not in body and "save_payment_method" not in body
    assert offer.kind == "url" and offer.url == pay.yookassa.checkout_url(order.provider_payment_id)
    assert order.status == "pending" and order.amount == "190.00" and order.provider == "yookassa"


def test_double_tap_reuses_pending_order(pay: PayKit) -> None:
    pay.user()
    service = pay.service()
    first = service.offer_sync(1001, _plan())
    second = service.offer_sync(1001, _plan())
    assert second == first
    assert len(pay.yookassa.payments) == 1


def test_concurrent_taps_open_one_order(pay: PayKit) -> None:
    pay.user()
    offers: list[Any] = []
    barrier = threading.Barrier(4)

    def tap() -> None:
        barrier.wait()
        offers.append(pay.service().offer_sync(1001, _plan()))

    threads = [threading.Thread(target=tap) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len({o.order_id for o in offers}) == 1 and len(offers) == 4
    assert len(pay.yookassa.payments) == 1


def test_api_down_says_try_later_retry_reuses(pay: PayKit) -> None:
    pay.user()
    pay.yookassa.fail_next("POST", "/payments", status=500)
    with pytest.raises(PaymentUnavailable):
        pay.service().offer_sync(1001, _plan())
    assert pay.yookassa.payments == {}  # no payment link exists

    offer = pay.service().offer_sync(1001, _plan())
    keys = [c.idempotence_key for c in pay.yookassa.api_calls("POST", "/payments")]
    assert len(keys) == 2 and keys[0] == keys[1] == OrderModel.get(offer.order_id).idempotence_key


def test_auto_renewal_consent_saves_payment(pay: PayKit) -> None:
    pay.user(auto_renew=True)
    pay.service().offer_sync(1001, _plan())
    assert (pay.yookassa.api_calls("POST", "/payments")[0].body or {})["save_payment_method"] is True


def test_receipt_contact_once_then_payment(pay: PayKit, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARSBOT_RECEIPT_ENABLED", "true")
    reset_settings()
    pay.user()
    service = PaymentService()
    with pytest.raises(ReceiptContactRequired):
        service.offer_sync(1001, _plan())
    assert asyncio.run(service.save_receipt_contact(1001, "not a contact")) is False
    assert asyncio.run(service.save_receipt_contact(1001, "8 (900) 123-45-67")) is True
    assert UserModel.get(1001).receipt_phone == "+79001234567"

    service.offer_sync(1001, _plan())

    receipt = (pay.yookassa.api_calls("POST", "/payments")[-1].body or {})["receipt"]
    assert receipt["customer"] == {"phone": "79001234567"}
    [item] = receipt["items"]
    assert item["amount"] == {"value": "190.00", "currency": "RUB"} and item["vat_code"] == 1
    assert item["payment_subject"] == "service" and item["payment_mode"] == "full_payment"


def test_receipt_contact_parsing() -> None:
    assert parse_receipt_contact(" Ivan@Example.RU ") == ("email", "ivan@example.ru")
    assert parse_receipt_contact("+7 900 123 45 67") == ("phone", "+79001234567")
    assert parse_receipt_contact("hello") is None


# ---------------------------------------------------------------------------------------- Telegram Stars


@pytest.fixture
def stars(pay: PayKit, monkeypatch: pytest.MonkeyPatch) -> PayKit:
    monkeypatch.setenv("CARSBOT_PAYMENT_PROVIDER", "stars")
    reset_settings()
    return pay


def test_stars_invoice_and_pre_checkout(stars: PayKit) -> None:
    stars.user()
    service = PaymentService()
    offer = service.offer_sync(1001, _plan())
    assert offer.kind == "stars_invoice" and offer.payload == offer.order_id and offer.stars == 100
    assert stars.yookassa.requests == []

    assert asyncio.run(service.pre_checkout(1001, offer.payload, "XTR", 100)) is None
    assert asyncio.run(service.pre_checkout(2002, offer.payload, "XTR", 100))  # someone else's invoice
    assert asyncio.run(service.pre_checkout(1001, offer.payload, "XTR", 1))  # another amount
    assert asyncio.run(service.pre_checkout(1001, "no-such-order", "XTR", 100))


def test_stars_pre_checkout_stale_rejected(stars: PayKit) -> None:
    stars.user()
    now = datetime.now(UTC)
    old = PaymentService(clock=lambda: now - timedelta(hours=3)).offer_sync(1001, _plan())
    service = PaymentService(clock=lambda: now)

    problem = asyncio.run(service.pre_checkout(1001, old.payload, "XTR", 100))

    assert problem is not None and "устарел" in problem
    fresh = service.offer_sync(1001, _plan())
    assert fresh.order_id != old.order_id  # a new tap opens a new order
    assert asyncio.run(service.pre_checkout(1001, fresh.payload, "XTR", 100)) is None


def test_stars_successful_payment_credits_once(stars: PayKit) -> None:
    stars.user()
    service = PaymentService()
    offer = service.offer_sync(1001, _plan())

    first = asyncio.run(service.credit_stars(1001, offer.payload, "stxCHARGE1", "XTR", 100))
    again = asyncio.run(service.credit_stars(1001, offer.payload, "stxCHARGE1", "XTR", 100))

    assert first.credited and not again.credited and first.new_end == again.new_end
    assert stars.credits() == 1 and stars.subscription_end() == first.new_end
    assert asyncio.run(service.pre_checkout(1001, offer.payload, "XTR", 100)) == "Этот счёт уже оплачен."


def test_admin_refund_stars_calls_telegram(stars: PayKit) -> None:
    stars.user()
    service = PaymentService()
    offer = service.offer_sync(1001, _plan())
    asyncio.run(service.credit_stars(1001, offer.payload, "stxCHARGE2", "XTR", 100))
    refunded: list[tuple[int, str]] = []

    async def refund_star_payment(user_id: int, charge_id: str) -> bool:
        refunded.append((user_id, charge_id))
        return True

    preview = asyncio.run(service.refund_preview(offer.order_id))
    assert preview is not None and preview.payment_id == "stars:stxCHARGE2" and preview.amount == "100.00"
    outcome = asyncio.run(service.refund(offer.order_id, refund_star_payment))

    assert refunded == [(1001, "stxCHARGE2")] and outcome.done and outcome.new_end is None
    assert stars.subscription_end() is None
    assert asyncio.run(service.refund_preview("stxCHARGE2")) is None  # fully refunded


# ---------------------------------------------------------------------------------------- YooKassa refunds


def test_admin_refund_of_a_yookassa_payment(pay: PayKit) -> None:
    pay.user(subscription_end=datetime.now(UTC) + timedelta(days=5))
    service = pay.service()
    offer = service.offer_sync(1001, _plan())
    payment_id = OrderModel.get(offer.order_id).provider_payment_id
    pay.yookassa.complete(payment_id, notify=False)
    pay.callback(pay.yookassa.notification("payment.succeeded", payment_id))
    end = pay.subscription_end()
    assert end is not None

    async def no_stars(user_id: int, charge_id: str) -> None:
        raise AssertionError("not a Stars payment")

    outcome = asyncio.run(service.refund(payment_id, no_stars))
    again = asyncio.run(service.refund_preview(payment_id))

    assert outcome.done and pay.subscription_end() == end - timedelta(days=30)
    assert again is None
    [refund] = pay.yookassa.refunds.values()
    assert refund["amount"] == {"value": "190.00", "currency": "RUB"}
    # YooKassa's refund.succeeded notification arrives afterwards: the days are not removed twice.
    assert pay.callback(pay.yookassa.notification("refund.succeeded", refund["id"]))["body"] == "duplicate"
    assert pay.subscription_end() == end - timedelta(days=30)


def test_revenue_comes_from_the_payment_records(pay: PayKit) -> None:
    pay.user()
    for user_id in (1001, 1002):
        pay.user(user_id)
        offer = pay.service().offer_sync(user_id, _plan())
        payment_id = OrderModel.get(offer.order_id).provider_payment_id
        pay.yookassa.complete(payment_id, notify=False)
        pay.callback(pay.yookassa.notification("payment.succeeded", payment_id))
    now = datetime.now(UTC)
    assert refunds.revenue(now - timedelta(days=1), now + timedelta(seconds=1)) == 380
    assert refunds.revenue(now - timedelta(days=3), now - timedelta(days=2)) == 0
    assert Decimal("380") == Decimal(refunds.revenue(now - timedelta(days=7), now + timedelta(minutes=1)))
