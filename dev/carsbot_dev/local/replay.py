"""The replay source: emits bundled queued posts onto the posts queue, as the monitor would.

The bundled sample (``local/data/sample_posts.jsonl``) is a list of ``QueuedPost`` JSON lines. Media keys
in it get a small generated image in the media bucket, standing in for what the monitor downloads.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path

from carsbot.core.contracts import MediaType, QueuedPost

SAMPLE = "sample_posts.jsonl"


def load_posts(path: Path | None = None) -> list[QueuedPost]:
    """Parse a JSONL file of queued posts (default: the bundled sample); a bad line raises with its number."""
    source = path or resources.files("carsbot_dev.local").joinpath("data", SAMPLE)
    text = source.read_text(encoding="utf-8")
    posts = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            posts.append(QueuedPost.model_validate_json(line))
        except ValueError as exc:
            raise ValueError(f"{path or SAMPLE}:{number}: not a queued post: {exc}") from exc
    return posts


def placeholder_png(seed: int, size: int = 64) -> bytes:
    """A small solid-colour PNG (pure Python), different per seed."""
    r, g, b = (seed * 67) % 256, (seed * 131) % 256, (seed * 199) % 256
    row = b"\x00" + bytes((r, g, b)) * size
    raw = row * size

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def store_placeholder_media(posts: Iterable[QueuedPost], bucket: str) -> int:
    """Put a generated image under every photo key of ``posts`` (videos are skipped); returns the count."""
    from carsbot.adapters.aws import client

    s3 = client("s3")
    stored = 0
    for post in posts:
        for item in post.media:
            if item.type is MediaType.PHOTO:
                s3.put_object(
                    Bucket=bucket,
                    Key=item.key,
                    Body=placeholder_png(item.message_id),
                    ContentType="image/png",
                )
                stored += 1
    return stored


def replay(posts: Iterable[QueuedPost], queue_url: str) -> Iterator[str]:
    """Send each post to the posts queue, in order; yields the SQS message ids."""
    from carsbot.adapters.queues import send

    for post in posts:
        yield send(queue_url, post)
