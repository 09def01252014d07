"""Post media: photos and videos (up to a size cap) downloaded from Telegram into the media bucket.

Keys are deterministic (``<prefix>/<channel_id>/<message_id>.<ext>``, see ``convert.MediaSpec``), so an
item already stored is not downloaded again and re-storing is harmless. A failed download posts without
that item (``MediaFailed``); a failed S3 write raises (the job fails and the channel is re-read later).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from carsbot.core.contracts import MediaRef
from carsbot_monitor import health
from carsbot_monitor.context import Context
from carsbot_monitor.convert import MAX_MEDIA, media_spec
from carsbot_monitor.gateway import FloodDeferred
from carsbot_monitor.session import SessionDead


class MediaBucket(Protocol):
    """What the monitor needs of the media store (``carsbot.adapters.media.MediaStore``)."""

    def exists(self, key: str) -> bool: ...

    def put(self, key: str, body: bytes, content_type: str) -> None: ...


class MediaFetcher:
    def __init__(self, ctx: Context, store: MediaBucket | None) -> None:
        self.store = store
        self.tg = ctx.tg
        self.io = ctx.io
        self.telemetry = ctx.telemetry
        self.log = ctx.log
        self.max_bytes = ctx.config.media_max_bytes
        self.prefix = ctx.config.media_prefix

    async def refs_for(self, channel_id: int, messages: Iterable[Any]) -> list[MediaRef]:
        """The stored media of one post's messages (in message order, at most ten)."""
        if self.store is None:
            return []
        refs: list[MediaRef] = []
        for message in sorted(messages, key=lambda m: m.id):
            spec = media_spec(message)
            if spec is None:
                continue
            if spec.size is not None and spec.size > self.max_bytes:
                self.telemetry.count(health.MEDIA_SKIPPED)
                continue
            key = spec.key(self.prefix, channel_id)
            if not await self.io.run(self.store.exists, key):
                data = await self._download(message, key)
                if data is None:
                    continue
                await self.io.run(self.store.put, key, data, spec.mime_type)
                self.telemetry.count(health.MEDIA_STORED)
                spec = type(spec)(spec.message_id, spec.type, spec.ext, spec.mime_type, len(data))
            refs.append(spec.ref(self.prefix, channel_id))
        return refs[:MAX_MEDIA]

    async def _download(self, message: Any, key: str) -> bytes | None:
        """The media's bytes, or ``None`` when it cannot or must not be stored (counted)."""
        try:
            data = await self.tg.download(message)
        except (FloodDeferred, SessionDead):
            raise
        except Exception as exc:
            self.telemetry.count(health.MEDIA_FAILED)
            self.log.warning(
                "media download failed; posting without it", extra={"key": key, "error": repr(exc)}
            )
            return None
        if not data:
            self.telemetry.count(health.MEDIA_FAILED)
            return None
        if len(data) > self.max_bytes:
            self.telemetry.count(health.MEDIA_SKIPPED)
            return None
        return bytes(data)
