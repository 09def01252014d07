"""What workers do with live jobs: new posts, edits and deletions (history reads are in ``backfill.py``).

A live new post is queued directly only when it directly follows the checkpoint (channel message ids
are sequential); anything else — a gap (a missed update, a failed send, a deleted message in between)
or an album (which may reach us in pieces) — is read from history instead, so nothing can be skipped.
The checkpoint moves only after SQS accepted the post; a failed send leaves it where it was and marks
the channel for a history read (which then queues the post).

Edits and deletions of queued posts cannot be re-read from history: a failed send raises and the job is
retried with backoff while the process lives (``jobs.WorkQueue.defer``).
"""

from __future__ import annotations

from typing import Any

from carsbot.adapters.queues import post_message
from carsbot.core.contracts import PostKind, QueuedPost
from carsbot_monitor import health
from carsbot_monitor.backfill import Backfiller, PostPath
from carsbot_monitor.context import Context
from carsbot_monitor.convert import build_delete, build_post, is_post_message
from carsbot_monitor.jobs import ChannelState, DeleteJob, EditJob


class LivePosts(PostPath):
    def __init__(self, ctx: Context, *, backfill: Backfiller, **path: Any) -> None:
        super().__init__(ctx, **path)
        self.backfill = backfill

    async def new(self, channel: ChannelState, messages: list[Any]) -> None:
        ids = sorted(m.id for m in messages)
        low, high = ids[0], ids[-1]
        if high <= channel.checkpoint:
            return  # already queued (by a backfill)
        if any(getattr(m, "grouped_id", None) is not None for m in messages):
            # An album can reach us in pieces (an item's update late, e.g. after Telethon's gap recovery,
            # or never pushed): queuing the items that arrived would split it into two posts, one maybe
            # without its caption. History has every item: read it from the checkpoint instead (the
            # backfill holds a trailing album back until it has settled).
            await self.backfill.backfill(channel, "album")
            return
        if low != channel.checkpoint + 1:
            # Something between the checkpoint and this message was not seen (or not queued): read
            # history from the checkpoint instead, which includes this message.
            await self.backfill.backfill(channel, "gap")
            return
        if any(i in channel.deleted for i in ids):
            await self.checkpoints.advance(channel, high, None)
            return
        media = await self.media.refs_for(channel.channel_id, messages)
        post = build_post(channel.info, messages, media=media)
        try:
            await self.io.run(self.sink.send, post_message(post))
        except Exception as exc:
            self.telemetry.count(health.SEND_FAILED)
            self.log.warning(
                "queueing a post failed; it will be re-read",
                extra={"post_id": post.post_id, "error": repr(exc)},
            )
            self.work.mark_failed(channel)
            return
        self.telemetry.count(health.POSTS_QUEUED)
        self.albums.add(channel.channel_id, ids)
        await self.checkpoints.advance(channel, high, post.date)

    async def edit(self, channel: ChannelState, job: EditJob) -> None:
        message = job.message
        if message.id > channel.checkpoint:
            # Not queued yet: the backfill reads its current (edited) text.
            await self.backfill.backfill(channel, "edit-before-queue")
            return
        items = [message]
        group = getattr(message, "grouped_id", None)
        if group is not None:
            around = range(max(1, message.id - 9), message.id + 10)
            fetched = await self.tg.get_messages(channel.peer, list(around))
            album = [m for m in fetched if is_post_message(m) and m.grouped_id == group]
            if album:
                items = album
        media = await self.media.refs_for(channel.channel_id, items)
        post = build_post(channel.info, items, kind=PostKind.EDIT, media=media)
        if post.edit_date is None:
            post = post.model_copy(update={"edit_date": post.date})
        await self._send_update(post)
        self.telemetry.count(health.EDITS_QUEUED)

    async def delete(self, channel: ChannelState, job: DeleteJob) -> None:
        deleted = sorted(set(job.message_ids))
        channel.deleted.extend(deleted)
        gone = set(channel.deleted)
        posts: dict[int, list[int]] = {}
        for message_id in deleted:
            album = self.albums.album_of(channel.channel_id, message_id)
            if album is None:
                posts[message_id] = [message_id]
                continue
            first, members = album
            if set(members) <= gone:
                posts[first] = list(members)
            # else: only some photos of an album are gone so far; the listing stays.
        for first, ids in sorted(posts.items()):
            await self._send_update(build_delete(channel.info, first, ids))
            self.telemetry.count(health.DELETES_QUEUED)

    async def _send_update(self, post: QueuedPost) -> None:
        """Send an edit/deletion; a failure raises (the worker defers the job for a retry)."""
        try:
            await self.io.run(self.sink.send, post_message(post))
        except Exception as exc:
            self.telemetry.count(health.SEND_FAILED)
            self.log.warning(
                "queueing an update failed; will retry", extra={"post_id": post.post_id, "error": repr(exc)}
            )
            raise
