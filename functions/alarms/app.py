"""Alarms function: the stage's alarm topic (SNS) -> a Russian message in the admins' Telegram chat.

Thin: each SNS record carries one CloudWatch alarm state change (ALARM or OK); ``carsbot.ops.alarms``
formats it (what broke, what to do, the runbook section) and sends it through the Bot API. SNS invokes the
function asynchronously: a send that still fails after the Bot API adapter's own bounded retries raises,
Lambda retries the event (``EventInvokeConfig``) and then moves it to the function's DLQ
(``AlarmNotifyDLQ``; its own alarm reaches the optional e-mail subscription).
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.data_classes import SNSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from carsbot.observability import add_metric, logger, metrics
from carsbot.ops.alarms import AlarmNotifier, parse_notification

sleep = time.sleep  # the Bot API adapter's waits between retries (tests replace the clock)


@logger.inject_lambda_context
@metrics.log_metrics
@event_source(data_class=SNSEvent)
def handler(event: SNSEvent, context: LambdaContext) -> dict[str, Any]:
    notifier = AlarmNotifier.from_settings(sleep=sleep)
    sent: list[int] = []
    try:
        for record in event.records:
            alarm = parse_notification(record.sns.message)
            extra = {"alarm": alarm.name, "state": alarm.new_state, "sns_message_id": record.sns.message_id}
            try:
                sent += notifier.send(alarm)
            except Exception as exc:
                add_metric("AlarmNotifyFailed")
                logger.error("alarm not delivered to the admin chat", extra={**extra, "error": str(exc)})
                raise
            add_metric("AlarmNotifySent")
            logger.info("alarm delivered to the admin chat", extra=extra)
    finally:
        notifier.close()
    return {"sent": sent}
