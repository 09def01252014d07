"""Publish function: publish queue -> news channel (Bot API), at most once per listing.

Thin: each SQS record is parsed into a ``ListingMessage`` and handed to ``Publisher.handle``
(``carsbot.pipeline.publish``); one ``Publisher`` (one Bot API session) serves the whole batch, with the
invocation's remaining time as its budget. A record that fails — malformed body, a transient Bot API or
AWS error, a permanent Bot API error — fails alone (a batch item failure) and is logged once here: the
queue delivers it again and, after ``maxReceiveCount`` receives, moves it to the publish DLQ.

Cold start: aiogram (~2 s to import) is imported only when the first record needs the Bot API.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from carsbot.adapters.db import bound_settings
from carsbot.adapters.notify import enqueue_alert_job
from carsbot.adapters.queues import parse_body
from carsbot.core.contracts import ListingMessage
from carsbot.observability import add_metric, logger, metrics, tracer
from carsbot.pipeline.publish import (
    PermanentPublishError,
    Publisher,
    PublishError,
    RetryablePublishError,
)

# Seconds kept free at the end of an invocation (for the DynamoDB writes after a send).
SAFETY_MARGIN = 10.0

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
_publisher: Publisher | None = None  # the current invocation's (set by lambda_handler)


def record_handler(record: SQSRecord) -> dict[str, Any]:
    message = parse_body(record, ListingMessage)  # a malformed body is logged there, and fails the record
    if _publisher is None:
        raise RuntimeError("record_handler runs inside lambda_handler")
    receive_count = record.attributes.approximate_receive_count
    extra = {"listing_id": message.listing_id, "action": message.action, "receive_count": receive_count}
    try:
        outcome = _publisher.handle(message)
    except RetryablePublishError as exc:
        logger.warning("publish will be retried", extra={**extra, "error": str(exc)})
        raise
    except PermanentPublishError as exc:
        logger.error(
            "publish failed permanently; dead-lettered after retries", extra={**extra, "error": str(exc)}
        )
        raise
    except PublishError as exc:  # e.g. the listing does not exist
        logger.error("publish failed", extra={**extra, "error": str(exc)})
        raise
    except Exception as exc:
        logger.exception("publish failed unexpectedly", extra={**extra, "error": type(exc).__name__})
        raise
    if outcome.result == "published":
        _queue_alerts(message.listing_id)
    return asdict(outcome)


def _queue_alerts(listing_id: str) -> None:
    """Saved-search alerts for a newly published listing: the alerts function matches and sends them.

    The post is out already, so a failure here is logged and counted, never raised (a retry would not
    re-post, and it would not queue the job either).
    """
    try:
        enqueue_alert_job(listing_id)
    except Exception:
        logger.exception("could not queue the alert job", extra={"listing_id": listing_id})
        add_metric("AlertJobEnqueueFailed")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    global _publisher
    settings = bound_settings()
    budget = max(0.0, context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN)
    _publisher = Publisher(settings, time_budget=budget)
    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        _publisher.close()
        _publisher = None


handler = lambda_handler  # template.yaml: Handler: publish.app.handler
