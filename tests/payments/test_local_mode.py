"""Local mode: the stand-in's checkout page "Оплатить" form completes the payment and POSTs the
notification from 127.0.0.1 to ``POST /yookassa`` served like API Gateway, which runs the real handler;
local mode trusts only 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from payments_harness import PayKit

from carsbot.adapters.db.orders import OrderModel
from carsbot.config import get_settings
from carsbot_dev.local.payments_demo import (
    LOCAL_NETWORK,
    PaymentsCallbackServer,
    pay_on_checkout_page,
    payment_counts,
)
from carsbot_dev.local.runner import LocalLambdaRunner
from carsbot_dev.local.stack import reset_sdk_caches


@pytest.fixture
def local(pay: PayKit, monkeypatch: pytest.MonkeyPatch) -> Iterator[PaymentsCallbackServer]:
    monkeypatch.setenv("CARSBOT_YOOKASSA_TRUSTED_NETWORKS", LOCAL_NETWORK)
    reset_sdk_caches()
    with PaymentsCallbackServer(LocalLambdaRunner(pay.stack).handler("PaymentsFunction")) as server:
        pay.yookassa.callback_url = server.url
        yield server


def test_paying_checkout_page_credits_through(pay: PayKit, local: PaymentsCallbackServer) -> None:
    pay.user()
    plan = get_settings().plan("month")
    assert plan is not None
    offer = pay.service().offer_sync(1001, plan)
    assert offer.url and "/checkout/payments/v2/contract?orderId=" in offer.url

    page = pay_on_checkout_page(offer.url)

    assert "Оплата прошла" in page
    assert [(d.event, d.status) for d in pay.yookassa.deliveries] == [("payment.succeeded", 200)]
    assert local.answers == [200]
    assert OrderModel.get(offer.order_id).status == "succeeded"
    assert payment_counts() == (1, 1)
    assert pay.subscription_end() is not None


def test_local_mode_refuses_any_other_network(
    pay: PayKit, local: PaymentsCallbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARSBOT_YOOKASSA_TRUSTED_NETWORKS", "203.0.113.0/24")  # not 127.0.0.1
    reset_sdk_caches()
    pay.user()
    plan = get_settings().plan("month")
    assert plan is not None
    offer = pay.service().offer_sync(1001, plan)
    assert offer.url

    pay_on_checkout_page(offer.url)

    assert local.answers == [403] and payment_counts() == (1, 0)


def test_cancel_button_cancels_credits_nothing(pay: PayKit, local: PaymentsCallbackServer) -> None:
    pay.user()
    plan = get_settings().plan("month")
    assert plan is not None
    offer = pay.service().offer_sync(1001, plan)
    assert offer.url

    assert "отменён" in pay_on_checkout_page(offer.url, button="Отменить")

    assert OrderModel.get(offer.order_id).status == "canceled" and payment_counts() == (1, 0)
