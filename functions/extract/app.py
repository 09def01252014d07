"""Extract function: posts queue -> listings table -> publish queue.

Thin: each SQS record is parsed into a ``QueuedPost`` and handed to ``ExtractService.process`` behind
powertools idempotency keyed on the post's business id (``channel_id:message_id``; edits and deletions
carry their own key), with the invocation's deadline so the LLM is never called past it. A record that
fails (malformed body, extractor crash, AWS error) fails alone and is logged once here; the queue
retries it, then dead-letters it (redrive policy).
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

from carsbot.adapters.db import bound_settings
from carsbot.adapters.queues import parse_body
from carsbot.config import get_settings
from carsbot.core.contracts import QueuedPost
from carsbot.extraction.factory import build_extractor
from carsbot.observability import logger, metrics, tracer
from carsbot.pipeline.extract import ExtractService

# Seconds kept free at the end of an invocation: the LLM is not called past this point (the rules
# engine answers instead), so a slow or failing API can never time the whole batch out.
SAFETY_MARGIN = 15.0
IDEMPOTENCY_TTL = 14 * 24 * 3600

processor = BatchProcessor(event_type=EventType.SQS)
idempotency_config = IdempotencyConfig(event_key_jmespath="key", expires_after_seconds=IDEMPOTENCY_TTL)
persistence = DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table)
_service: ExtractService | None = None


def service() -> ExtractService:
    """The use-case, built on first use (once per container)."""
    global _service
    if _service is None:
        settings = bound_settings()
        _service = ExtractService(settings, build_extractor(settings=settings))
    return _service


@idempotent_function(data_keyword_argument="job", config=idempotency_config, persistence_store=persistence)
def process_post(job: dict[str, Any], deadline: float | None = None) -> dict[str, Any]:
    """One post, at most once per idempotency key (``job["key"]``); ``deadline`` is not part of it."""
    post = QueuedPost.model_validate(job["post"])
    return service().process(post, deadline=deadline).as_dict()


def record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None) -> dict[str, Any]:
    post = parse_body(record, QueuedPost)  # a malformed body is logged there, and fails the record
    deadline = None
    if lambda_context is not None:
        deadline = time.monotonic() + lambda_context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN
    logger.append_keys(post_id=post.post_id, kind=post.kind.value)
    try:
        job = {"key": post.idempotency_key, "post": post.model_dump(mode="json")}
        return process_post(job=job, deadline=deadline)
    except Exception as exc:
        logger.exception(
            "post failed; the queue retries it",
            extra={"receive_count": record.attributes.approximate_receive_count, "error": type(exc).__name__},
        )
        raise
    finally:
        logger.remove_keys(["post_id", "kind"])


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    bound_settings()
    idempotency_config.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


handler = lambda_handler  # template.yaml: Handler: extract.app.handler
