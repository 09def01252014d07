"""The media bucket (S3) as the monitor writes it. Synchronous boto3, run on the monitor's I/O threads.

Why not ``carsbot.adapters.media.MediaStore`` (same two methods): that module imports
``carsbot.observability``, whose powertools ``Tracer`` loads the X-Ray SDK at import (~20 MB RSS measured
in the monitor process, whose benchmark target is 150 MB and which has no X-Ray). Once the shared tracer
is created lazily, this class goes and the monitor uses the shared one (``media.MediaBucket`` is the
interface either way). Posts go through ``carsbot.adapters.queues.QueueSender``.
"""

from __future__ import annotations

from typing import Any

from carsbot.adapters import aws


class MediaStore:
    """Stores downloaded media under deterministic keys (re-storing the same item is harmless)."""

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
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
