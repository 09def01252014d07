"""Live intake: Telethon events of watched channels become jobs (nothing else happens in a handler).

``events.NewMessage`` (single posts), ``events.Album`` (album items arrive together), ``events.
MessageEdited`` and ``events.MessageDeleted``; ``events.Raw`` only stamps "an update arrived" for the
idle watchdog. Events are keyed by the numeric channel id (events carry ids, not usernames). What the
workers do with these jobs is in ``live.py``; history reading (which every gap falls back to) in
``backfill.py``. The :class:`AlbumIndex` remembers which album a queued message belongs to, so a deletion
of every item of an album withdraws the album's post once.
"""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from carsbot.channels import peer_channel_id
from carsbot_monitor.convert import channel_id_of, is_post_message
from carsbot_monitor.jobs import ChannelState, DeleteJob, EditJob, NewJob, WorkQueue


class AlbumIndex:
    """Which album (post id) a message belongs to, for recent albums (bounded LRU)."""

    def __init__(self, capacity: int = 20000) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[int, int], tuple[int, tuple[int, ...]]] = OrderedDict()

    def add(self, channel_id: int, message_ids: Sequence[int]) -> None:
        if len(message_ids) < 2:
            return
        ids = tuple(sorted(message_ids))
        for message_id in ids:
            self._items[(channel_id, message_id)] = (ids[0], ids)
            self._items.move_to_end((channel_id, message_id))
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def album_of(self, channel_id: int, message_id: int) -> tuple[int, tuple[int, ...]] | None:
        """``(first id, every item's id)`` of the album holding ``message_id``, if it is known."""
        return self._items.get((channel_id, message_id))


class LiveEvents:
    """The event handlers; ``channels`` is the watch list (by channel id), ``work`` where jobs go."""

    def __init__(self, channels: Mapping[int, ChannelState], work: WorkQueue) -> None:
        self.channels = channels
        self.work = work
        self.last_update = time.monotonic()

    def attach(self, client: Any) -> None:
        from telethon import events

        client.add_event_handler(self.on_new_message, events.NewMessage())
        client.add_event_handler(self.on_album, events.Album())
        client.add_event_handler(self.on_edit, events.MessageEdited())
        client.add_event_handler(self.on_delete, events.MessageDeleted())
        client.add_event_handler(self.on_any_update, events.Raw())

    def detach(self, client: Any) -> None:
        for callback in (
            self.on_new_message,
            self.on_album,
            self.on_edit,
            self.on_delete,
            self.on_any_update,
        ):
            with contextlib.suppress(Exception):
                client.remove_event_handler(callback)

    def _watched(self, channel_id: int | None) -> ChannelState | None:
        return self.channels.get(channel_id) if channel_id is not None else None

    async def on_any_update(self, update: Any) -> None:
        self.last_update = time.monotonic()

    async def on_new_message(self, event: Any) -> None:
        message = event.message
        if not is_post_message(message):
            return  # service messages are not posts (their ids are covered by the checkpoint logic)
        if getattr(message, "grouped_id", None) is not None:
            return  # album items arrive together as one events.Album
        channel = self._watched(channel_id_of(message))
        if channel is not None:
            self.work.put(NewJob(channel.channel_id, [message]), channel)

    async def on_album(self, event: Any) -> None:
        messages = [m for m in event.messages if is_post_message(m)]
        # Telethon keeps every album's collector in client._albums forever; drop ours once delivered.
        albums = getattr(event.client, "_albums", None) if hasattr(event, "client") else None
        if isinstance(albums, dict):
            albums.pop(event.grouped_id, None)
        if not messages:
            return
        channel = self._watched(channel_id_of(messages[0]))
        if channel is not None:
            self.work.put(NewJob(channel.channel_id, messages), channel)

    async def on_edit(self, event: Any) -> None:
        message = event.message
        if not is_post_message(message):
            return
        channel = self._watched(channel_id_of(message))
        if channel is not None:
            self.work.put(EditJob(channel.channel_id, message), channel)

    async def on_delete(self, event: Any) -> None:
        chat_id = getattr(event, "chat_id", None)
        if chat_id is None:
            return  # deletions outside channels carry no chat; not ours
        channel = self._watched(peer_channel_id(int(chat_id)))
        if channel is not None and event.deleted_ids:
            self.work.put(DeleteJob(channel.channel_id, list(event.deleted_ids)), channel)
