"""Extract function: posts queue -> listings table -> publish queue.

Thin: parses each SQS record into a ``QueuedPost`` and hands it to ``ExtractService`` behind powertools
idempotency keyed on the post's business id (``channel_id:message_id``; edits and deletions carry their
own key). A record that fails (malformed body, extractor crash, AWS error) fails alone and is retried,
then dead-lettered by the queue's redrive policy.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from carsbot.adapters.db import bind_tables
from carsbot.config import get_settings
from carsbot.core.contracts import QueuedPost
from carsbot.extraction.factory import build_extractor
from carsbot.observability import logger, metrics, tracer
from carsbot.pipeline.extract import ExtractService

# Seconds kept free at the end of an invocation: the LLM is not called past this point (the rules
# engine answers instead), so a slow or failing API can never time the whole batch out.
SAFETY_MARGIN = 15.0

settings = get_settings()
bind_tables(settings)
processor = BatchProcessor(event_type=EventType.SQS)
idempotency_config = IdempotencyConfig(event_key_jmespath="key", expires_after_seconds=14 * 24 * 3600)
persistence = DynamoDBPersistenceLayer(table_name=settings.idempotency_table)
_service: ExtractService | None = None


def service() -> ExtractService:
    global _service
    if _service is None:
        _service = ExtractService(settings, build_extractor(settings=settings))
    return _service


@idempotent_function(data_keyword_argument="job", config=idempotency_config, persistence_store=persistence)
def process_post(job: dict[str, Any]) -> dict[str, Any]:
    post = QueuedPost.model_validate(job["post"])
    return service().process(post).as_dict()


def record_handler(record: SQSRecord) -> dict[str, Any]:
    try:
        post = QueuedPost.model_validate_json(record.body)
    except ValidationError as exc:
        logger.error(
            "malformed queued post",
            extra={"message_id": record.message_id, "errors": exc.errors(include_input=False)[:5]},
        )
        raise
    logger.append_keys(post_id=post.post_id, kind=post.kind.value)
    try:
        return process_post(job={"key": post.idempotency_key, "post": post.model_dump(mode="json")})
    finally:
        logger.remove_keys(["post_id", "kind"])


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency_config.register_lambda_context(context)
    set_deadline = getattr(service().extractor, "set_deadline", None)
    if callable(set_deadline) and hasattr(context, "get_remaining_time_in_millis"):
        set_deadline(time.monotonic() + context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
