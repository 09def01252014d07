"""The workers: take jobs off the work queue, one channel at a time, and the maintenance loop.

A job runs under its channel's lock (jobs of one channel never overlap; those of different channels run
in parallel on ``workers`` tasks). A job that fails is retried: an edit/deletion is deferred, anything
else marks the channel for a history read from its checkpoint. The maintenance loop releases what is due
(history reads, deferred edits/deletions) and retries checkpoint writes that failed.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from carsbot_monitor.backfill import Backfiller
from carsbot_monitor.checkpoints import CheckpointKeeper
from carsbot_monitor.jobs import BackfillJob, EditJob, Job, NewJob, WorkQueue
from carsbot_monitor.live import LivePosts
from carsbot_monitor.session import SessionDead
from carsbot_monitor.watchlist import Watchlist


class Workers:
    def __init__(
        self,
        *,
        watchlist: Watchlist,
        work: WorkQueue,
        live: LivePosts,
        backfill: Backfiller,
        checkpoints: CheckpointKeeper,
        logger: Any,
    ) -> None:
        self.watchlist = watchlist
        self.work = work
        self.live = live
        self.backfill = backfill
        self.checkpoints = checkpoints
        self.log = logger

    async def run(self) -> None:
        """One worker task; raises ``SessionDead`` (after re-queuing its job) when the session dies."""
        queue = self.work.queue
        while True:
            job = await queue.get()
            try:
                await self.handle(job)
            except (SessionDead, asyncio.CancelledError):
                self.work.failed(job, self.watchlist.channels.get(job.channel_id))
                raise
            except Exception as exc:
                self.work.failed(job, self.watchlist.channels.get(job.channel_id))
                self.log.exception("job failed", extra={"job": type(job).__name__, "error": repr(exc)})
            finally:
                queue.task_done()

    async def handle(self, job: Job) -> None:
        channel = self.watchlist.channels.get(job.channel_id)
        if channel is None:
            return  # paused/removed meanwhile
        async with channel.lock:
            if self.watchlist.channels.get(job.channel_id) is not channel:
                return
            if isinstance(job, BackfillJob):
                channel.backfill_queued = False
                await self.backfill.backfill(channel, job.reason)
            elif isinstance(job, NewJob):
                await self.live.new(channel, job.messages)
            elif isinstance(job, EditJob):
                await self.live.edit(channel, job)
            else:
                await self.live.delete(channel, job)

    async def maintenance_loop(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            now = time.monotonic()
            channels = list(self.watchlist.channels.values())
            self.work.release_due(channels, now)
            await self.checkpoints.retry_due(channels, now)
