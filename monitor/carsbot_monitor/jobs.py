"""The monitor's work: per-channel state, the job types and the work queue the workers take them from.

Event handlers and the catch-up only *put* jobs here; workers do them (``live.py``, ``backfill.py``).
A full queue never loses a post: a new post that does not fit marks its channel for a history read, an
edit or deletion waits in the deferred queue. Every retry waits by one :class:`~carsbot.core.backoff.Backoff`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from carsbot.core.backoff import Backoff
from carsbot_monitor import health
from carsbot_monitor.convert import ChannelInfo
from carsbot_monitor.health import Telemetry


@dataclass
class ChannelState:
    """A channel the monitor watches (active and resolved), keyed by numeric channel id.

    ``checkpoint`` is the highest message id such that every message up to it was accepted by SQS (or
    is no post); ``saved_checkpoint`` is what the ChannelsTable holds (see ``checkpoints.py``).
    """

    ref: str
    info: ChannelInfo
    access_hash: int
    checkpoint: int
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    backfill_queued: bool = False
    dirty: bool = False  # needs a backfill at ``retry_at``
    failures: int = 0
    retry_at: float = 0.0
    saved_checkpoint: int = 0
    save_failures: int = 0
    save_retry_at: float = 0.0
    deleted: deque[int] = field(default_factory=lambda: deque(maxlen=500))

    @property
    def channel_id(self) -> int:
        return self.info.channel_id

    @property
    def peer(self) -> Any:
        from telethon.tl import types

        return types.InputPeerChannel(self.info.channel_id, self.access_hash)


@dataclass
class NewJob:
    """A live new post (one message, or the items of an album event)."""

    channel_id: int
    messages: list[Any]


@dataclass
class EditJob:
    channel_id: int
    message: Any
    attempts: int = 0
    not_before: float = 0.0


@dataclass
class DeleteJob:
    channel_id: int
    message_ids: list[int]
    attempts: int = 0
    not_before: float = 0.0


@dataclass
class BackfillJob:
    """Read the channel's history from its checkpoint and queue what is there."""

    channel_id: int
    reason: str


Job = NewJob | EditJob | DeleteJob | BackfillJob


class WorkQueue:
    """The asyncio job queue, the deferred edits/deletions and the per-channel retry schedule."""

    def __init__(self, *, maxsize: int, retry: Backoff, send_attempts: int, telemetry: Telemetry) -> None:
        self.maxsize = maxsize
        self.retry = retry
        self.send_attempts = send_attempts
        self.telemetry = telemetry
        self.log = telemetry.logger
        self.deferred: deque[EditJob | DeleteJob] = deque(maxlen=10000)
        self._queue: asyncio.Queue[Job] | None = None

    @property
    def queue(self) -> asyncio.Queue[Job]:
        if self._queue is None:  # made on first use: it binds to the running loop
            self._queue = asyncio.Queue(maxsize=self.maxsize)
        return self._queue

    def size(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0

    # ---------------------------------------------------------------- putting work
    def put(self, job: Job, channel: ChannelState | None = None) -> None:
        """Queue ``job``; when the queue is full, defer it (edit/deletion) or re-read the channel."""
        try:
            self.queue.put_nowait(job)
        except asyncio.QueueFull:
            self.telemetry.count(health.EVENTS_DROPPED)
            if isinstance(job, EditJob | DeleteJob):
                self.deferred.append(job)
            elif channel is not None:
                self.schedule(channel, 0.0)  # the backfill will read it from history

    def put_backfill(self, channel: ChannelState, reason: str) -> None:
        """Queue one history read for ``channel`` (at most one waits at a time)."""
        if channel.backfill_queued:
            return
        channel.backfill_queued = True
        try:
            self.queue.put_nowait(BackfillJob(channel.channel_id, reason))
        except asyncio.QueueFull:
            channel.backfill_queued = False
            channel.dirty = True

    def schedule(self, channel: ChannelState, delay: float) -> None:
        """Re-read this channel from its checkpoint in ``delay`` seconds."""
        channel.dirty = True
        channel.retry_at = time.monotonic() + delay

    def mark_failed(self, channel: ChannelState, delay: float | None = None) -> None:
        """Something went wrong for this channel: re-read it from the checkpoint later (backing off)."""
        channel.failures += 1
        self.schedule(channel, self.retry.delay(channel.failures) if delay is None else delay)

    def defer(self, job: EditJob | DeleteJob) -> None:
        """Retry a failed edit/deletion later (they cannot be re-read from history)."""
        job.attempts += 1
        job.not_before = time.monotonic() + self.retry.delay(job.attempts)
        self.deferred.append(job)
        if job.attempts >= self.send_attempts and job.attempts % self.send_attempts == 0:
            self.log.error(
                "an edit/deletion keeps failing; still retrying",
                extra={"channel_id": job.channel_id, "attempts": job.attempts},
            )

    def failed(self, job: Job, channel: ChannelState | None) -> None:
        """A job did not complete: defer an edit/deletion, re-read the channel of anything else."""
        if isinstance(job, EditJob | DeleteJob):
            self.defer(job)
        elif channel is not None:
            if isinstance(job, BackfillJob):
                channel.backfill_queued = False
            self.mark_failed(channel)

    def release_due(self, channels: Iterable[ChannelState], now: float) -> None:
        """Queue what is due: history reads of channels marked for one, deferred edits/deletions."""
        for channel in channels:
            if channel.dirty and channel.retry_at <= now and not channel.backfill_queued:
                self.put_backfill(channel, "retry")
        for _ in range(len(self.deferred)):
            job = self.deferred.popleft()
            if job.not_before > now:
                self.deferred.append(job)
                continue
            try:
                self.queue.put_nowait(job)
            except asyncio.QueueFull:
                self.deferred.append(job)
                break

    async def drain(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) until every queued job was done."""
        if self._queue is None:
            return
        try:
            async with asyncio.timeout(timeout):
                await self._queue.join()
        except TimeoutError:
            pass
