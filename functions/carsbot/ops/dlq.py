"""Dead-letter queues of a stage: which they are, why their messages failed, redrive and purge.

The DLQs and what feeds them come from the deployed template: a queue's ``RedrivePolicy`` names its DLQ,
an SQS event-source mapping names the function that consumed the source queue, and a function's
``DeadLetterConfig`` (asynchronous invocations, e.g. the alarm notifier) names its own DLQ. Why a message
failed is what its consumer logged: the function's log group is searched for the message id and the
business ids in its body (``post_id``, ``listing_id``...); Lambda's own DLQ messages carry ``ErrorCode`` /
``ErrorMessage`` attributes. Bodies are shown with secrets and seller contacts removed.

Redrive uses SQS's message move task (``start_message_move_task``). Local endpoints (moto) do not
implement it; there, and only there (``AWS_ENDPOINT_URL`` set), the messages are moved by
receive/send/delete instead, and the result says so.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from carsbot.adapters.aws import client
from carsbot.core.formatting import scrub_contacts
from carsbot.ops.stage import StackInfo

SECRET_KEYS = {"token", "secret", "secret_key", "password", "api_key", "api_hash", "session", "authorization"}
CONTACT_KEYS = {"phone", "phones", "username", "usernames", "seller_phone", "seller_username", "contacts"}
TEXT_KEYS = {"text", "description", "caption", "message"}
TEXT_LIMIT = 300
LOG_LOOKBACK_SECONDS = 14 * 24 * 3600  # the DLQs keep messages 14 days


class QueueNotFound(LookupError):
    pass


@dataclass
class DeadLetterQueue:
    key: str  # short name (posts, publish, alarms...)
    logical_id: str
    name: str
    url: str
    source_logical_id: str | None = None
    source_url: str | None = None
    consumers: list[str] = field(default_factory=list)  # physical function names
    visible: int = 0
    in_flight: int = 0
    arn: str = ""
    source_arn: str | None = None

    @property
    def log_groups(self) -> list[str]:
        return [f"/aws/lambda/{name}" for name in self.consumers]


@dataclass
class DeadMessage:
    message_id: str
    sent_at: datetime | None
    receive_count: int
    source_arn: str | None
    body: str  # redacted
    reasons: list[str]


def _target(value: Any) -> str | None:
    """The logical id inside ``{"Fn::GetAtt": [X, "Arn"]}`` / ``{"Ref": X}``."""
    if isinstance(value, Mapping):
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else str(target).split(".", 1)[0])
        if "Ref" in value:
            return str(value["Ref"])
    return None


def _short(name: str, stage: str) -> str:
    for prefix in (f"carsbot-{stage}-", "carsbot-"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    return name.removesuffix(".fifo").removesuffix("-dlq")


def dead_letter_queues(info: StackInfo, *, with_depths: bool = True) -> list[DeadLetterQueue]:
    """Every DLQ of the stack, with its source queue, its consumers and (optionally) its depth."""
    resources = info.template_resources()
    function_names = {
        lid: r.physical_id for lid, r in info.resources.items() if r.type == "AWS::Lambda::Function"
    }
    consumers: dict[str, list[str]] = {}
    for res in resources.values():
        if res.get("Type") == "AWS::Lambda::EventSourceMapping":
            props = res.get("Properties", {})
            source, function = _target(props.get("EventSourceArn")), _target(props.get("FunctionName"))
            if source and function in function_names:
                consumers.setdefault(source, []).append(function_names[function])
    found: dict[str, DeadLetterQueue] = {}

    def add(dlq_logical: str, source: str | None, functions: list[str]) -> None:
        url = info.queue_url(dlq_logical)
        if not url:
            return
        name = url.rstrip("/").rsplit("/", 1)[-1]
        entry = found.setdefault(
            dlq_logical,
            DeadLetterQueue(key=_short(name, info.stage), logical_id=dlq_logical, name=name, url=url),
        )
        if source and entry.source_logical_id is None:
            entry.source_logical_id, entry.source_url = source, info.queue_url(source)
        entry.consumers += [f for f in functions if f not in entry.consumers]

    for logical_id, res in resources.items():
        props = res.get("Properties", {}) or {}
        if res.get("Type") == "AWS::SQS::Queue":
            dlq = _target((props.get("RedrivePolicy") or {}).get("deadLetterTargetArn"))
            if dlq:
                add(dlq, logical_id, consumers.get(logical_id, []))
        elif res.get("Type") == "AWS::Lambda::Function":
            dlq = _target((props.get("DeadLetterConfig") or {}).get("TargetArn"))
            if dlq:  # listed even while the function is not deployed (a condition is false)
                add(dlq, None, [function_names[logical_id]] if logical_id in function_names else [])
        elif res.get("Type") == "AWS::Lambda::EventInvokeConfig":
            destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            dlq, function = _target(destination), _target(props.get("FunctionName"))
            if dlq and resources.get(dlq, {}).get("Type") == "AWS::SQS::Queue":
                add(dlq, None, [function_names[function]] if function in function_names else [])
    queues = sorted(found.values(), key=lambda q: q.key)
    if with_depths:
        for queue in queues:
            attributes = client("sqs").get_queue_attributes(QueueUrl=queue.url, AttributeNames=["All"])
            values = attributes.get("Attributes", {})
            queue.visible = int(values.get("ApproximateNumberOfMessages", 0))
            queue.in_flight = int(values.get("ApproximateNumberOfMessagesNotVisible", 0))
            queue.arn = str(values.get("QueueArn", ""))
            if queue.source_url:
                source = client("sqs").get_queue_attributes(
                    QueueUrl=queue.source_url, AttributeNames=["QueueArn"]
                )
                queue.source_arn = str(source["Attributes"]["QueueArn"])
    return queues


def find_queue(info: StackInfo, name: str) -> DeadLetterQueue:
    """A DLQ by short name (``posts``), queue name, logical id or source queue's logical id."""
    queues = dead_letter_queues(info)
    for queue in queues:
        if name in (queue.key, queue.name, queue.logical_id, queue.source_logical_id, f"{queue.key}-dlq"):
            return queue
    known = ", ".join(q.key for q in queues) or "none"
    raise QueueNotFound(f"no dead-letter queue {name!r} in stack {info.name} (its DLQs: {known})")


# ---------------------------------------------------------------------------------------------- show


def redact(value: Any, key: str = "") -> Any:
    """A copy of a decoded body without secrets or seller contacts (long texts shortened)."""
    lowered = key.lower()
    if lowered in SECRET_KEYS or lowered.endswith(("_token", "_secret", "_password")):
        return "***"
    if lowered in CONTACT_KEYS:
        return "***" if value else value
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, key) for v in value]
    if isinstance(value, str) and (lowered in TEXT_KEYS or len(value) > 80):
        cleaned = scrub_contacts(value)
        return cleaned if len(cleaned) <= TEXT_LIMIT else cleaned[:TEXT_LIMIT] + "…"
    return value


def redacted_body(body: str) -> tuple[str, dict[str, Any]]:
    """``(printable body, decoded JSON or {})``."""
    try:
        decoded = json.loads(body)
    except ValueError:
        text = scrub_contacts(body)
        return (text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + "…"), {}
    if not isinstance(decoded, dict):
        return json.dumps(redact(decoded), ensure_ascii=False), {}
    return json.dumps(redact(decoded), ensure_ascii=False, sort_keys=True), decoded


def business_ids(decoded: Mapping[str, Any]) -> list[str]:
    """Ids the consumers log: ``listing_id``, ``post_id`` (``channel_id:message_id``)."""
    ids = [str(decoded[k]) for k in ("listing_id", "post_id", "order_id", "payment_id") if decoded.get(k)]
    if decoded.get("channel_id") and decoded.get("message_id"):
        ids.append(f"{decoded['channel_id']}:{decoded['message_id']}")
    return list(dict.fromkeys(ids))


def _log_line(message: str) -> str | None:
    try:
        entry = json.loads(message)
    except ValueError:
        return message.strip()[:TEXT_LIMIT] or None
    if not isinstance(entry, dict):
        return None
    level = str(entry.get("level", "")).upper()
    if level and level not in ("ERROR", "WARNING", "CRITICAL"):
        return None
    parts = [str(entry.get("message", "")).strip()]
    for key in ("error", "reason", "exception"):
        if entry.get(key):
            parts.append(f"{key}: {scrub_contacts(str(entry[key]))[:TEXT_LIMIT]}")
    when = entry.get("timestamp")
    return (f"[{when}] " if when else "") + " — ".join(p for p in parts if p)


def logged_reasons(log_groups: Iterable[str], needles: Iterable[str], *, limit: int = 3) -> list[str]:
    """The newest error/warning lines of ``log_groups`` that mention any of ``needles``."""
    from botocore.exceptions import ClientError

    logs = client("logs")
    start = int((time.time() - LOG_LOOKBACK_SECONDS) * 1000)
    found: list[tuple[int, str]] = []
    for group in log_groups:
        for needle in needles:
            try:
                events = logs.filter_log_events(
                    logGroupName=group, filterPattern=f'"{needle}"', startTime=start, limit=50
                ).get("events", [])
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    continue  # the function has not logged yet
                raise
            for event in events:
                line = _log_line(str(event.get("message", "")))
                if line:
                    found.append((int(event.get("timestamp", 0)), line))
    newest = sorted(set(found), reverse=True)
    return [line for _, line in newest[:limit]]


def _epoch_ms(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (TypeError, ValueError):
        return None


def peek(queue: DeadLetterQueue, *, max_messages: int = 10, with_reasons: bool = True) -> list[DeadMessage]:
    """Up to ``max_messages`` messages of ``queue``, left in the queue (visible again at once)."""
    sqs = client("sqs")
    received: dict[str, dict[str, Any]] = {}
    handles: list[str] = []
    while len(received) < max_messages:
        batch = sqs.receive_message(
            QueueUrl=queue.url,
            MaxNumberOfMessages=min(10, max_messages - len(received)),
            VisibilityTimeout=30,  # hidden while paging so no message is read twice; released below
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            received.setdefault(message["MessageId"], message)
            handles.append(message["ReceiptHandle"])
    for start in range(0, len(handles), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
            for i, h in enumerate(handles[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=queue.url, Entries=entries)
    messages = []
    for message in received.values():
        attributes = message.get("Attributes", {})
        body, decoded = redacted_body(str(message.get("Body", "")))
        reasons: list[str] = []
        user_attributes = message.get("MessageAttributes", {})
        if "ErrorMessage" in user_attributes or "ErrorCode" in user_attributes:  # Lambda's async DLQ
            code = user_attributes.get("ErrorCode", {}).get("StringValue", "")
            text = user_attributes.get("ErrorMessage", {}).get("StringValue", "")
            reasons.append(f"Lambda: {code} {scrub_contacts(text)[:TEXT_LIMIT]}".strip())
        if with_reasons and queue.log_groups:
            reasons += logged_reasons(queue.log_groups, [message["MessageId"], *business_ids(decoded)])
        messages.append(
            DeadMessage(
                message_id=message["MessageId"],
                sent_at=_epoch_ms(attributes.get("SentTimestamp")),
                receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
                source_arn=attributes.get("DeadLetterQueueSourceArn"),
                body=body,
                reasons=reasons,
            )
        )
    return messages


# ------------------------------------------------------------------------------------- redrive / purge


@dataclass
class RedriveResult:
    method: str  # "move-task" | "client-side"
    moved: int | None  # None: the move task runs in the background
    task_handle: str | None = None
    note: str = ""


def _move_by_hand(queue: DeadLetterQueue, destination_url: str, limit: int | None) -> int:
    sqs = client("sqs")
    moved = 0
    while limit is None or moved < limit:
        batch = sqs.receive_message(
            QueueUrl=queue.url,
            MaxNumberOfMessages=10 if limit is None else min(10, limit - moved),
            VisibilityTimeout=60,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            break
        entries = [
            {"Id": str(i), "MessageBody": m["Body"]}
            | ({"MessageAttributes": m["MessageAttributes"]} if m.get("MessageAttributes") else {})
            for i, m in enumerate(batch)
        ]
        sent = sqs.send_message_batch(QueueUrl=destination_url, Entries=entries)
        ok = {entry["Id"] for entry in sent.get("Successful", [])}
        done = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch) if str(i) in ok
        ]
        if done:
            sqs.delete_message_batch(QueueUrl=queue.url, Entries=done)
        moved += len(done)
        if len(done) < len(batch):
            failed = [f.get("Message", "") for f in sent.get("Failed", [])]
            raise RuntimeError(f"moved {moved}; sending to the source queue failed: {failed[:3]}")
    return moved


def redrive(
    queue: DeadLetterQueue, *, max_per_second: int | None = None, client_side: bool = False
) -> RedriveResult:
    """Move ``queue``'s messages back to its source queue."""
    from botocore.exceptions import ClientError

    if not queue.source_url or not queue.source_arn:
        raise QueueNotFound(
            f"{queue.name} holds a function's failed asynchronous invocations, not a queue's messages: "
            "nothing to redrive to; read them (dlq show) and purge them when handled"
        )
    if not client_side:
        request: dict[str, Any] = {"SourceArn": queue.arn, "DestinationArn": queue.source_arn}
        if max_per_second:
            request["MaxNumberOfMessagesPerSecond"] = max_per_second
        try:
            handle = client("sqs").start_message_move_task(**request)["TaskHandle"]
            return RedriveResult(method="move-task", moved=None, task_handle=str(handle))
        except (ClientError, NotImplementedError) as exc:
            endpoint = os.environ.get("AWS_ENDPOINT_URL")
            if not endpoint:
                raise
            note = (
                f"the endpoint {endpoint} has no SQS message move task ({type(exc).__name__}); "
                "moved by receive/send/delete instead"
            )
    else:
        note = "moved by receive/send/delete (--client-side)"
    moved = _move_by_hand(queue, queue.source_url, None)
    return RedriveResult(method="client-side", moved=moved, note=note)


def move_task_status(queue: DeadLetterQueue) -> list[dict[str, Any]]:
    tasks = client("sqs").list_message_move_tasks(SourceArn=queue.arn, MaxResults=1).get("Results", [])
    return list(tasks)


def purge(queue: DeadLetterQueue, *, confirm: Callable[[str], bool]) -> bool:
    """Purge ``queue`` after ``confirm(question)`` says yes. Returns whether it was purged."""
    question = (
        f"Delete all {queue.visible + queue.in_flight} message(s) of {queue.name}? This cannot be undone."
    )
    if not confirm(question):
        return False
    client("sqs").purge_queue(QueueUrl=queue.url)
    return True
