"""Pumping local queues into the functions, as the Lambda SQS poller would.

Each function is loaded from its ``Handler`` (``extract.app.handler``) in its code directory, exactly as
the Lambda runtime does, and invoked with Lambda-shaped SQS events built from real ``ReceiveMessage``
results. Successes are deleted; ``batchItemFailures`` are made visible again (immediately, instead of
after the visibility timeout) so the queue's redrive policy moves a poison message to its DLQ after
``maxReceiveCount`` receives, as in AWS.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from carsbot_dev.local.stack import LocalStack, QueueMapping


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and powertools read."""

    function_name: str
    memory_limit_in_mb: int = 512
    timeout_seconds: int = 60
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.invoked_function_arn = f"arn:aws:lambda:eu-central-1:123456789012:function:{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class PumpStats:
    invocations: int = 0
    received: int = 0
    succeeded: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """A Lambda SQS event for ``messages`` as returned by ReceiveMessage (AttributeNames=All)."""
    region = queue_arn.split(":")[3]
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody")
                or hashlib.md5(m["Body"].encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


class LocalLambdaRunner:
    """Invokes the stack's functions in this process and pumps their queues."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self._handlers: dict[str, Callable[..., Any]] = {}

    def handler(self, logical_id: str) -> Callable[..., Any]:
        if logical_id not in self._handlers:
            spec = self.stack.functions[logical_id]
            code_dir = str(spec.code_dir)
            if code_dir not in sys.path:
                sys.path.insert(0, code_dir)
            module_name, _, attr = spec.handler.rpartition(".")
            self._handlers[logical_id] = getattr(importlib.import_module(module_name), attr)
        return self._handlers[logical_id]

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        spec = self.stack.functions[logical_id]
        context = LambdaContext(function_name=spec.name, timeout_seconds=spec.timeout)
        return self.handler(logical_id)(event, context)

    def pump_once(self, mapping: QueueMapping, stats: PumpStats) -> int:
        """Receive one batch from the mapping's queue and invoke its function; returns messages received."""
        from carsbot.adapters.aws import client

        sqs = client("sqs")
        response = sqs.receive_message(
            QueueUrl=mapping.queue_url,
            MaxNumberOfMessages=min(10, mapping.batch_size),
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        stats.invocations += 1
        stats.received += len(messages)
        try:
            result = self.invoke(mapping.function, sqs_event(messages, mapping.queue_arn))
            failed_ids = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        except Exception as exc:  # the whole invocation failed: every message is retried
            stats.errors.append(f"{mapping.function}: {type(exc).__name__}: {exc}")
            failed_ids = {m["MessageId"] for m in messages}
        done: list[dict[str, str]] = []
        for message in messages:
            if message["MessageId"] in failed_ids:
                stats.failed += 1
                sqs.change_message_visibility(
                    QueueUrl=mapping.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                stats.succeeded += 1
                done.append({"Id": str(len(done)), "ReceiptHandle": message["ReceiptHandle"]})
        if done:  # one call for the batch, as the Lambda poller deletes them
            sqs.delete_message_batch(QueueUrl=mapping.queue_url, Entries=done)
        return len(messages)

    def drain(self, *, max_rounds: int = 1000) -> dict[str, PumpStats]:
        """Pump every mapped queue until all are empty (a round = one batch from each queue)."""
        stats = {m.function: PumpStats() for m in self.stack.mappings}
        for _ in range(max_rounds):
            moved = sum(self.pump_once(m, stats[m.function]) for m in self.stack.mappings)
            if moved == 0:
                break
        return stats
