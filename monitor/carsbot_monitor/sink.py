"""Where posts go: the posts queue (SQS) and the media bucket (S3). Synchronous boto3, run in threads."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from carsbot.adapters import aws
from carsbot.core.contracts import QueuedPost


def _attributes(post: QueuedPost) -> dict[str, Any]:
    return {
        "kind": {"DataType": "String", "StringValue": post.kind.value},
        "post_id": {"DataType": "String", "StringValue": post.post_id},
    }


class PostSink:
    """Sends queued posts as JSON. A post counts as queued only once SQS returned a message id."""

    def __init__(self, queue_url: str, client: Any = None) -> None:
        if not queue_url:
            raise ValueError("no posts queue configured (CARSBOT_POSTS_QUEUE_URL)")
        self.queue_url = queue_url
        self.fifo = queue_url.endswith(".fifo")
        self._client = client

    @property
    def client(self) -> Any:
        return self._client if self._client is not None else aws.client("sqs")

    def _fifo_args(self, post: QueuedPost) -> dict[str, str]:
        if not self.fifo:
            return {}
        dedup = hashlib.sha256(post.idempotency_key.encode()).hexdigest()
        return {"MessageGroupId": str(post.channel_id), "MessageDeduplicationId": dedup}

    def send(self, post: QueuedPost) -> str:
        """Queue one post; returns the SQS message id; raises when SQS did not accept it."""
        response = self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=post.model_dump_json(),
            MessageAttributes=_attributes(post),
            **self._fifo_args(post),
        )
        return str(response["MessageId"])

    def send_batch(self, posts: Sequence[QueuedPost]) -> list[bool]:
        """Queue up to 10 posts in one call; returns, per post, whether SQS accepted it.

        A failure of the whole call raises (nothing is known to be accepted); per-entry failures are
        reported as ``False`` so the caller stops its checkpoint before the first one.
        """
        if not posts:
            return []
        if len(posts) > 10:
            raise ValueError("SQS batches hold at most 10 messages")
        entries = [
            {
                "Id": str(index),
                "MessageBody": post.model_dump_json(),
                "MessageAttributes": _attributes(post),
                **self._fifo_args(post),
            }
            for index, post in enumerate(posts)
        ]
        response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        accepted = {entry["Id"] for entry in response.get("Successful", [])}
        return [str(index) in accepted for index in range(len(posts))]


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
