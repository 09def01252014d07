"""The hourly lifecycle job: reminders once per period, none to blocked users, expiry, auto-renewal that
charges once per period — all through a query of the by-subscription-end index, never a scan."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from payments_harness import PayKit

from carsbot.adapters.db.orders import OrderModel
from carsbot.adapters.db.users import UserModel
from carsbot.adapters.yookassa import YooKassaClient
from carsbot.config import get_settings
from carsbot.payments.lifecycle import LifecycleJob
from carsbot.payments.notices import default_outbox


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def dynamodb_calls(pay: PayKit) -> Iterator[list[tuple[str, str]]]:
    """Every DynamoDB operation (name, table/index) the bound models send, seen at the botocore client."""
    calls: list[tuple[str, str]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, f"{params.get('TableName')}/{params.get('IndexName', '')}"))

    client = UserModel._get_connection().connection.client
    client.meta.events.register("provide-client-params.dynamodb.*", record)
    yield calls
    client.meta.events.unregister("provide-client-params.dynamodb.*", record)


def _job(clock: Clock) -> LifecycleJob:
    settings = get_settings()
    return LifecycleJob(
        settings,
        client_factory=lambda: YooKassaClient.from_settings(settings),
        outbox=default_outbox(settings),
        clock=clock,
    )


def _keys(notices: list[dict[str, Any]]) -> list[str]:
    return sorted(n["dedupe_key"] for n in notices)


def test_reminders_once_none_blocked_no_scan(pay: PayKit, dynamodb_calls: list[tuple[str, str]]) -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    in_60h, in_20h = now + timedelta(hours=60), now + timedelta(hours=20)
    pay.user(1, subscription_end=in_60h)
    pay.user(2, subscription_end=in_20h)
    pay.user(3, subscription_end=now + timedelta(days=10))  # not due
    pay.user(4, subscription_end=now + timedelta(hours=30), blocked=True)
    pay.user(5, subscription_end=now - timedelta(hours=2))  # ended
    pay.user(6)  # never subscribed
    clock = Clock(now)

    first = _job(clock).run()
    second = _job(clock).run()  # the next hourly run (or a retried one)

    notices = pay.notices()
    assert _keys(notices) == [
        "reminder:1:20260304T000000:d3",
        "reminder:2:20260302T080000:d1",
        "reminder:5:20260301T100000:expired",
    ]
    assert first.reminders == 2 and first.expired == 1 and second.reminders == 0 and second.expired == 0
    assert all(n["chat_id"] != 4 for n in notices)
    assert UserModel.get(5).sub_bucket == "expired" and UserModel.get(5).subscription_end is not None
    reminder = next(n for n in notices if n["chat_id"] == 1)
    assert "через 3 дня" in reminder["text"] and reminder["buttons"][0][0]["callback_data"]

    users_table = get_settings().users_table
    on_users = [(op, where) for op, where in dynamodb_calls if where.startswith(users_table + "/")]
    assert ("Query", f"{users_table}/by-subscription-end") in on_users
    assert all(op != "Scan" for op, _ in dynamodb_calls)
    assert first.due == 4 and second.due == 3  # the ended one left the bucket: read once

    clock.now = now + timedelta(hours=44)  # user 1 is 16 hours from the end; users 2 and 4 have ended
    _job(clock).run()
    _job(clock).run()
    assert _keys(pay.notices()) == ["reminder:1:20260304T000000:d1", "reminder:2:20260302T080000:expired"]


def _subscriber_with_saved_card(pay: PayKit, user_id: int = 7) -> tuple[datetime, str]:
    """A user with auto-renewal on buys a month; the payment saves the card. Returns (end, method id)."""
    pay.user(user_id, auto_renew=True)
    plan = get_settings().plan("month")
    assert plan is not None
    offer = pay.service().offer_sync(user_id, plan)
    payment_id = OrderModel.get(offer.order_id).provider_payment_id
    assert pay.yookassa.api_calls("POST", "/payments")[-1].body["save_payment_method"] is True  # type: ignore[index]
    pay.yookassa.complete(payment_id, notify=False)
    assert pay.callback(pay.yookassa.notification("payment.succeeded", payment_id))["body"] == "credited"
    user = UserModel.get(user_id, consistent_read=True)
    assert user.payment_method_id
    pay.notices()
    return user.subscription_end, user.payment_method_id


def _renewal_charges(pay: PayKit, method_id: str) -> list[dict[str, Any]]:
    return [
        p
        for p in pay.yookassa.payments.values()
        if (p.get("payment_method") or {}).get("id") == method_id and p["metadata"].get("kind") == "renewal"
    ]


def test_renewal_job_run_twice_period_charges(pay: PayKit) -> None:
    end, method_id = _subscriber_with_saved_card(pay)
    clock = Clock(end - timedelta(hours=12))

    first = _job(clock).run()
    second = _job(clock).run()

    charges = _renewal_charges(pay, method_id)
    assert len(charges) == 1 and charges[0]["status"] == "succeeded"
    assert first.renewals_charged == 1 and second.renewals_charged == 0
    assert pay.subscription_end(7) == end + timedelta(days=30)
    assert pay.credits() == 2  # the first purchase and one renewal
    [notice] = pay.notices()
    assert notice["dedupe_key"] == f"paid:{charges[0]['id']}" and "автоматически" in notice["text"]

    # The renewal's own notification (YooKassa sends one) changes nothing more.
    assert (
        pay.callback(pay.yookassa.notification("payment.succeeded", charges[0]["id"]))["body"] == "duplicate"
    )
    assert pay.subscription_end(7) == end + timedelta(days=30)


def test_renewal_retried_api_failed_uses_same(pay: PayKit) -> None:
    end, method_id = _subscriber_with_saved_card(pay)
    clock = Clock(end - timedelta(hours=12))
    pay.yookassa.fail_next("POST", "/payments", status=503)

    assert _job(clock).run().renewals_charged == 0
    assert _job(clock).run().renewals_charged == 1

    keys = [
        r.idempotence_key
        for r in pay.yookassa.api_calls("POST", "/payments")
        if r.body and r.body.get("payment_method_id")
    ]
    assert len(keys) == 2 and len(set(keys)) == 1
    assert len(_renewal_charges(pay, method_id)) == 1
    assert pay.subscription_end(7) == end + timedelta(days=30)


def test_declined_renewal_turns_into_reminder(pay: PayKit) -> None:
    end, method_id = _subscriber_with_saved_card(pay)
    pay.yookassa.decline_method(method_id)
    clock = Clock(end - timedelta(hours=12))

    report = _job(clock).run()
    _job(clock).run()

    assert report.renewals_failed == 1
    assert pay.subscription_end(7) == end
    notices = pay.notices()
    failed = [n for n in notices if n["dedupe_key"].startswith("renewal-failed:")]
    assert len(failed) == 1 and failed[0]["buttons"][0][0]["text"] == "Продлить подписку"
    assert len(_renewal_charges(pay, method_id)) == 0  # nothing was taken


def test_lifecycle_function_handler_expires(pay: PayKit) -> None:
    from carsbot_dev.local.runner import LocalLambdaRunner

    pay.user(9, subscription_end=datetime.now(UTC) - timedelta(minutes=5))

    result = LocalLambdaRunner(pay.stack).invoke("JobsFunction", {"job": "lifecycle"})

    assert result["expired"] == 1 and result["errors"] == []
    assert [n["chat_id"] for n in pay.notices()] == [9]
