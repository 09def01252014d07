"""The payments router through the real bot webhook handler (``functions/bot/app.py``), aiogram against
the Bot API stand-in, PaymentService wired by the entry point: the plan button -> YooKassa link,
Telegram Stars pre-checkout and successful_payment, and the admin ``/refund`` with its confirm step."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from payments_harness import PayKit

from carsbot.adapters.aws import client
from carsbot.adapters.db.orders import OrderModel
from carsbot.config import reset_settings
from carsbot_dev.local.botapi_standin import BotApiStandin
from carsbot_dev.local.runner import LocalLambdaRunner
from carsbot_dev.local.stack import reset_sdk_caches
from carsbot_dev.local.telegram_updates import ChatSession, UpdateFactory, http_api_event

SECRET = "local_payments-webhook_secret"
ADMIN = 900002
BUYER = 4242


@pytest.fixture
def bot(pay: PayKit, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[BotApiStandin, Callable[..., Any]]]:
    with BotApiStandin() as api:
        monkeypatch.setenv("CARSBOT_BOT_API_BASE", api.base_url)
        monkeypatch.setenv("CARSBOT_ADMIN_IDS", str(ADMIN))
        client("secretsmanager").put_secret_value(
            SecretId=pay.stack.secrets["BotWebhookSecret"], SecretString=json.dumps({"token": SECRET})
        )
        reset_sdk_caches()
        runner = LocalLambdaRunner(pay.stack)

        def deliver(update: dict[str, Any]) -> dict[str, Any]:
            return runner.invoke("BotFunction", http_api_event(update, SECRET))  # type: ignore[no-any-return]

        yield api, deliver
    reset_sdk_caches()


def _session(
    bot: tuple[BotApiStandin, Callable[..., Any]], updates: UpdateFactory, user_id: int
) -> ChatSession:
    api, deliver = bot
    return ChatSession(api, deliver, updates, user_id)


@pytest.fixture
def updates() -> UpdateFactory:
    return UpdateFactory(start_id=int(time.time() * 1000) % 10**9)


def test_plan_button_gives_a_yookassa_pay_button(pay: PayKit, bot: Any, updates: UpdateFactory) -> None:
    buyer = _session(bot, updates, BUYER)
    buyer.send("/start")

    replies = buyer.press("plan:month")

    [url] = [b[1] for r in replies for b in r.buttons if b[1].startswith("http")]
    [payment] = pay.yookassa.payments.values()
    assert url == pay.yookassa.checkout_url(payment["id"])
    assert payment["metadata"]["user_id"] == str(BUYER)


def _pre_checkout(updates: UpdateFactory, user_id: int, payload: str, total: int) -> dict[str, Any]:
    return {
        "update_id": next(updates._ids),
        "pre_checkout_query": {
            "id": f"pcq-{time.monotonic_ns()}",
            "from": UpdateFactory.user(user_id),
            "currency": "XTR",
            "total_amount": total,
            "invoice_payload": payload,
        },
    }


def _paid(updates: UpdateFactory, user_id: int, payload: str, charge: str) -> dict[str, Any]:
    paid = {
        "currency": "XTR",
        "total_amount": 100,
        "invoice_payload": payload,
        "telegram_payment_charge_id": charge,
        "provider_payment_charge_id": "",
    }
    return {
        "update_id": next(updates._ids),
        "message": updates._message(UpdateFactory.user(user_id), successful_payment=paid),
    }


def test_stars_invoice_pre_checkout_and_payment(
    pay: PayKit, bot: Any, updates: UpdateFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARSBOT_PAYMENT_PROVIDER", "stars")
    reset_settings()
    api, deliver = bot
    buyer = _session(bot, updates, BUYER)
    buyer.send("/start")

    buyer.press("plan:month")
    [invoice] = api.calls_of("sendInvoice")
    payload = str(invoice.params["payload"])
    assert OrderModel.get(payload).provider == "stars"

    deliver(_pre_checkout(updates, BUYER + 1, payload, 100))  # someone else's invoice
    deliver(_pre_checkout(updates, BUYER, payload, 100))
    answers = [
        (c.params.get("ok"), c.params.get("error_message")) for c in api.calls_of("answerPreCheckoutQuery")
    ]
    assert [str(ok).lower() for ok, _ in answers] == ["false", "true"]
    assert "устарел" in str(answers[0][1])

    paid = _paid(updates, BUYER, payload, "stxBOTCHARGE1")
    deliver(paid)
    deliver(paid)  # Telegram redelivers the update
    deliver(_paid(updates, BUYER, payload, "stxBOTCHARGE1"))  # the same charge in another update
    assert pay.credits() == 1
    end = pay.subscription_end(BUYER)
    assert end is not None and (end - datetime.now(UTC)).days in (29, 30)
    confirmations = [m for m in api.private_messages(BUYER) if "действует до" in m.html]
    assert len(confirmations) == 1

    deliver(_pre_checkout(updates, BUYER, payload, 100))  # the paid invoice again
    assert str(api.calls_of("answerPreCheckoutQuery")[-1].params.get("ok")).lower() == "false"

    # An admin refunds the Stars payment: refundStarPayment with the user and the charge id, days revoked.
    admin = _session(bot, updates, ADMIN)
    [confirm] = admin.send("/refund stxBOTCHARGE1")
    [yes] = [data for text, data in confirm.buttons if text == "Да, вернуть"]
    admin.press(yes)
    [refund] = api.calls_of("refundStarPayment")
    assert str(refund.params["user_id"]) == str(BUYER)
    assert refund.params["telegram_payment_charge_id"] == "stxBOTCHARGE1"
    assert pay.subscription_end(BUYER) is None


def test_admin_refund_asks_confirm_then(pay: PayKit, bot: Any, updates: UpdateFactory) -> None:
    api, _ = bot
    pay.user(BUYER)
    offer = pay.service().offer_sync(BUYER, pay_plan())
    payment_id = OrderModel.get(offer.order_id).provider_payment_id
    pay.yookassa.complete(payment_id, notify=False)
    pay.callback(pay.yookassa.notification("payment.succeeded", payment_id))
    admin = _session(bot, updates, ADMIN)
    stranger = _session(bot, updates, BUYER)

    assert all("Вернуть" not in r.text for r in stranger.send(f"/refund {payment_id}"))  # not an admin
    [confirm] = admin.send(f"/refund {payment_id}")
    assert "Вернуть платёж" in confirm.text and pay.yookassa.refunds == {}
    [yes] = [data for text, data in confirm.buttons if text == "Да, вернуть"]

    admin.press(yes)

    [refund] = pay.yookassa.refunds.values()
    assert refund["payment_id"] == payment_id and refund["amount"]["value"] == "190.00"
    assert pay.subscription_end(BUYER) is None  # the only payment, fully refunded: revoked
    assert any("Возврат" in m.html and "выполнен" in m.html for m in api.private_messages(ADMIN))


def pay_plan() -> Any:
    from carsbot.config import get_settings

    plan = get_settings().plan("month")
    assert plan is not None
    return plan


def test_admin_stats_revenue_comes_payment(pay: PayKit, bot: Any, updates: UpdateFactory) -> None:
    pay.user(BUYER)
    offer = pay.service().offer_sync(BUYER, pay_plan())
    payment_id = OrderModel.get(offer.order_id).provider_payment_id
    pay.yookassa.complete(payment_id, notify=False)
    pay.callback(pay.yookassa.notification("payment.succeeded", payment_id))
    admin = _session(bot, updates, ADMIN)

    [stats] = admin.send("/stats")

    assert stats.text.count("Выручка: 190 ₽") >= 1, stats.text


def test_receipt_contact_asked_once(
    pay: PayKit, bot: Any, updates: UpdateFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARSBOT_RECEIPT_ENABLED", "true")
    reset_settings()
    buyer = _session(bot, updates, BUYER)
    buyer.send("/start")

    [ask] = buyer.press("plan:month")
    assert "e-mail или номер телефона" in ask.text and pay.yookassa.payments == {}
    [again] = buyer.send("не скажу")
    assert "Не похоже" in again.text
    [offer] = buyer.send("Ivan@Example.ru")

    assert any(text == "Оплатить" and target.startswith("http") for text, target in offer.buttons)
    [call] = pay.yookassa.api_calls("POST", "/payments")
    assert (call.body or {})["receipt"]["customer"] == {"email": "ivan@example.ru"}

    replies = buyer.press("plan:year")  # asked once: the next purchase goes straight to the payment
    assert any(text == "Оплатить" for r in replies for text, _ in r.buttons)
