"""Scheduled jobs function (EventBridge Scheduler, hourly): the subscription lifecycle.

Thin: builds ``LifecycleJob`` (``carsbot.payments.lifecycle``) once per container and runs it —
auto-renewal charges a day before the end, reminders 3 days and 1 day before, expiry notices — through
one query of the ``by-subscription-end`` index. A subscriber whose step failed is reported and the
invocation fails after all the others were handled, so the scheduler's retry (and the next hourly run)
picks it up; every step is idempotent (markers, renewal keys derived from user + period).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from carsbot.adapters.db import bound_settings
from carsbot.adapters.yookassa import YooKassaClient
from carsbot.config import Settings
from carsbot.observability import logger, metrics, tracer
from carsbot.payments.lifecycle import LifecycleJob
from carsbot.payments.notices import default_outbox

_job: LifecycleJob | None = None
_settings: Settings | None = None


class JobFailed(RuntimeError):
    """Some subscribers could not be handled (each is logged); the next run retries them."""


def job() -> LifecycleJob:
    global _job, _settings
    settings = bound_settings()  # the tables bound once per container, as in every function
    if _job is None or settings is not _settings:
        _job = LifecycleJob(
            settings,
            client_factory=lambda: YooKassaClient.from_settings(settings),
            outbox=default_outbox(settings),
        )
        _settings = settings
    return _job


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = job().run()
    summary = asdict(report)
    logger.info("lifecycle job done", extra={k: v for k, v in summary.items() if k != "errors"})
    if report.errors:
        raise JobFailed(f"{len(report.errors)} subscribers failed: {', '.join(report.errors[:10])}")
    return summary
