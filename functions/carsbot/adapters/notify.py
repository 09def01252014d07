"""The outbox: queueing bot notices for the rate-limited fan-out (``functions/alerts/app.py``).

Everything that DMs users outside a conversation goes through here — saved-search alerts, the admin
broadcast, payment reminders and expiry notices — so the bot never exceeds Telegram's ~30 messages a
second and never sends to users who blocked it (the alerts function checks both)::

    from carsbot.adapters.notify import enqueue
    enqueue([NotifyMessage(chat_id=42, text="...", dedupe_key=f"reminder:42:{end:%Y%m%d}:3d")])

A notice is delivered at most once per ``dedupe_key`` however often it is queued. ``enqueue`` raises
when SQS did not accept a message (nothing is swallowed); the messages before it were queued.

A mass fan-out passes ``pack=True``: its notices travel as ``NotifyBatch`` queue messages of up to
``PACK_SIZE`` notices (and ``PACK_BYTES`` of JSON), several to a ``SendMessageBatch`` within SQS's size
limit — a thousand alerts are twenty queue messages and two requests, not a thousand messages and a
hundred requests, and the alerts function claims a pack's dedupe keys in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from carsbot.adapters.queues import MAX_BATCH, QueueSender
from carsbot.config import get_settings
from carsbot.core.contracts import AlertJob, NotifyBatch, NotifyMessage

PACK_SIZE = 50  # notices per NotifyBatch (the alerts function claims them in one transaction)
PACK_BYTES = 64 * 1024  # JSON per NotifyBatch (an SQS message holds 256 KiB)
REQUEST_BYTES = 200 * 1024  # bodies per SendMessageBatch (SQS allows 256 KiB in all)


class EnqueueError(RuntimeError):
    """SQS refused some messages; ``queued`` were accepted before the first refusal."""

    def __init__(self, message: str, queued: int) -> None:
        super().__init__(message)
        self.queued = queued


def _sender(queue_url: str | None) -> QueueSender:
    return QueueSender(queue_url or get_settings().notify_queue_url)


def enqueue(messages: Iterable[NotifyMessage], *, queue_url: str | None = None, pack: bool = False) -> int:
    """Queue notices (one queue message each, or packed); returns how many notices were queued."""
    sender = _sender(queue_url)
    batch: list[NotifyMessage | NotifyBatch] = []
    counts: list[int] = []  # notices in each queued body of ``batch``
    size = 0
    queued = 0

    def flush() -> None:
        nonlocal queued, size
        accepted = sender.send_batch(batch)
        for ok, count in zip(accepted, counts, strict=True):
            if not ok:
                raise EnqueueError("SQS refused a notice", queued)
            queued += count
        batch.clear()
        counts.clear()
        size = 0

    for body, count, length in _bodies(messages, pack):
        if batch and (len(batch) == MAX_BATCH or size + length > REQUEST_BYTES):
            flush()
        batch.append(body)
        counts.append(count)
        size += length
    if batch:
        flush()
    return queued


def _bodies(
    messages: Iterable[NotifyMessage], pack: bool
) -> Iterator[tuple[NotifyMessage | NotifyBatch, int, int]]:
    """Queue bodies with their notice counts and JSON sizes: each notice, or packs of them."""
    if not pack:
        for message in messages:
            yield message, 1, len(message.model_dump_json().encode())
        return
    group: list[NotifyMessage] = []
    size = 0
    for message in messages:
        length = len(message.model_dump_json().encode())
        if group and (len(group) == PACK_SIZE or size + length > PACK_BYTES):
            yield NotifyBatch(messages=group), len(group), size
            group, size = [], 0
        group.append(message)
        size += length
    if group:
        yield NotifyBatch(messages=group), len(group), size


def enqueue_alert_job(listing_id: str, *, queue_url: str | None = None) -> str:
    """Ask the alerts function to DM the saved searches a newly published listing matches."""
    return _sender(queue_url).send(AlertJob(listing_id=listing_id))
