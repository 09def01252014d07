"""The shared adapters against the moto server: condition errors, SQS sender, S3 media, boto3 clients."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pynamodb.exceptions import PutError, TransactWriteError

from carsbot.adapters import aws as aws_adapter
from carsbot.adapters.db import StateModel
from carsbot.adapters.db.conditions import is_conditional_failure
from carsbot.adapters.db.transactions import transact_write
from carsbot.adapters.media import MAX_ITEMS, MediaItem, MediaStore, load_media, media_kind
from carsbot.adapters.queues import QueueSender, post_message, send
from carsbot.config import get_settings
from carsbot.core.contracts import ListingMessage, PostKind, QueuedPost
from carsbot_dev.local.stack import LocalStack


def test_conditional_failures_recognised(aws: LocalStack) -> None:
    from botocore.exceptions import ClientError

    StateModel("cond#1", counter=1).save()
    with pytest.raises(PutError) as put:
        StateModel("cond#1").save(condition=StateModel.pk.does_not_exist())
    assert is_conditional_failure(put.value)

    with pytest.raises(TransactWriteError) as transaction, transact_write() as tx:
        tx.update(StateModel("cond#1"), actions=[StateModel.counter.add(1)], condition=StateModel.counter < 1)
        tx.update(StateModel("cond#2"), actions=[StateModel.counter.add(1)])
    assert is_conditional_failure(transaction.value)
    assert StateModel.get("cond#1").counter == 1  # nothing of the transaction was written
    assert StateModel.count("cond#2") == 0

    with pytest.raises(ClientError) as raw:  # the same through plain boto3
        aws_adapter.client("dynamodb").put_item(
            TableName=get_settings().state_table,
            Item={"pk": {"S": "cond#1"}},
            ConditionExpression="attribute_not_exists(pk)",
        )
    assert is_conditional_failure(raw.value)

    with pytest.raises(ClientError) as other:  # another server error is not a lost condition
        aws_adapter.client("dynamodb").put_item(TableName="no-such-table", Item={"pk": {"S": "x"}})
    assert not is_conditional_failure(other.value)
    assert not is_conditional_failure(ValueError("ConditionalCheckFailedException"))


def _receive(url: str) -> list[dict[str, Any]]:
    got = aws_adapter.client("sqs").receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
    )
    return list(got.get("Messages", []))


def test_queue_sender_single_batch_and_fifo(aws: LocalStack) -> None:
    url = get_settings().publish_queue_url
    message = ListingMessage(listing_id="abc", post_id="1:1")
    assert send(url, message)
    (got,) = _receive(url)
    assert ListingMessage.model_validate_json(got["Body"]) == message

    post = QueuedPost(kind=PostKind.NEW, channel_id=42, message_id=7, text="x", date=datetime.now(UTC))
    assert QueueSender(url).send_batch([post_message(post), message]) == [True, True]
    bodies = {m["Body"]: m for m in _receive(url)}
    queued = bodies[post.model_dump_json()]
    assert queued["MessageAttributes"]["post_id"]["StringValue"] == "42:7"
    assert queued["MessageAttributes"]["kind"]["StringValue"] == "new"
    with pytest.raises(ValueError, match="at most 10"):
        QueueSender(url).send_batch([message] * 11)

    fifo = fifo_queue("carsbot-adapters-test.fifo")
    sender = QueueSender(fifo)
    assert sender.fifo and sender.send_batch([post_message(post), post_message(post)]) == [True, True]
    assert len(_receive(fifo)) == 1  # the same post twice: SQS deduplicated it by its idempotency key


def fifo_queue(name: str) -> str:
    sqs = aws_adapter.client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"]
    sqs.purge_queue(QueueUrl=url)
    return str(url)


def test_media_store_roundtrip_and_skips(aws: LocalStack) -> None:
    store = MediaStore(get_settings().media_bucket)
    assert not store.exists("media/1/1.jpg")
    store.put("media/1/1.jpg", b"\xff\xd8photo", "image/jpeg")
    store.put("media/1/2.bin", b"video-bytes", "video/mp4")
    store.put("media/1/3.jpg", b"x" * 2000, "image/jpeg")
    assert store.exists("media/1/1.jpg")

    keys = ["media/1/1.jpg", "media/1/gone.jpg", "media/1/2.bin", "media/1/3.jpg"]
    items = store.load(keys, max_photo_bytes=1000)
    assert items == [
        MediaItem(b"\xff\xd8photo", "photo", "1.jpg"),  # missing and oversized objects are skipped
        MediaItem(b"video-bytes", "video", "2.bin"),  # the stored content type wins over the extension
    ]
    assert len(load_media(store.bucket, ["media/1/1.jpg"] * (MAX_ITEMS + 3))) == MAX_ITEMS
    assert media_kind("a.mp4") == "video" and media_kind("a.jpg") == "photo"
    with pytest.raises(ValueError):
        MediaStore("")


def test_client_factory_one_session_cache_clear(aws: LocalStack) -> None:
    first = aws_adapter.client("sqs")
    assert aws_adapter.client("sqs") is first
    assert aws_adapter.client("s3") is not first
    assert aws_adapter.session() is aws_adapter.session()
    config = first.meta.config
    assert config.retries["mode"] == "adaptive" and config.max_pool_connections >= 16

    session = aws_adapter.session()
    aws_adapter.client.cache_clear()
    assert aws_adapter.client("sqs") is not first
    assert aws_adapter.session() is not session
