"""The outbox: queueing bot notices for the rate-limited fan-out (``functions/alerts/app.py``).

Everything that DMs users outside a conversation goes through here — saved-search alerts, the admin
broadcast, payment reminders and expiry notices — so the bot never exceeds Telegram's ~30 messages a
second and never sends to users who blocked it (the alerts function checks both)::

    from carsbot.adapters.notify import enqueue
    enqueue([NotifyMessage(chat_id=42, text="...", dedupe_key=f"reminder:42:{end:%Y%m%d}:3d")])

A notice is delivered at most once per ``dedupe_key`` however often it is queued. ``enqueue`` raises
when SQS did not accept a message (nothing is swallowed); the messages before it were queued.
"""

from __future__ import annotations

from collections.abc import Iterable

from carsbot.adapters.queues import MAX_BATCH, QueueSender
from carsbot.config import get_settings
from carsbot.core.contracts import AlertJob, NotifyMessage


class EnqueueError(RuntimeError):
    """SQS refused some messages; ``queued`` were accepted before the first refusal."""

    def __init__(self, message: str, queued: int) -> None:
        super().__init__(message)
        self.queued = queued


def _sender(queue_url: str | None) -> QueueSender:
    return QueueSender(queue_url or get_settings().notify_queue_url)


def enqueue(messages: Iterable[NotifyMessage], *, queue_url: str | None = None) -> int:
    """Queue notices (batches of ten); returns how many were queued."""
    sender = _sender(queue_url)
    batch: list[NotifyMessage] = []
    queued = 0

    def flush() -> None:
        nonlocal queued
        accepted = sender.send_batch(batch)
        for ok in accepted:
            if not ok:
                raise EnqueueError("SQS refused a notice", queued)
            queued += 1
        batch.clear()

    for message in messages:
        batch.append(message)
        if len(batch) == MAX_BATCH:
            flush()
    if batch:
        flush()
    return queued


def enqueue_alert_job(listing_id: str, *, queue_url: str | None = None) -> str:
    """Ask the alerts function to DM the saved searches a newly published listing matches."""
    return _sender(queue_url).send(AlertJob(listing_id=listing_id))
