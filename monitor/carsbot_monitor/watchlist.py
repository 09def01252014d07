"""Which channels the monitor watches: the registry reconciled into channel state, resolves and joins.

* Every ``registry_reload_seconds`` the ChannelsTable is applied without a restart: new active channels
  are watched (resolved ones at once, others after a resolve/join), paused/removed ones dropped.
* A username is resolved once, ever: the numeric id and access hash are stored right away and used from
  then on. Resolves and joins are paced ``join_interval_seconds`` apart; a FloodWait defers them, a
  permanent failure is stored as the channel's ``join_error`` for an admin to fix.
* A channel the account lost access to is dropped and re-joined after ``rejoin_delay_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from carsbot.channels import FAST_FORWARD, ChannelRecord, ChannelRegistry, ChannelStatus
from carsbot.core.backoff import Backoff
from carsbot_monitor import health
from carsbot_monitor.aio import wait_any
from carsbot_monitor.context import Context
from carsbot_monitor.convert import ChannelInfo
from carsbot_monitor.gateway import FloodDeferred, JoinFailed
from carsbot_monitor.jobs import ChannelState, WorkQueue
from carsbot_monitor.session import SessionDead


@dataclass
class PendingChannel:
    """An active registry entry not watched yet: it waits for a resolve/join at ``retry_at``."""

    record: ChannelRecord
    retry_at: float = 0.0
    failures: int = 0
    rejoin: bool = False  # access was lost: only the resolver (a join) may bring it back


class Watchlist:
    def __init__(self, ctx: Context, registry: ChannelRegistry, work: WorkQueue, retry: Backoff) -> None:
        self.registry = registry
        self.work = work
        self.tg = ctx.tg
        self.io = ctx.io
        self.telemetry = ctx.telemetry
        self.log = ctx.log
        self.config = ctx.config
        self.retry = retry  # between failed resolve/join attempts of one channel
        self.channels: dict[int, ChannelState] = {}
        self.by_ref: dict[str, int] = {}
        self.pending: dict[str, PendingChannel] = {}
        self.wakeup = asyncio.Event()
        self._next_join_at = 0.0

    def reset(self) -> None:
        """A new ownership epoch: checkpoints are read from the table again (another owner may have moved
        them)."""
        self.channels.clear()
        self.by_ref.clear()
        self.pending.clear()

    # ---------------------------------------------------------------- registry
    async def reload_loop(self, loaded: asyncio.Event) -> None:
        while True:
            try:
                await self.reload(initial=not loaded.is_set())
            except Exception as exc:
                self.log.warning("registry reload failed", extra={"error": repr(exc)})
            else:
                loaded.set()
            await asyncio.sleep(self.config.registry_reload_seconds)

    async def reload(self, initial: bool = False) -> None:
        """Apply the registry: watch new active channels, drop paused/removed ones, queue joins.

        Channels found by the first load of a session are caught up by the catch-up that follows it
        (one top-id probe per 100 channels); channels registered later are backfilled directly.
        """
        records = await self.io.run(self.registry.load_all)
        active_refs: set[str] = set()
        added: list[ChannelState] = []
        for record in records:
            if record.status != ChannelStatus.ACTIVE:
                continue
            active_refs.add(record.ref)
            channel = self._apply(record)
            if channel is not None:
                added.append(channel)
        for ref, channel_id in list(self.by_ref.items()):
            if ref not in active_refs and channel_id in self.channels:
                self.log.info("channel is no longer active; not watching it", extra={"ref": ref})
                self.forget(self.channels[channel_id])
        for ref in list(self.pending):
            if ref not in active_refs:
                del self.pending[ref]
        if not initial:
            for channel in added:
                self.log.info("watching a newly registered channel", extra={"ref": channel.ref})
                self.work.put_backfill(channel, "registered")
        if self.pending:
            self.wakeup.set()

    def _apply(self, record: ChannelRecord) -> ChannelState | None:
        """Reconcile one active record; returns the channel when it starts being watched now."""
        channel_id = self.by_ref.get(record.ref)
        if channel_id is not None and channel_id in self.channels:
            current = self.channels[channel_id]
            if record.last_message_id < 0:
                self.forget(current)  # "skip missed posts" requested: take a new start point
                self.pending[record.ref] = PendingChannel(record)
            elif record.title != current.info.title or record.username != current.info.username:
                current.info = ChannelInfo(current.channel_id, record.username, record.title)
            return None
        waiting = self.pending.get(record.ref)
        if record.join_error:
            self.pending.pop(record.ref, None)  # an admin has to act (add/resume clears the error)
        elif waiting is not None and waiting.rejoin:
            # Access was lost: watching it again from the stored id would only fail again; the resolver
            # re-joins it (id + hash, or the invite) and then watches it.
            waiting.record = record
        elif record.resolved and not record.needs_start_point:
            assert record.channel_id is not None
            other = self.channels.get(record.channel_id)
            if other is not None:
                if record.ref not in self.pending:
                    self.log.warning(
                        "two registry entries name the same channel; watching it once",
                        extra={"ref": record.ref, "same_as": other.ref},
                    )
                    self.pending[record.ref] = PendingChannel(record, retry_at=float("inf"))
                return None
            self.pending.pop(record.ref, None)
            return self.watch(record, record.last_message_id)
        elif waiting is not None:
            waiting.record = record
        else:
            self.pending[record.ref] = PendingChannel(record)
        return None

    def watch(self, record: ChannelRecord, checkpoint: int) -> ChannelState:
        assert record.channel_id is not None and record.access_hash is not None
        channel = ChannelState(
            ref=record.ref,
            info=ChannelInfo(record.channel_id, record.username, record.title),
            access_hash=record.access_hash,
            checkpoint=checkpoint,
            saved_checkpoint=checkpoint,
        )
        self.channels[record.channel_id] = channel
        self.by_ref[record.ref] = record.channel_id
        return channel

    def forget(self, channel: ChannelState) -> None:
        if self.channels.get(channel.channel_id) is channel:
            del self.channels[channel.channel_id]
        if self.by_ref.get(channel.ref) == channel.channel_id:
            del self.by_ref[channel.ref]

    def lost_access(self, channel: ChannelState, exc: BaseException) -> None:
        """The account was removed from the channel (or it went private): drop it, re-join it later."""
        self.log.warning(
            "lost access to a channel; will re-join", extra={"ref": channel.ref, "error": repr(exc)}
        )
        self.forget(channel)
        record = ChannelRecord(
            ref=channel.ref,
            channel_id=channel.channel_id,
            access_hash=channel.access_hash,
            username=channel.info.username,
            title=channel.info.title,
            last_message_id=channel.checkpoint,
        )
        self.pending[channel.ref] = PendingChannel(
            record, retry_at=time.monotonic() + self.config.rejoin_delay_seconds, rejoin=True
        )

    # ---------------------------------------------------------------- resolve / join
    async def resolver_loop(self) -> None:
        """Resolve/join pending channels, paced; raises ``SessionDead`` when the session dies."""
        while True:
            await wait_any(self.wakeup, timeout=1.0)
            self.wakeup.clear()
            now = time.monotonic()
            for ref, pending in list(self.pending.items()):
                if pending.retry_at > now or self.pending.get(ref) is not pending:
                    continue
                wait = self._next_join_at - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if self.pending.get(ref) is not pending:
                    continue
                try:
                    await self.resolve(pending.record)
                    self.pending.pop(ref, None)
                except SessionDead:
                    raise
                except FloodDeferred as exc:
                    pending.retry_at = time.monotonic() + exc.seconds
                    self.log.warning(
                        "join/resolve deferred by flood wait", extra={"ref": ref, "seconds": exc.seconds}
                    )
                    break
                except JoinFailed as exc:
                    self.telemetry.count(health.JOIN_FAILED)
                    self.log.error("cannot watch channel", extra={"ref": ref, "reason": str(exc)})
                    self.pending.pop(ref, None)
                    with contextlib.suppress(Exception):
                        await self.io.run(self.registry.save_join_error, ref, str(exc))
                except Exception as exc:
                    pending.failures += 1
                    pending.retry_at = time.monotonic() + self.retry.delay(pending.failures)
                    self.log.warning(
                        "join/resolve failed; will retry", extra={"ref": ref, "error": repr(exc)}
                    )
                finally:
                    self._next_join_at = time.monotonic() + self.config.join_interval_seconds

    async def resolve(self, record: ChannelRecord) -> None:
        """Resolve/join ``record`` and start watching it."""
        from telethon.tl import types

        needs_start = record.needs_start_point
        if record.resolved:
            assert record.channel_id is not None and record.access_hash is not None
            channel_id, access_hash = record.channel_id, record.access_hash
            title, username = record.title, record.username
            try:
                chat = await self.tg.join_channel(channel_id, access_hash)
            except JoinFailed:
                if not record.is_invite:
                    raise
                chat = await self.tg.join_invite(record.parsed.value)
            self.telemetry.count(health.JOINS)
            if isinstance(chat, types.Channel):
                title, username = chat.title or title, chat.username or username
        elif record.is_invite:
            chat = await self.tg.join_invite(record.parsed.value)
            self.telemetry.count(health.JOINS)
            channel_id, access_hash, title, username = _identity(chat)
        else:
            chat = await self.tg.resolve_username(record.parsed.value)
            self.telemetry.count(health.RESOLVES)
            channel_id, access_hash, title, username = _identity(chat)
            # Store the id now: whatever happens next, this username is never resolved again.
            await self.io.run(
                self.registry.save_resolution,
                record.ref,
                channel_id=channel_id,
                access_hash=access_hash,
                title=title,
                username=username,
                checkpoint=FAST_FORWARD if needs_start else None,
            )
            if chat.left is not False:
                if self.config.join_interval_seconds:
                    await asyncio.sleep(self.config.join_interval_seconds)  # both are flood-limited
                await self.tg.join_channel(channel_id, access_hash)
                self.telemetry.count(health.JOINS)
        existing = self.channels.get(channel_id)
        if existing is not None and existing.ref != record.ref:
            raise JoinFailed(f"same channel as {existing.ref}")
        start: int | None = None
        if needs_start:
            top = await self.tg.top_message_id(types.InputPeerChannel(channel_id, access_hash))
            start = max(0, top - self.config.initial_backfill_messages)
        stored = await self.io.run(
            self.registry.save_resolution,
            record.ref,
            channel_id=channel_id,
            access_hash=access_hash,
            title=title,
            username=username,
            checkpoint=start,
        )
        if stored is None:
            return  # deleted meanwhile
        resolved = ChannelRecord(
            ref=record.ref,
            channel_id=channel_id,
            access_hash=access_hash,
            title=title,
            username=(username or "").lower() or None,
            last_message_id=stored,
        )
        channel = self.watch(resolved, stored)
        self.log.info(
            "watching channel",
            extra={"ref": record.ref, "channel_id": channel_id, "title": title, "checkpoint": stored},
        )
        self.work.put_backfill(channel, "joined")


def _identity(chat: Any) -> tuple[int, int, str | None, str | None]:
    if chat.access_hash is None:
        raise JoinFailed("Telegram returned the channel without an access hash")
    return chat.id, chat.access_hash, chat.title, chat.username
