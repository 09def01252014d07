"""History reading: backfill from the checkpoint and the catch-up that finds channels to backfill.

Telegram does not push every channel update, so live events alone lose posts; history reads from the
checkpoint are the only reliable catch-up. A backfill reads what follows the checkpoint
(``messages.getHistory``, ascending, ``backfill_max_messages`` per pass), queues it in order in SQS
batches of ten and moves the checkpoint after each accepted batch; the first failure stops the pass there
(the channel is re-read later, backing off). Albums are re-assembled by ``grouped_id``; a trailing album
younger than ``album_settle_seconds``, or cut by the page, waits for the next pass.

The catch-up asks for the newest message id of 100 channels per request and backfills the channels that
are behind: at start-up, after every (re)connect or rotation, every ``catchup_interval_seconds``, and when
no update at all arrived for ``idle_seconds`` (the idle watchdog).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from carsbot.adapters.queues import OutgoingMessage, post_message
from carsbot.core.contracts import QueuedPost
from carsbot_monitor import health
from carsbot_monitor.checkpoints import CheckpointKeeper
from carsbot_monitor.context import Context
from carsbot_monitor.convert import build_post, group_messages, is_post_message
from carsbot_monitor.events import AlbumIndex
from carsbot_monitor.gateway import FloodDeferred
from carsbot_monitor.jobs import ChannelState, WorkQueue
from carsbot_monitor.media import MediaFetcher
from carsbot_monitor.session import SessionDead
from carsbot_monitor.watchlist import Watchlist

BATCH = 10  # SQS batch size


class PostQueue(Protocol):
    """Where posts go (``carsbot.adapters.queues.QueueSender`` on the posts queue); a post counts as
    queued only once SQS accepted it."""

    def send(self, message: OutgoingMessage) -> str: ...

    def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[bool]: ...


class PostPath:
    """What the backfill and the live path (``carsbot_monitor.live``) share on the way of a post to SQS:
    the work queue, the checkpoint keeper, media, the album index, the posts queue and the context."""

    def __init__(
        self,
        ctx: Context,
        *,
        work: WorkQueue,
        checkpoints: CheckpointKeeper,
        media: MediaFetcher,
        albums: AlbumIndex,
        sink: PostQueue,
    ) -> None:
        self.work = work
        self.checkpoints = checkpoints
        self.media = media
        self.albums = albums
        self.sink = sink
        self.tg = ctx.tg
        self.io = ctx.io
        self.telemetry = ctx.telemetry
        self.log = ctx.log
        self.config = ctx.config


class Backfiller(PostPath):
    def __init__(self, ctx: Context, *, watchlist: Watchlist, **path: Any) -> None:
        super().__init__(ctx, **path)
        self.watchlist = watchlist

    # ---------------------------------------------------------------- backfill
    async def backfill(self, channel: ChannelState, reason: str) -> None:
        """Queue everything after the checkpoint that history shows, in order, stopping at a failure."""
        self.telemetry.count(health.BACKFILL_RUNS)
        channel.dirty = False
        try:
            messages, complete = await self.tg.history(
                channel.peer, channel.checkpoint, self.config.backfill_max_messages
            )
        except FloodDeferred as exc:
            self.work.mark_failed(channel, delay=exc.seconds)
            return
        except SessionDead:
            raise
        except Exception as exc:
            if _is_channel_gone(exc):
                self.watchlist.lost_access(channel, exc)
                return
            raise
        if not messages:
            return
        units = group_messages(messages)
        hold_from = self._unsettled_album(units[-1], complete)
        batch = _Batch(self, channel)
        ok, delay = True, None
        for unit in units:
            if hold_from is not None and unit[0].id >= hold_from:
                break
            unit_high = max(m.id for m in unit)
            posts = [m for m in unit if is_post_message(m)]
            if not posts or any(m.id in channel.deleted for m in posts):
                batch.skip(unit_high)  # service/deleted: handled once what precedes it is
                continue
            try:
                media = await self.media.refs_for(channel.channel_id, posts)
            except FloodDeferred as exc:
                ok, delay = False, exc.seconds
                break
            batch.add(build_post(channel.info, posts, media=media), unit_high, [m.id for m in unit])
            if batch.full() and not await batch.flush():
                ok = False
                break
        if not await batch.flush():
            ok = False
        if not ok:
            self.work.mark_failed(channel, delay=delay)
        elif hold_from is not None:
            self.work.schedule(channel, max(0.2, self.config.album_settle_seconds))
        elif not complete:
            self.work.schedule(channel, 0.0)  # more history to read
        else:
            # Everything read was handled: trailing service messages move the checkpoint too.
            await self.checkpoints.advance(channel, max(m.id for m in messages), None)
        if batch.queued:
            self.telemetry.count(health.BACKFILL_RECOVERED, batch.queued)
            self.log.info(
                "backfill queued posts",
                extra={
                    "ref": channel.ref,
                    "count": batch.queued,
                    "reason": reason,
                    "checkpoint": channel.checkpoint,
                },
            )

    def _unsettled_album(self, last: list[Any], complete: bool) -> int | None:
        """The first id of a trailing album that may still be growing (or that the page cut), if any."""
        if getattr(last[0], "grouped_id", None) is None:
            return None
        newest = max((m.date.timestamp() for m in last if m.date), default=0.0)
        if not complete or time.time() - newest < self.config.album_settle_seconds:
            return int(last[0].id)
        return None

    # ---------------------------------------------------------------- catch-up
    async def catch_up(self, reason: str) -> int:
        """Find channels with posts after their checkpoint (top ids, 100 per request) and backfill them."""
        self.telemetry.count(health.CATCHUPS)
        channels = list(self.watchlist.channels.values())
        behind = 0
        for start in range(0, len(channels), 100):
            chunk = channels[start : start + 100]
            try:
                tops = await self.tg.top_ids([c.peer for c in chunk])
            except (SessionDead, asyncio.CancelledError):
                raise
            except Exception as exc:
                self.log.warning("top-id probe failed; reading history instead", extra={"error": repr(exc)})
                tops = {}
            for channel in chunk:
                top = tops.get(channel.channel_id)
                if top is None or top > channel.checkpoint:
                    behind += 1
                    self.work.put_backfill(channel, reason)
        return behind

    async def catchup_loop(self, loaded: asyncio.Event) -> None:
        """The first catch-up once the registry is loaded, then every ``catchup_interval_seconds``."""
        await loaded.wait()  # the first catch-up covers every channel the registry holds
        reason = "connected"
        while True:
            try:
                await self.catch_up(reason)
            except SessionDead:
                raise
            except Exception as exc:
                self.log.warning("catch-up failed", extra={"error": repr(exc)})
            reason = "periodic"
            await asyncio.sleep(self.config.catchup_interval_seconds)

    async def idle_loop(self, last_update: Callable[[], float], touch: Callable[[], None]) -> None:
        """No update at all for ``idle_seconds``: force a catch-up (the connection may be silently dead)."""
        while True:
            await asyncio.sleep(min(1.0, self.config.idle_seconds))
            if time.monotonic() - last_update() < self.config.idle_seconds:
                continue
            touch()
            self.telemetry.count(health.IDLE_CATCHUPS)
            self.log.info("no updates for a while; forcing a catch-up")
            try:
                await self.catch_up("idle")
            except SessionDead:
                raise
            except Exception as exc:
                self.log.warning("idle catch-up failed", extra={"error": repr(exc)})


class _Batch:
    """Backfilled posts waiting to be sent together; the checkpoint follows what SQS accepted."""

    def __init__(self, owner: Backfiller, channel: ChannelState) -> None:
        self.owner = owner
        self.channel = channel
        # (post, or None for "nothing to queue", highest message id of the unit, the unit's ids)
        self.entries: list[tuple[QueuedPost | None, int, list[int]]] = []
        self.queued = 0

    def add(self, post: QueuedPost, unit_high: int, ids: list[int]) -> None:
        self.entries.append((post, unit_high, ids))

    def skip(self, unit_high: int) -> None:
        self.entries.append((None, unit_high, []))

    def full(self) -> bool:
        return sum(1 for post, _, _ in self.entries if post is not None) >= BATCH

    async def flush(self) -> bool:
        """Send the batch; move the checkpoint over the accepted prefix. Returns whether all went."""
        owner, channel = self.owner, self.channel
        entries, self.entries = self.entries, []
        posts = [post for post, _, _ in entries if post is not None]
        accepted: list[bool] = []
        if posts:
            try:
                accepted = await owner.io.run(owner.sink.send_batch, [post_message(p) for p in posts])
            except Exception as exc:
                owner.telemetry.count(health.SEND_FAILED)
                owner.log.warning(
                    "queueing backfilled posts failed", extra={"ref": channel.ref, "error": repr(exc)}
                )
                return False
        results = iter(accepted)
        high: int | None = None
        date = None
        complete = True
        for post, unit_high, ids in entries:
            if post is not None:
                if not next(results):
                    owner.telemetry.count(health.SEND_FAILED)
                    complete = False
                    break
                self.queued += 1
                date = post.date
                owner.albums.add(channel.channel_id, ids)
            high = unit_high
        if high is not None:
            await owner.checkpoints.advance(channel, high, date)
        return complete


def _is_channel_gone(exc: BaseException) -> bool:
    from telethon import errors

    return isinstance(
        exc, errors.ChannelPrivateError | errors.ChannelInvalidError | errors.ChannelBannedError
    )
