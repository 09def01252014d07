"""Payments benchmark, printed (never asserted): ``make bench`` runs ``python -m carsbot_dev.bench_payments``.

1. **Callback handling time per notification, warm**: genuine ``payment.succeeded`` notifications through
   the real handler (``payments.app.handler``, HTTP API events) against the local stack (moto server) and
   the YooKassa stand-in. The re-fetch's round trip to the stand-in is timed separately and subtracted
   (stand-in latency excluded); redeliveries (duplicates) are timed too. Baseline in the same run: one
   bare DynamoDB ``GetItem`` round trip to the same moto server.
2. **Lifecycle (expiry/reminder) job for 10,000 subscribers of which 300 are due**: the job's time and the
   DynamoDB read units of what it read (its index query), against a full table scan that finds the same
   300 measured in the same run. Read units follow DynamoDB's rules (eventually consistent: 0.5 unit per
   4 KB of items read, item sizes from attribute names and values), computed from the items each call
   returned or scanned, since moto does not meter capacity.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from carsbot_dev.local.moto_isolation import serialize_dynamodb


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's item size (bytes) of a low-level item: attribute names plus values."""

    def value_size(value: dict[str, Any]) -> int:
        (kind, raw), *_ = value.items()
        if kind in ("S", "B"):
            return len(str(raw).encode())
        if kind == "N":
            digits = str(raw).lstrip("-").replace(".", "").lstrip("0") or "0"
            return math.ceil(len(digits) / 2) + 1
        if kind in ("BOOL", "NULL"):
            return 1
        if kind in ("SS", "NS", "BS"):
            return sum(value_size({kind[0]: v}) for v in raw)
        if kind == "L":
            return 3 + sum(value_size(v) + 1 for v in raw)
        if kind == "M":
            return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in raw.items())
        return len(json.dumps(raw))

    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def read_units(sizes: list[int]) -> float:
    """Eventually consistent Query/Scan: 0.5 units per 4 KB of the items read (summed, rounded up)."""
    return math.ceil(sum(sizes) / 4096) * 0.5 if sizes else 0.5


@contextmanager
def metered(client: Any) -> Iterator[dict[str, Any]]:
    """Count Query/Scan calls on a botocore client and the sizes of the items they read."""
    meter: dict[str, Any] = {"calls": [], "sizes": []}

    def after(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in ("Query", "Scan"):
            meter["calls"].append(model.name)
            meter["sizes"].extend(item_size(i) for i in parsed.get("Items", []))

    client.meta.events.register("after-call.dynamodb", after)
    try:
        yield meter
    finally:
        client.meta.events.unregister("after-call.dynamodb", after)


def _http_event(body: str, source_ip: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "version": "2.0",
        "routeKey": "POST /yookassa",
        "rawPath": "/yookassa",
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "http": {"method": "POST", "path": "/yookassa", "sourceIp": source_ip, "protocol": "HTTP/1.1"},
            "requestId": str(now.timestamp()),
            "routeKey": "POST /yookassa",
            "stage": "$default",
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": body,
        "isBase64Encoded": False,
    }


def callback_section(stack: Any, standin: Any, count: int) -> list[str]:
    from carsbot.adapters.db.orders import OrderModel
    from carsbot.adapters.db.users import UserModel
    from carsbot.adapters.yookassa import YooKassaClient
    from carsbot.config import get_settings
    from carsbot.payments.checkout import PaymentService
    from carsbot_dev.local.runner import LocalLambdaRunner

    plan = get_settings().plans[0]
    bodies: list[str] = []
    for index in range(count + 5):
        user_id = 500_000 + index
        UserModel(user_id=user_id).save()
        offer = PaymentService().offer_sync(user_id, plan)
        payment_id = OrderModel.get(offer.order_id).provider_payment_id
        standin.complete(payment_id, notify=False)
        bodies.append(json.dumps(standin.notification("payment.succeeded", payment_id)))

    runner = LocalLambdaRunner(stack)
    handler = runner.handler("PaymentsFunction")
    refetch: list[float] = []
    original = YooKassaClient.get_payment

    def timed_get(self: YooKassaClient, payment_id: str) -> Any:
        started = time.perf_counter()
        try:
            return original(self, payment_id)
        finally:
            refetch.append(time.perf_counter() - started)

    YooKassaClient.get_payment = timed_get  # type: ignore[method-assign]
    try:
        for body in bodies[:5]:  # warm-up: imports, settings, SDK configuration, connections
            runner.invoke("PaymentsFunction", _http_event(body, "127.0.0.1"))
        refetch.clear()
        totals = []
        for body in bodies[5:]:
            started = time.perf_counter()
            answer = runner.invoke("PaymentsFunction", _http_event(body, "127.0.0.1"))
            totals.append(time.perf_counter() - started)
            assert answer["statusCode"] == 200 and answer["body"] == "credited", answer
        first_refetch = list(refetch)
        refetch.clear()
        duplicates = []
        for body in bodies[5:]:
            started = time.perf_counter()
            runner.invoke("PaymentsFunction", _http_event(body, "127.0.0.1"))
            duplicates.append(time.perf_counter() - started)
        dup_refetch = list(refetch)
    finally:
        YooKassaClient.get_payment = original  # type: ignore[method-assign]
    del handler

    from carsbot.adapters.aws import client

    ddb = client("dynamodb")
    table = get_settings().users_table
    baseline = []
    for index in range(count):
        started = time.perf_counter()
        ddb.get_item(TableName=table, Key={"user_id": {"N": str(500_000 + index)}})
        baseline.append(time.perf_counter() - started)

    def ms(values: list[float]) -> str:
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        return f"median {statistics.median(values) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"

    net = [t - r for t, r in zip(totals, first_refetch, strict=False)]
    net_dup = [t - r for t, r in zip(duplicates, dup_refetch, strict=False)]
    bare = statistics.median(baseline)
    return [
        f"payment callback, warm, {count} genuine notifications (credit): {ms(net)} without the re-fetch "
        f"(re-fetch round trip to the stand-in: {ms(first_refetch)}; total {ms(totals)})",
        f"payment callback, redelivered (duplicate, no credit): {ms(net_dup)} without the re-fetch",
        f"baseline: one DynamoDB GetItem round trip to the same moto server: median {bare * 1000:.1f} ms; "
        f"a credit costs {statistics.median(net) / bare:.1f}x that (reads + one 3-item transaction + SQS)",
    ]


def lifecycle_section(subscribers: int, due: int) -> list[str]:
    from carsbot.adapters.aws import client
    from carsbot.adapters.db.users import UserModel
    from carsbot.config import get_settings
    from carsbot.core.contracts import NotifyMessage
    from carsbot.payments.lifecycle import LifecycleJob

    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    with UserModel.batch_write() as batch:
        for index in range(subscribers):
            if index < due:  # due: ends within the next 3 days, or ended
                end = now + timedelta(hours=(index % 80) - 8)
            else:  # not due: 4 to 360 days away
                end = now + timedelta(days=4 + index % 356, minutes=index % 60)
            batch.save(
                UserModel(
                    user_id=1_000_000 + index,
                    username=f"user{index}",
                    first_name="Подписчик",
                    language="ru",
                    registered_at=now - timedelta(days=100),
                    plan="month",
                    subscription_end=end,
                    sub_bucket="sub",
                    updated_at=now,
                )
            )

    class CountingOutbox:
        sent = 0

        def send(self, messages: list[NotifyMessage]) -> None:
            CountingOutbox.sent += len(messages)

    settings = get_settings()
    ddb = client("dynamodb")
    horizon = UserModel.subscription_end.serialize(now + timedelta(days=3))
    with metered(ddb) as scan_meter:
        started = time.perf_counter()
        found = 0
        for page in ddb.get_paginator("scan").paginate(TableName=settings.users_table):
            for item in page["Items"]:
                end = item.get("subscription_end", {}).get("S")
                if item.get("sub_bucket", {}).get("S") == "sub" and end is not None and end <= horizon:
                    found += 1
        scan_seconds = time.perf_counter() - started
    job = LifecycleJob(settings, client_factory=lambda: None, outbox=CountingOutbox(), clock=lambda: now)  # type: ignore[arg-type,return-value]
    pynamo_client = UserModel._get_connection().connection.client
    with metered(pynamo_client) as job_meter:
        started = time.perf_counter()
        report = job.run()
        job_seconds = time.perf_counter() - started

    job_units, scan_units = read_units(job_meter["sizes"]), read_units(scan_meter["sizes"])
    return [
        f"lifecycle job, {subscribers:,} subscribers, {due} due: {job_seconds:.2f} s for {report.due} read "
        f"({report.reminders} reminders, {report.expired} expired, {CountingOutbox.sent} notices), "
        f"{len(job_meter['calls'])} {'/'.join(sorted(set(job_meter['calls'])))} call(s), "
        f"{job_units:,.1f} read units",
        f"baseline, before the job: a full scan finding the same due subscribers ({found}): "
        f"{scan_seconds:.2f} s, "
        f"{len(scan_meter['sizes']):,} items read in {len(scan_meter['calls'])} Scan call(s), "
        f"{scan_units:,.1f} read units — the query reads {scan_units / job_units:,.0f}x fewer units",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--notifications", type=int, default=100)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=300)
    args = parser.parse_args(argv)

    import os

    from carsbot_dev.local.demo_support import QUIET_ENV
    from carsbot_dev.local.stack import local_aws
    from carsbot_dev.local.yookassa_standin import YooKassaStandin

    os.environ.update(QUIET_ENV)
    serialize_dynamodb()
    with YooKassaStandin(redelivery_delays=()) as standin:
        secret = json.dumps({"shop_id": standin.shop_id, "secret_key": standin.secret_key})
        parameters = {"YooKassaApiUrl": standin.api_url, "YooKassaTrustedNetworks": "127.0.0.1/32"}
        with local_aws(
            parameters=parameters, secret_values={"YooKassaSecret": secret}, extra_env=QUIET_ENV
        ) as stack:
            lines = callback_section(stack, standin, args.notifications)
            stack.clear_data()
            lines += lifecycle_section(args.subscribers, args.due)
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
