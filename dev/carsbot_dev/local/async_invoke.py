"""Asynchronous Lambda invocations (SNS, EventBridge...) the way Lambda runs them, for a local stack.

moto cannot run function code, so an SNS -> Lambda delivery is played here from the function's own
template settings: the handler is called once and then ``EventInvokeConfig.MaximumRetryAttempts`` more
times while it raises; an event that still fails goes to the function's ``DeadLetterQueue`` as Lambda
sends it (body = the event, message attributes ``RequestID``, ``ErrorCode``, ``ErrorMessage``).
Lambda's retry delays (about 1 and 2 minutes) are not waited for.
"""

from __future__ import annotations

import importlib
import json
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from carsbot_dev.local.runner import LambdaContext
from carsbot_dev.local.stack import LocalStack, repo_root

DEFAULT_RETRIES = 2  # Lambda's default for asynchronous invocations


@dataclass
class AsyncOutcome:
    attempts: int
    result: Any = None
    errors: list[str] = field(default_factory=list)
    dead_letter_message_id: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.dead_letter_message_id is None and len(self.errors) < self.attempts


def _handler(properties: dict[str, Any]) -> Callable[..., Any]:
    """The handler named by ``Handler`` (``alarms.app.handler``), imported from functions/ as Lambda would."""
    code_dir = str(repo_root() / "functions")
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    module_name, _, attribute = str(properties["Handler"]).rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)  # type: ignore[no-any-return]


def invoke_async(stack: LocalStack, logical_id: str, event: dict[str, Any]) -> AsyncOutcome:
    """Deliver ``event`` to the template's function ``logical_id`` as an asynchronous invocation."""
    from carsbot.adapters.aws import client

    properties = stack.template["Resources"][logical_id]["Properties"]
    handler = _handler(properties)
    retries = int(properties.get("EventInvokeConfig", {}).get("MaximumRetryAttempts", DEFAULT_RETRIES))
    name = stack.functions[logical_id].name if logical_id in stack.functions else logical_id
    outcome = AsyncOutcome(attempts=0)
    request_id = str(uuid.uuid4())
    for _ in range(1 + retries):
        outcome.attempts += 1
        context = LambdaContext(function_name=name, timeout_seconds=int(properties.get("Timeout", 60)))
        context.aws_request_id = request_id  # Lambda keeps the request id across its retries
        try:
            outcome.result = handler(event, context)
            return outcome
        except Exception as exc:
            outcome.errors.append(f"{type(exc).__name__}: {exc}")
    target = properties.get("DeadLetterQueue", {}).get("TargetArn", {})
    dlq_logical = target.get("Fn::GetAtt", [None])[0] if isinstance(target, dict) else None
    if dlq_logical:
        sent = client("sqs").send_message(
            QueueUrl=stack.queue_url(dlq_logical),
            MessageBody=json.dumps(event),
            MessageAttributes={
                "RequestID": {"DataType": "String", "StringValue": request_id},
                "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                "ErrorMessage": {"DataType": "String", "StringValue": outcome.errors[-1][:1000]},
            },
        )
        outcome.dead_letter_message_id = str(sent["MessageId"])
    return outcome
