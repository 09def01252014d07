"""Post media in S3: the monitor stores what it downloaded, the publisher loads it to re-upload.

Keys are chosen by the writer (deterministic, so re-storing an item is harmless); ``MediaStore`` only
moves bytes. Loading skips what cannot be published — a missing object, a file over the Bot API upload
limits, an album over the memory budget — and logs it; any other S3 error propagates (transient: the
caller retries the whole record).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal

from carsbot.adapters import aws
from carsbot.observability import logger

MediaKind = Literal["photo", "video"]

# Bot API upload limits (cloud server): photos 10 MB, other files 50 MB.
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_VIDEO_BYTES = 50 * 1024 * 1024
MAX_ALBUM_BYTES = 150 * 1024 * 1024  # keeps a 10-item album within a 512 MB Lambda
MAX_ITEMS = 10  # Telegram's album size
_MISSING = {"404", "NoSuchKey", "NotFound"}


@dataclass(frozen=True)
class MediaItem:
    """One media file to upload (the bot cannot reuse the user session's file ids)."""

    data: bytes
    kind: MediaKind
    filename: str


def media_kind(key: str, content_type: str | None = None) -> MediaKind:
    """Photo or video, from the stored content type or else the key's extension."""
    mime = (content_type or "").lower() or (mimetypes.guess_type(key)[0] or "")
    return "video" if mime.startswith("video/") else "photo"


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class MediaStore:
    """One bucket of post media. ``client`` is an S3 client (default: the shared one)."""

    def __init__(self, bucket: str, client: Any = None) -> None:
        if not bucket:
            raise ValueError("no media bucket configured (CARSBOT_MEDIA_BUCKET)")
        self.bucket = bucket
        self._client = client

    @property
    def client(self) -> Any:
        return self._client if self._client is not None else aws.client("s3")

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in _MISSING:
                return False
            raise
        return True

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def load(
        self,
        keys: Sequence[str],
        *,
        max_photo_bytes: int = MAX_PHOTO_BYTES,
        max_video_bytes: int = MAX_VIDEO_BYTES,
        max_total_bytes: int = MAX_ALBUM_BYTES,
    ) -> list[MediaItem]:
        """Download up to ten objects in order; missing or oversized ones are skipped (and logged)."""
        from botocore.exceptions import ClientError

        items: list[MediaItem] = []
        total = 0
        for key in list(keys)[:MAX_ITEMS]:
            try:
                obj = self.client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as exc:
                if _error_code(exc) in _MISSING:
                    logger.warning("media object missing, skipped", extra={"key": key})
                    continue
                raise
            kind = media_kind(key, obj.get("ContentType"))
            size = int(obj.get("ContentLength") or 0)
            cap = max_video_bytes if kind == "video" else max_photo_bytes
            if size > cap or total + size > max_total_bytes:
                obj["Body"].close()
                logger.warning(
                    "media object too large, skipped", extra={"key": key, "size": size, "kind": kind}
                )
                continue
            data = obj["Body"].read()
            total += len(data)
            name = PurePosixPath(key).name or ("video.mp4" if kind == "video" else "photo.jpg")
            items.append(MediaItem(data=data, kind=kind, filename=name))
        return items


def load_media(bucket: str, keys: Sequence[str], *, s3: Any = None, **caps: int) -> list[MediaItem]:
    """``MediaStore(bucket, s3).load(keys, **caps)`` (the publisher's default media loader)."""
    return MediaStore(bucket, s3).load(keys, **caps)
