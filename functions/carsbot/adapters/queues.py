"""SQS sending (JSON bodies of pydantic contracts)."""

from __future__ import annotations

from pydantic import BaseModel

from carsbot.adapters.aws import client


def send(queue_url: str, message: BaseModel) -> str:
    """Send ``message`` as JSON; returns the SQS message id. Raises on failure (never swallowed)."""
    response = client("sqs").send_message(QueueUrl=queue_url, MessageBody=message.model_dump_json())
    return str(response["MessageId"])
