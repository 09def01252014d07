"""Alerts function: the alerts queue -> saved-search matching and rate-limited notices to users.

Three kinds of record (``carsbot.core.contracts``): an ``AlertJob`` (a listing was published) is
expanded into one ``NotifyMessage`` per matching subscriber, queued back here in packs (``NotifyBatch``,
up to 50 notices a queue message); a ``NotifyMessage`` (an admin broadcast, a payment reminder) or a
pack of them is sent through ``carsbot.alerts.sender.NoticeSender`` — 30 messages a second overall, 1 per
chat, 429s waited out, blocked users skipped and marked, each notice at most once. A record that cannot be
handled now fails alone (batch item failure) and comes back (a pack: with only its unsent notices left to
send); after five receives it lands in the alerts DLQ.

``runtime`` holds what tests and the local runner may replace (``clock``, ``sleep``, ``bot_factory``).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from carsbot.adapters.db import bind_tables
from carsbot.adapters.notify import enqueue
from carsbot.adapters.telegram_bot import ChannelBot
from carsbot.alerts.fanout import expand
from carsbot.alerts.sender import NoticeSender
from carsbot.config import Settings, get_settings
from carsbot.core.contracts import AlertJob, NotifyBatch, NotifyMessage
from carsbot.observability import logger, metrics

SAFETY_MARGIN = 10.0  # seconds kept free at the end of an invocation


def _bot(settings: Settings) -> ChannelBot:
    # No inline waits or retries in the adapter: the sender paces, pauses on 429 and retries itself.
    return ChannelBot.from_settings(settings, max_inline_wait=0.0, max_attempts=1, request_timeout=10.0)


@dataclass
class Runtime:
    """Per container: the clock, and one Bot API session kept across invocations (a close costs 0.25 s)."""

    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    bot_factory: Callable[[Settings], ChannelBot] = _bot
    sender: NoticeSender | None = field(default=None, repr=False)
    _bot: ChannelBot | None = field(default=None, repr=False)
    _bot_settings: Settings | None = field(default=None, repr=False)

    def bot(self, settings: Settings) -> ChannelBot:
        if self._bot is None or self._bot_settings is not settings:
            self.close_bot()
            self._bot, self._bot_settings = self.bot_factory(settings), settings
        return self._bot

    def close_bot(self) -> None:
        if self._bot is not None:
            self._bot.close()
            self._bot = None


runtime = Runtime()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
_bound: Settings | None = None


def _settings() -> Settings:
    global _bound
    settings = get_settings()
    if settings is not _bound:
        bind_tables(settings)
        _bound = settings
    return settings


def record_handler(record: SQSRecord) -> dict[str, Any]:
    try:
        body = json.loads(record.body)
        kind = body.get("kind") if isinstance(body, dict) else None
        if kind == "alert_job":
            job = AlertJob.model_validate(body)
            now = datetime.fromtimestamp(runtime.clock(), UTC)
            return vars(expand(job, now=now, outbox=functools.partial(enqueue, pack=True)))
        if kind == "notify_batch":
            pack = NotifyBatch.model_validate(body)
        else:
            message = NotifyMessage.model_validate(body)
    except (ValueError, ValidationError) as exc:
        logger.error(
            "malformed alerts record", extra={"message_id": record.message_id, "error": type(exc).__name__}
        )
        raise
    assert runtime.sender is not None, "record_handler runs inside handler()"
    if kind == "notify_batch":
        results = runtime.sender.send_all(pack.messages)
        return {"notices": len(results), "sent": results.count("sent")}
    return {"chat_id": message.chat_id, "result": runtime.sender.send(message)}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    settings = _settings()
    deadline = None
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        deadline = runtime.clock() + max(0.0, context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN)
    runtime.sender = NoticeSender(
        settings, lambda: runtime.bot(settings), clock=runtime.clock, sleep=runtime.sleep, deadline=deadline
    )
    runtime.sender.expect(_notices(event))
    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        runtime.sender.release_unused()
        runtime.sender.stats.publish()
        runtime.sender = None


def _notices(event: dict[str, Any]) -> list[NotifyMessage]:
    """The batch's notices in order (recipients read and claims taken ahead; malformed records are left
    to the record handler)."""
    notices = []
    for record in event.get("Records", []):
        try:
            body = json.loads(record.get("body") or "")
            if not isinstance(body, dict) or body.get("kind") == "alert_job":
                continue
            if body.get("kind") == "notify_batch":  # as record_handler reads it
                notices += NotifyBatch.model_validate(body).messages
            else:
                notices.append(NotifyMessage.model_validate(body))
        except (ValueError, ValidationError):
            continue
    return notices


try:  # a restored container must not reuse a session from before
    from snapshot_restore_py import register_after_restore  # type: ignore[import-not-found]

    register_after_restore(runtime.close_bot)
except ImportError:  # pragma: no cover - outside Lambda
    pass
