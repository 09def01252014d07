"""Telethon messages -> queued posts (pure: no network, no AWS).

* One message, or one album (messages sharing ``grouped_id``), is one :class:`QueuedPost`; an album's
  identity is its lowest message id, its text is the caption of whichever item has one.
* Service messages (joins, pins, title changes...) and empty messages are never posts.
* Media: photos and videos (not animations, stickers or files) become :class:`MediaSpec` s with a
  deterministic S3 key ``<prefix>/<channel_id>/<message_id>.<ext>``.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from carsbot.core.contracts import MediaRef, MediaType, PostKind, QueuedPost

MAX_MEDIA = 10

_VIDEO_EXT = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm", "video/x-matroska": "mkv"}


@dataclass(frozen=True)
class ChannelInfo:
    channel_id: int
    username: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class MediaSpec:
    """A downloadable media item of a message (before it is stored)."""

    message_id: int
    type: MediaType
    ext: str
    mime_type: str
    size: int | None

    def key(self, prefix: str, channel_id: int) -> str:
        return f"{prefix.strip('/')}/{channel_id}/{self.message_id}.{self.ext}"

    def ref(self, prefix: str, channel_id: int) -> MediaRef:
        return MediaRef(
            key=self.key(prefix, channel_id),
            type=self.type,
            message_id=self.message_id,
            size=self.size,
            mime_type=self.mime_type,
        )


def is_post_message(message: Any) -> bool:
    """A real message (not a service message, not an empty placeholder of a deleted one)."""
    from telethon.tl import types

    return isinstance(message, types.Message)


def channel_id_of(message: Any) -> int | None:
    from telethon.tl import types

    peer = getattr(message, "peer_id", None)
    return peer.channel_id if isinstance(peer, types.PeerChannel) else None


def media_spec(message: Any) -> MediaSpec | None:
    """The photo or video of ``message``, if it has one worth storing."""
    from telethon.tl import types

    media = getattr(message, "media", None)
    if isinstance(media, types.MessageMediaPhoto) and isinstance(media.photo, types.Photo):
        sizes = [_photo_size(size) for size in media.photo.sizes]
        size = max((s for s in sizes if s), default=None)
        return MediaSpec(message.id, MediaType.PHOTO, "jpg", "image/jpeg", size)
    if isinstance(media, types.MessageMediaDocument) and isinstance(media.document, types.Document):
        document = media.document
        mime = (document.mime_type or "").lower()
        attributes = document.attributes or []
        if not mime.startswith("video/"):
            return None
        if any(
            isinstance(a, types.DocumentAttributeAnimated | types.DocumentAttributeSticker)
            for a in attributes
        ):
            return None
        ext = _VIDEO_EXT.get(mime) or (mimetypes.guess_extension(mime) or ".mp4").lstrip(".")
        return MediaSpec(message.id, MediaType.VIDEO, ext, mime, int(document.size))
    return None


def _photo_size(size: Any) -> int | None:
    from telethon.tl import types

    if isinstance(size, types.PhotoSize):
        return int(size.size)
    if isinstance(size, types.PhotoSizeProgressive):
        return int(max(size.sizes)) if size.sizes else None
    if isinstance(size, types.PhotoCachedSize | types.PhotoStrippedSize):
        return len(size.bytes)
    return None


def group_messages(messages: Iterable[Any]) -> list[list[Any]]:
    """Split ascending messages into posts: consecutive items sharing a ``grouped_id`` form one album."""
    posts: list[list[Any]] = []
    for message in sorted(messages, key=lambda m: m.id):
        group = getattr(message, "grouped_id", None)
        if group is not None and posts and getattr(posts[-1][0], "grouped_id", None) == group:
            posts[-1].append(message)
        else:
            posts.append([message])
    return posts


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def post_link(username: str | None, message_id: int) -> str | None:
    return f"https://t.me/{username}/{message_id}" if username else None


def build_post(
    channel: ChannelInfo,
    messages: Sequence[Any],
    *,
    kind: PostKind = PostKind.NEW,
    media: Sequence[MediaRef] = (),
) -> QueuedPost:
    """One queued post from one message or the items of one album."""
    ordered = sorted(messages, key=lambda m: m.id)
    first = ordered[0]
    text = next((m.message for m in ordered if getattr(m, "message", None)), "") or ""
    edit_dates = [d for d in (_aware(getattr(m, "edit_date", None)) for m in ordered) if d]
    return QueuedPost(
        kind=kind,
        channel_id=channel.channel_id,
        message_id=first.id,
        message_ids=[m.id for m in ordered],
        grouped_id=getattr(first, "grouped_id", None),
        text=text,
        date=_aware(first.date) or datetime.now(UTC),
        edit_date=max(edit_dates) if edit_dates else None,
        media=list(media)[:MAX_MEDIA],
        channel_username=channel.username,
        channel_title=channel.title,
        link=post_link(channel.username, first.id),
    )


def build_delete(channel: ChannelInfo, message_id: int, message_ids: Sequence[int] = ()) -> QueuedPost:
    return QueuedPost(
        kind=PostKind.DELETE,
        channel_id=channel.channel_id,
        message_id=message_id,
        message_ids=list(message_ids) or [message_id],
        text="",
        date=datetime.now(UTC),
        channel_username=channel.username,
        channel_title=channel.title,
        link=post_link(channel.username, message_id),
    )
