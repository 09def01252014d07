"""The one checkpoint keeper: the only code that moves a channel's checkpoint.

No-loss rule: a channel's checkpoint only moves to ``N`` once every post with an id ``<= N`` was accepted
by SQS (or is known not to be a post) — callers call :meth:`CheckpointKeeper.advance` *after* the send
succeeded. The checkpoint moves in memory first (so this process never re-queues what it queued), then in
the ChannelsTable with a conditional update that never lowers it. A failed write is retried by
:meth:`CheckpointKeeper.retry_due` (the maintenance loop), backing off; until then the stored checkpoint
stays behind, which can only cause a duplicate after a restart (absorbed downstream), never a loss.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime

from carsbot.channels import ChannelRegistry
from carsbot.core.backoff import Backoff
from carsbot_monitor.context import Context
from carsbot_monitor.jobs import ChannelState


class CheckpointKeeper:
    def __init__(self, ctx: Context, registry: ChannelRegistry, retry: Backoff) -> None:
        self.registry = registry
        self.io = ctx.io
        self.retry = retry
        self.log = ctx.log

    async def advance(self, channel: ChannelState, message_id: int, last_post_at: datetime | None) -> None:
        """Every message of ``channel`` up to ``message_id`` is queued (or no post): move the checkpoint."""
        if message_id <= channel.checkpoint:
            return
        channel.checkpoint = message_id
        channel.failures = 0
        await self._save(channel, message_id, last_post_at)

    async def retry_due(self, channels: Iterable[ChannelState], now: float) -> None:
        """Store the checkpoints whose last write failed, once their retry is due."""
        for channel in channels:
            if channel.saved_checkpoint < channel.checkpoint and channel.save_retry_at <= now:
                await self._save(channel, channel.checkpoint, None)

    async def _save(self, channel: ChannelState, message_id: int, last_post_at: datetime | None) -> None:
        try:
            await self.io.run(self.registry.advance_checkpoint, channel.ref, message_id, last_post_at)
        except Exception as exc:
            channel.save_failures += 1
            channel.save_retry_at = time.monotonic() + self.retry.delay(channel.save_failures)
            self.log.warning(
                "saving a checkpoint failed; will retry", extra={"ref": channel.ref, "error": repr(exc)}
            )
            return
        channel.saved_checkpoint = max(channel.saved_checkpoint, message_id)
        channel.save_failures = 0
