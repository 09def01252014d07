"""Payments test harness: Lambda-shaped HTTP API (payload 2.0) events for the callback and ``PayKit``
(users, the payment service, the callback handler, notices on the alerts queue, credits).

"YooKassa's network" in these tests is 203.0.113.0/24 (TEST-NET-3); a forged caller comes from
198.51.100.7. The callback's source IP is taken from ``requestContext.http.sourceIp`` as in AWS.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from carsbot_dev.local.stack import LocalStack
from carsbot_dev.local.yookassa_standin import YooKassaStandin

YOOKASSA_IP = "203.0.113.10"
FORGED_IP = "198.51.100.7"
TEST_NETWORK = "203.0.113.0/24"


def http_event(
    body: str | bytes, source_ip: str = YOOKASSA_IP, *, base64_body: bool = False
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event for ``POST /yookassa``."""
    raw = body.encode() if isinstance(body, str) else body
    now = datetime.now(UTC)
    return {
        "version": "2.0",
        "routeKey": "POST /yookassa",
        "rawPath": "/yookassa",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "user-agent": "YooKassa",
            "x-forwarded-for": YOOKASSA_IP,
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "local.execute-api.eu-central-1.amazonaws.com",
            "domainPrefix": "local",
            "http": {
                "method": "POST",
                "path": "/yookassa",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": "YooKassa",
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": "POST /yookassa",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": base64.b64encode(raw).decode() if base64_body else raw.decode("utf-8", "replace"),
        "isBase64Encoded": base64_body,
    }


@dataclass
class PayKit:
    stack: LocalStack
    yookassa: YooKassaStandin

    def user(self, user_id: int = 1001, **fields: Any) -> Any:
        from carsbot.adapters.db.users import UserModel

        user = UserModel(user_id=user_id, first_name="Иван", **fields)
        if fields.get("subscription_end") is not None:
            user.sub_bucket = "sub"
        user.save()
        return user

    def service(self, **kwargs: Any) -> Any:
        from carsbot.payments.checkout import PaymentService

        return PaymentService(**kwargs)

    def callback(self, body: dict[str, Any] | str | bytes, source_ip: str = YOOKASSA_IP) -> dict[str, Any]:
        """Invoke the real Lambda handler (``payments.app.handler``) with an HTTP API event."""
        from carsbot_dev.local.runner import LocalLambdaRunner

        raw = json.dumps(body) if isinstance(body, dict) else body
        return LocalLambdaRunner(self.stack).invoke("PaymentsFunction", http_event(raw, source_ip))  # type: ignore[no-any-return]

    def notices(self) -> list[dict[str, Any]]:
        """Every NotifyMessage on the alerts queue (received and deleted)."""
        from carsbot.adapters.aws import client
        from carsbot.config import get_settings

        sqs, url = client("sqs"), get_settings().notify_queue_url
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
            if not batch:
                break
            for message in batch:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return found

    def credits(self) -> int:
        from carsbot.adapters.db.orders import PaymentModel

        return sum(1 for _ in PaymentModel.scan())

    def subscription_end(self, user_id: int = 1001) -> datetime | None:
        from carsbot.adapters.db.users import UserModel

        return UserModel.get(user_id, consistent_read=True).subscription_end  # type: ignore[no-any-return]
