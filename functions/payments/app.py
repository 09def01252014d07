"""Payment callback function: ``POST /yookassa`` on the HTTP API (payload format 2.0).

Thin: the source IP comes from the request context (``requestContext.http.sourceIp``, set by API Gateway
from the TCP connection — never from a header a caller could forge), the raw body is decoded, and
``NotificationProcessor`` (``carsbot.payments.callback``) does every check and the credit. The status
code is the processor's: 403 untrusted source, 413/400 bad body, 503 "retry later" (YooKassa redelivers
for 24 hours), 200 for everything processed or deliberately rejected.

Cold start: no aiogram here — user DMs go through the alerts queue.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from carsbot.adapters.db import bound_settings
from carsbot.adapters.yookassa import YooKassaClient
from carsbot.config import Settings
from carsbot.observability import logger, metrics, tracer
from carsbot.payments.callback import MAX_BODY_BYTES, NotificationProcessor
from carsbot.payments.notices import default_outbox

_processor: NotificationProcessor | None = None
_settings: Settings | None = None


def processor() -> NotificationProcessor:
    """Built once per container (again only if the settings were reset, as tests do)."""
    global _processor, _settings
    settings = bound_settings()  # the tables bound once per container, as in every function
    if _processor is None or settings is not _settings:
        _processor = NotificationProcessor(
            settings,
            client_factory=lambda: YooKassaClient.from_settings(settings),
            outbox=default_outbox(settings),
        )
        _settings = settings
    return _processor


def _raw_body(event: APIGatewayProxyEventV2) -> bytes:
    body = event.body or ""
    if len(body) > 2 * MAX_BODY_BYTES:  # far over the limit: do not even decode it
        return body.encode()[: MAX_BODY_BYTES + 1]
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return b"\x00not base64"
    return body.encode()


def _response(status: int, outcome: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "text/plain"}, "body": outcome.split(":")[0]}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=APIGatewayProxyEventV2)
def handler(event: APIGatewayProxyEventV2, context: LambdaContext) -> dict[str, Any]:
    if event.request_context.http.method != "POST":
        return _response(405, "method_not_allowed")
    source_ip = event.request_context.http.source_ip
    answer = processor().handle(source_ip, _raw_body(event))
    logger.info("payment callback answered", extra={"status": answer.status, "outcome": answer.outcome})
    return _response(answer.status, answer.outcome)
