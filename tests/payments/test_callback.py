"""The YooKassa callback through its Lambda handler: trust checks, re-fetch, matching, exactly one credit.

Payments are created by ``PaymentService`` with the real ``yookassa`` SDK over HTTP against the stand-in;
notification bodies are the stand-in's own (what YooKassa would send), delivered as HTTP API events.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from payments_harness import FORGED_IP, PayKit, http_event

from carsbot.adapters.db.orders import OrderModel
from carsbot.config import get_settings


def _paid_payment(pay: PayKit, user_id: int = 1001, plan_code: str = "month") -> tuple[str, str]:
    """A user buys ``plan_code`` and pays on the checkout page; returns (order id, payment id)."""
    plan = get_settings().plan(plan_code)
    assert plan is not None
    offer = pay.service().offer_sync(user_id, plan)
    order = OrderModel.get(offer.order_id)
    assert (
        order.provider_payment_id and offer.url and offer.url.endswith(f"orderId={order.provider_payment_id}")
    )
    pay.yookassa.complete(order.provider_payment_id, notify=False)
    return order.order_id, order.provider_payment_id


def _succeeded(pay: PayKit, payment_id: str) -> dict[str, Any]:
    return pay.yookassa.notification("payment.succeeded", payment_id)


def test_genuine_notification_credits_once(pay: PayKit) -> None:
    pay.user()
    order_id, payment_id = _paid_payment(pay)
    before = datetime.now(UTC)

    answer = pay.callback(_succeeded(pay, payment_id))

    assert answer["statusCode"] == 200 and answer["body"] == "credited"
    end = pay.subscription_end()
    assert end is not None and timedelta(days=30) <= end - before < timedelta(days=30, minutes=5)
    order = OrderModel.get(order_id)
    assert order.status == "succeeded" and order.new_end == end
    [notice] = pay.notices()
    assert notice["chat_id"] == 1001 and notice["dedupe_key"] == f"paid:{payment_id}"
    assert "действует до" in notice["text"]


def test_crediting_extends_from_the_current_end(pay: PayKit) -> None:
    current = datetime.now(UTC) + timedelta(days=10)
    pay.user(subscription_end=current)
    _, payment_id = _paid_payment(pay)

    pay.callback(_succeeded(pay, payment_id))

    assert pay.subscription_end() == current + timedelta(days=30)


def test_five_deliveries_credit_once(pay: PayKit) -> None:
    pay.user()
    _, payment_id = _paid_payment(pay)
    body = _succeeded(pay, payment_id)

    bodies = [pay.callback(body)["body"] for _ in range(5)]

    assert bodies.count("credited") == 1 and bodies.count("duplicate") == 4
    assert pay.credits() == 1
    end = pay.subscription_end()
    assert end is not None and end - datetime.now(UTC) < timedelta(days=30, minutes=5)
    assert len({n["dedupe_key"] for n in pay.notices()}) == 1  # the alerts function sends one DM


def test_eight_concurrent_deliveries_credit_once(pay: PayKit) -> None:
    pay.user()
    _, payment_id = _paid_payment(pay)
    raw = json.dumps(_succeeded(pay, payment_id))
    pay.callback(json.dumps({"type": "notification"}))  # warm the handler so the threads race on the credit
    start = threading.Barrier(8)
    answers: list[dict[str, Any]] = []
    lock = threading.Lock()

    def deliver() -> None:
        start.wait()
        answer = pay.callback(raw)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert [a["statusCode"] for a in answers] == [200] * 8
    assert sorted(a["body"] for a in answers) == ["credited"] + ["duplicate"] * 7
    assert pay.credits() == 1
    end = pay.subscription_end()
    assert end is not None and end - datetime.now(UTC) < timedelta(days=30, minutes=5)


def test_forged_source_ip_is_refused_with_403(pay: PayKit) -> None:
    pay.user()
    _, payment_id = _paid_payment(pay)

    answer = pay.callback(_succeeded(pay, payment_id), source_ip=FORGED_IP)

    assert answer["statusCode"] == 403
    assert pay.credits() == 0 and pay.subscription_end() is None
    assert pay.yookassa.api_calls("GET", "/payments/") == []  # refused before anything else


def test_forwarded_header_does_not_make_caller(pay: PayKit) -> None:
    from carsbot_dev.local.runner import LocalLambdaRunner

    pay.user()
    _, payment_id = _paid_payment(pay)
    event = http_event(json.dumps(_succeeded(pay, payment_id)), FORGED_IP)
    event["headers"]["x-forwarded-for"] = "203.0.113.10"  # the trusted network, in a forgeable header

    assert LocalLambdaRunner(pay.stack).invoke("PaymentsFunction", event)["statusCode"] == 403
    assert pay.credits() == 0


def test_unknown_payment_trusted_ip_no_credit(pay: PayKit) -> None:
    pay.user()
    _, payment_id = _paid_payment(pay)
    body = _succeeded(pay, payment_id)
    body["object"]["id"] = "2f3a0c1e-000f-5000-8000-1a2b3c4d5e6f"  # never created

    answer = pay.callback(body)

    assert answer["statusCode"] == 200 and pay.credits() == 0 and pay.subscription_end() is None


def test_status_mismatch_credits_nothing(pay: PayKit) -> None:
    pay.user()
    plan = get_settings().plan("month")
    assert plan is not None
    offer = pay.service().offer_sync(1001, plan)
    payment_id = OrderModel.get(offer.order_id).provider_payment_id
    body = pay.yookassa.notification("payment.succeeded", payment_id)  # the API still says "pending"
    body["object"]["status"] = "succeeded"

    answer = pay.callback(body)

    assert answer["statusCode"] == 200 and pay.credits() == 0
    assert OrderModel.get(offer.order_id).status == "pending"


@pytest.mark.parametrize("field", ["amount", "currency", "user_id", "plan"])
def test_mismatched_payment_credits_nothing(pay: PayKit, field: str) -> None:
    """A payment whose amount/currency/metadata differ from our order (made with our key by someone)."""
    pay.user()
    order_id, payment_id = _paid_payment(pay)
    stored = pay.yookassa.payments[payment_id]
    if field == "amount":
        stored["amount"]["value"] = "1.00"
    elif field == "currency":
        stored["amount"]["currency"] = "USD"
    else:
        stored["metadata"][field] = "9999" if field == "user_id" else "year"

    answer = pay.callback(_succeeded(pay, payment_id))

    assert answer["statusCode"] == 200 and answer["body"] == "rejected"
    assert pay.credits() == 0 and OrderModel.get(order_id).status == "pending"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("{not json", 400),
        ('{"type": "notification", "event": "payment.succeeded"', 400),  # truncated
        ('["a", "list"]', 400),
        ('{"type": "notification", "event": "payment.succeeded", "object": {}}', 400),
        ('{"hello": "world"}', 400),
        (json.dumps({"type": "notification", "event": "x", "object": {"id": "1"}, "pad": "x" * 70_000}), 413),
        (b"\xff\xfe\x00binary", 400),
    ],
)
def test_bad_bodies_answered_change_nothing(pay: PayKit, body: str | bytes, status: int) -> None:
    pay.user()
    assert pay.callback(body)["statusCode"] == status
    assert pay.credits() == 0 and pay.notices() == []


def test_unknown_event_acknowledged_ignored(pay: PayKit) -> None:
    body = {"type": "notification", "event": "deal.closed", "object": {"id": "dl-1", "status": "closed"}}
    assert pay.callback(body)["statusCode"] == 200
    assert pay.credits() == 0


def test_waiting_for_capture_is_ignored(pay: PayKit) -> None:
    pay.user()
    _, payment_id = _paid_payment(pay)
    body = _succeeded(pay, payment_id)
    body["event"], body["object"]["status"] = "payment.waiting_for_capture", "waiting_for_capture"

    answer = pay.callback(body)
    assert answer["statusCode"] == 200 and answer["body"] == "ignored"
    assert pay.credits() == 0


def test_refetch_fails_then_succeeds_one_credit(pay: PayKit) -> None:
    pay.user()
    _, payment_id = _paid_payment(pay)
    body = _succeeded(pay, payment_id)
    pay.yookassa.fail_next("GET", f"/payments/{payment_id}", status=500)

    first = pay.callback(body)
    assert first["statusCode"] == 503  # non-2xx: YooKassa redelivers
    assert pay.credits() == 0 and pay.subscription_end() is None

    second = pay.callback(body)
    assert second["statusCode"] == 200 and second["body"] == "credited"
    assert pay.credits() == 1


def test_refetch_timing_out_answers_retry(pay: PayKit) -> None:
    pay.user()
    _, payment_id = _paid_payment(pay)
    body = _succeeded(pay, payment_id)
    pay.yookassa.latency = 3.0
    import os

    os.environ["CARSBOT_YOOKASSA_TIMEOUT"] = "0.5"
    from carsbot_dev.local.stack import reset_sdk_caches

    reset_sdk_caches()
    try:
        assert pay.callback(body)["statusCode"] == 503
    finally:
        pay.yookassa.latency = 0.0
        os.environ["CARSBOT_YOOKASSA_TIMEOUT"] = "5"
        reset_sdk_caches()
    assert pay.credits() == 0
    assert pay.callback(body)["body"] == "credited"


def test_canceled_payment_tells_user_credits(pay: PayKit) -> None:
    pay.user()
    plan = get_settings().plan("month")
    assert plan is not None
    offer = pay.service().offer_sync(1001, plan)
    payment_id = OrderModel.get(offer.order_id).provider_payment_id
    pay.yookassa.cancel(payment_id, notify=False)
    body = pay.yookassa.notification("payment.canceled", payment_id)

    assert pay.callback(body)["body"] == "canceled"
    assert pay.callback(body)["statusCode"] == 200  # redelivered: still one notice (dedupe key)

    assert OrderModel.get(offer.order_id).status == "canceled"
    assert pay.credits() == 0 and pay.subscription_end() is None
    notices = pay.notices()
    assert {n["dedupe_key"] for n in notices} == {f"canceled:{offer.order_id}"}
    assert "не прошёл" in notices[0]["text"]


def test_refund_removes_refunded_share_days(pay: PayKit) -> None:
    from carsbot.adapters.yookassa import YooKassaClient

    pay.user()
    _, payment_id = _paid_payment(pay)
    pay.callback(_succeeded(pay, payment_id))
    credited_end = pay.subscription_end()
    assert credited_end is not None
    client = YooKassaClient.from_settings()

    half = client.create_refund(payment_id, Decimal("95.00"), "RUB", idempotence_key="r-half")
    body = pay.yookassa.notification("refund.succeeded", half.id)
    assert pay.callback(body)["body"] == "refunded"
    assert pay.callback(body)["body"] == "duplicate"  # redelivered: days removed once
    assert pay.subscription_end() == credited_end - timedelta(days=15)

    rest = client.create_refund(payment_id, half.amount, "RUB", idempotence_key="r-rest")
    assert pay.callback(pay.yookassa.notification("refund.succeeded", rest.id))["body"] == "refunded"
    assert pay.subscription_end() is None  # a full refund revokes
    assert OrderModel.get(pay.yookassa.payments[payment_id]["metadata"]["order_id"]).status == "refunded"


def test_forged_refund_payment_never_credited(pay: PayKit) -> None:
    body = {
        "type": "notification",
        "event": "refund.succeeded",
        "object": {
            "id": "216749f7-0016-50be-b000-078d43a63ae4",
            "status": "succeeded",
            "amount": {"value": "190.00", "currency": "RUB"},
            "created_at": "2025-01-01T00:00:00.000Z",
            "payment_id": "216749da-000f-50be-b000-096747fad91e",
        },
    }
    assert pay.callback(body)["statusCode"] == 200
    assert pay.credits() == 0


def test_two_concurrent_payments_keep_both(pay: PayKit) -> None:
    """Two payments of one user credited concurrently: the second re-reads the end (no lost days)."""
    pay.user()
    _, month = _paid_payment(pay, plan_code="month")
    _, year = _paid_payment(pay, plan_code="year")
    bodies = [json.dumps(_succeeded(pay, month)), json.dumps(_succeeded(pay, year))]
    start = threading.Barrier(2)
    answers: list[str] = []

    def deliver(body: str) -> None:
        start.wait()
        answers.append(pay.callback(body)["body"])

    threads = [threading.Thread(target=deliver, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert answers == ["credited", "credited"]
    end = pay.subscription_end()
    assert end is not None and abs(end - datetime.now(UTC) - timedelta(days=395)) < timedelta(minutes=5)


def test_logs_carry_ids_never_secrets(pay: PayKit) -> None:
    import io
    import logging

    from carsbot.observability import logger

    pay.user()
    _, payment_id = _paid_payment(pay)
    body = _succeeded(pay, payment_id)
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(logger.registered_formatter)  # the JSON lines Lambda ships, extras included
    targets = [logging.getLogger(logger.name), logging.getLogger()]  # ours, and the SDK's/libraries'
    previous = logger.log_level
    for target in targets:
        target.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        pay.callback(body, source_ip=FORGED_IP)
        pay.callback(body)
        pay.callback(body)
    finally:
        for target in targets:
            target.removeHandler(handler)
        logger.setLevel(previous)
        logging.getLogger().setLevel(logging.WARNING)
    text = sink.getvalue()
    assert payment_id in text  # ids are logged
    # The card as the stand-in describes it ("Bank card *4477", first6 555555, last4 4477): matched as those
    # fields, since a bare "4477" also turns up inside random request ids of the SDK's debug lines.
    for secret in (
        pay.yookassa.secret_key,
        "*4477",
        "last4",
        "555555",
        '"amount"',
        "Bank card",
        "payment_method",
    ):
        assert secret not in text, secret
    assert not re.search(r"(?<![0-9a-f-])4477(?![0-9a-f-])", text)  # the last four digits on their own


def test_missing_shop_credentials_retry_later(pay: PayKit) -> None:
    from carsbot.adapters.aws import client
    from carsbot_dev.local.stack import reset_sdk_caches

    pay.user()
    _, payment_id = _paid_payment(pay)
    client("secretsmanager").put_secret_value(SecretId=pay.stack.secrets["YooKassaSecret"], SecretString="{}")
    reset_sdk_caches()

    assert pay.callback(_succeeded(pay, payment_id))["statusCode"] == 503  # YooKassa redelivers later
    assert pay.credits() == 0
