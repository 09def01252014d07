"""SQS sending: JSON bodies of pydantic contracts, one message or a batch of up to ten.

A message counts as queued only once SQS returned its message id: ``send`` raises on any failure (never
swallowed), ``send_batch`` raises when the whole call fails and reports per-entry failures as ``False``
so a caller can stop (e.g. the monitor's checkpoint) before the first message that did not make it.
FIFO queues (``.fifo``) get a message group and a content-based deduplication id from the caller's keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from carsbot.adapters import aws
from carsbot.core.contracts import QueuedPost
from carsbot.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

MAX_BATCH = 10
M = TypeVar("M", bound=BaseModel)


class MalformedMessageError(ValueError):
    """A received body that is not the expected contract: the record fails until the queue dead-letters it."""


def parse_body(record: SQSRecord, model: type[M]) -> M:
    """A received record's body as ``model``. A malformed one is logged (message id, receive count and the
    validation errors, never the body: it may hold a seller's contacts) and raises MalformedMessageError."""
    try:
        return model.model_validate_json(record.body)
    except ValidationError as exc:
        logger.error(
            f"malformed {model.__name__} message",
            extra={
                "message_id": record.message_id,
                "receive_count": record.attributes.approximate_receive_count,
                "errors": exc.errors(include_input=False, include_url=False)[:5],
            },
        )
        raise MalformedMessageError(f"record {record.message_id} is not a {model.__name__}") from None


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to send: the contract, string attributes, and the FIFO keys (ignored otherwise)."""

    body: BaseModel
    attributes: Mapping[str, str] = field(default_factory=dict)
    group_id: str | None = None
    dedup_key: str | None = None  # hashed into MessageDeduplicationId on FIFO queues


def post_message(post: QueuedPost) -> OutgoingMessage:
    """A queued post as the extract function receives it (kind and post id as message attributes)."""
    return OutgoingMessage(
        post,
        attributes={"kind": post.kind.value, "post_id": post.post_id},
        group_id=str(post.channel_id),
        dedup_key=post.idempotency_key,
    )


class QueueSender:
    """Sends to one queue. ``client`` is an SQS client (default: the shared one from ``adapters.aws``)."""

    def __init__(self, queue_url: str, client: Any = None) -> None:
        if not queue_url:
            raise ValueError("no queue URL configured")
        self.queue_url = queue_url
        self.fifo = queue_url.endswith(".fifo")
        self._client = client

    @property
    def client(self) -> Any:
        return self._client if self._client is not None else aws.client("sqs")

    def _fields(self, message: OutgoingMessage) -> dict[str, Any]:
        fields: dict[str, Any] = {"MessageBody": message.body.model_dump_json()}
        if message.attributes:
            fields["MessageAttributes"] = {
                name: {"DataType": "String", "StringValue": value}
                for name, value in message.attributes.items()
            }
        if self.fifo:
            body = fields["MessageBody"]
            key = message.dedup_key if message.dedup_key is not None else body
            fields["MessageGroupId"] = message.group_id or "default"
            fields["MessageDeduplicationId"] = hashlib.sha256(key.encode()).hexdigest()
        return fields

    def send(self, message: BaseModel | OutgoingMessage) -> str:
        """Send one message; returns the SQS message id. Raises when SQS did not accept it."""
        outgoing = message if isinstance(message, OutgoingMessage) else OutgoingMessage(message)
        response = self.client.send_message(QueueUrl=self.queue_url, **self._fields(outgoing))
        return str(response["MessageId"])

    def send_batch(self, messages: Sequence[BaseModel | OutgoingMessage]) -> list[bool]:
        """Send up to ten messages in one call; returns, per message, whether SQS accepted it."""
        if not messages:
            return []
        if len(messages) > MAX_BATCH:
            raise ValueError(f"SQS batches hold at most {MAX_BATCH} messages")
        entries = [
            {"Id": str(index), **self._fields(m if isinstance(m, OutgoingMessage) else OutgoingMessage(m))}
            for index, m in enumerate(messages)
        ]
        response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        accepted = {entry["Id"] for entry in response.get("Successful", [])}
        return [str(index) in accepted for index in range(len(messages))]


def send(queue_url: str, message: BaseModel | OutgoingMessage) -> str:
    """Send one message to ``queue_url`` with the shared client; returns the SQS message id."""
    return QueueSender(queue_url).send(message)
