"""The publish function through its real handler: SQS events -> DynamoDB (moto server) -> Bot API stand-in.

Everything goes over real HTTP: pynamodb/boto3 to the moto server created from template.yaml, aiogram to
the local Bot API stand-in. Assertions are on what the stand-in recorded and what DynamoDB holds.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from carsbot.adapters.aws import client
from carsbot.adapters.db import ChannelModel, ListingModel, StateModel
from carsbot.adapters.telegram_bot import ChannelBot, RetryableTelegramError
from carsbot.config import get_settings
from carsbot.core.contracts import ListingMessage
from carsbot.pipeline.publish import Publisher, RateLimitedError
from carsbot_dev.local.botapi_standin import BotApiStandin, RecordedCall, strip_html
from carsbot_dev.local.runner import LocalLambdaRunner, PumpStats, sqs_event
from carsbot_dev.local.stack import LocalStack

TOKEN = "123456:TEST-token"
CHANNEL = "@carsbot_demo_news"
SELLER_PHONE = "+79161234567"
SELLER_USERNAME = "ivan_cars"
FUNCTION = "PublishFunction"


def make_listing(listing_id: str | None = None, **fields: Any) -> ListingModel:
    listing_id = listing_id or uuid.uuid4().hex[:12]
    values: dict[str, Any] = {
        "post_id": f"1001:{abs(hash(listing_id)) % 10_000}",
        "channel_id": 1001,
        "brand": "Toyota",
        "model": "Camry",
        "year": 2018,
        "price": 1_350_000,
        "market_estimate": 1_500_000,
        "saving": 150_000,
        "below_market": True,
        "mileage": 98_000,
        "engine_volume": 2.5,
        "transmission": "automatic",
        "drive": "awd",
        "owners_count": 1,
        "city": "Казань",
        "equipment": ["кожаный салон", f"звоните {SELLER_PHONE}"],
        "description": f"Один владелец, без ДТП. Звоните 8 (916) 123-45-67 или пишите @{SELLER_USERNAME}.",
        "phones": [SELLER_PHONE],
        "usernames": [SELLER_USERNAME],
    }
    values.update(fields)
    listing = ListingModel(listing_id, **values)
    listing.save()
    return listing


def record(body: str, message_id: str | None = None, receive_count: int = 1) -> dict[str, Any]:
    return {
        "MessageId": message_id or str(uuid.uuid4()),
        "ReceiptHandle": uuid.uuid4().hex,
        "Body": body,
        "Attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1700000000000"},
    }


def message_body(listing_id: str, action: str = "publish") -> str:
    return ListingMessage(action=action, listing_id=listing_id, post_id="1001:1").model_dump_json()  # type: ignore[arg-type]


def invoke(runner: LocalLambdaRunner, *records: dict[str, Any]) -> list[str]:
    """Invoke the publish handler with one SQS event; returns the failed message ids."""
    arn = next(m.queue_arn for m in runner.stack.mappings if m.function == FUNCTION)
    result = runner.invoke(FUNCTION, sqs_event(list(records), arn))
    return [f["itemIdentifier"] for f in result["batchItemFailures"]]


def assert_no_seller_contact(calls: list[RecordedCall]) -> None:
    assert calls, "nothing was sent"
    for call in calls:
        text = call.text
        assert text, call
        digits = re.sub(r"\D", "", strip_html(text))
        assert "9161234567" not in digits
        assert SELLER_USERNAME not in text
        assert not re.search(r"(?<![\w/])@\w", strip_html(text))
        assert re.findall(r'href="([^"]+)"', text) in (
            [],
            [f"https://t.me/carsbot_demo_bot?start=l_{_lid(call)}"],
        )


def _lid(call: RecordedCall) -> str:
    match = re.search(r"start=l_([A-Za-z0-9_-]+)", call.text)
    return match.group(1) if match else ""


# ---------------------------------------------------------------------------------------------- tests


def test_published_once_when_delivered_twice(bot_api: BotApiStandin, runner: LocalLambdaRunner) -> None:
    ChannelModel("@cars_kazan", channel_id=1001, title="Авто Казань").save()
    listing = make_listing("lstOnce00001")
    body = message_body(listing.listing_id)

    assert invoke(runner, record(body)) == []
    assert invoke(runner, record(body)) == []  # SQS delivered the same message again
    assert invoke(runner, record(body), record(body)) == []  # and twice in one batch

    sends = bot_api.calls_of("sendMessage")
    assert len(sends) == 1
    text = sends[0].params["text"]
    assert sends[0].params["chat_id"] == CHANNEL
    assert sends[0].params["parse_mode"] == "HTML"
    assert "🚗 <b>Toyota Camry</b>" in text and "💰 <b>1 350 000 ₽</b>" in text
    assert "📉 Выгода 150 000 ₽ (10%) — ниже рынка" in text
    assert 'href="https://t.me/carsbot_demo_bot?start=l_lstOnce00001"' in text
    assert_no_seller_contact(sends)

    stored = ListingModel.get(listing.listing_id, consistent_read=True)
    assert stored.status == "published"
    assert list(stored.published_message_ids) == [1]
    assert stored.published_at is not None and stored.publish_error is None
    channel = ChannelModel.get("@cars_kazan", consistent_read=True)
    assert channel.published_count == 1 and channel.last_post_at is not None
    assert "channel @carsbot_demo_news · 1 posts" in bot_api.render_feed()


def test_retry_after_429_is_honoured(bot_api: BotApiStandin, runner: LocalLambdaRunner) -> None:
    listing = make_listing()
    bot_api.fail_next(429, retry_after=1, method="sendMessage")

    assert invoke(runner, record(message_body(listing.listing_id))) == []

    sends = bot_api.calls_of("sendMessage")
    assert [c.status for c in sends] == [429, 200]
    assert sends[0].params["text"] == sends[1].params["text"]
    assert sends[1].at - sends[0].at >= 1.0  # it waited the retry_after Telegram asked for
    assert list(ListingModel.get(listing.listing_id).published_message_ids) == [1]


def test_retry_after_wait_is_the_asked_one(bot_api: BotApiStandin) -> None:
    sleeps: list[float] = []
    bot_api.fail_next(429, retry_after=7, method="sendMessage")
    with ChannelBot(TOKEN, api_base=bot_api.base_url, sleep=sleeps.append) as bot:
        sent = bot.send_text(CHANNEL, "<b>hello</b>")
    assert sleeps == [7.0]  # exactly the server's retry_after, before the one retry
    assert [c.status for c in bot_api.calls_of("sendMessage")] == [429, 200] and sent.message_ids == [1]

    bot_api.fail_next(429, retry_after=45, method="sendMessage")  # longer than the inline wait: not slept
    bot = ChannelBot(TOKEN, api_base=bot_api.base_url, sleep=sleeps.append)
    with bot, pytest.raises(RetryableTelegramError) as err:
        bot.send_text(CHANNEL, "<b>again</b>")
    assert err.value.retry_after == 45.0 and sleeps == [7.0]


def test_claim_race_two_workers_one_send(bot_api: BotApiStandin, aws: LocalStack) -> None:
    listing = make_listing()
    # Two deliveries of the same message, each read the listing while it was still pending.
    first_view = ListingModel.get(listing.listing_id, consistent_read=True)
    second_view = ListingModel.get(listing.listing_id, consistent_read=True)
    assert first_view.status == second_view.status == "pending"

    def bot() -> ChannelBot:
        return ChannelBot(TOKEN, api_base=bot_api.base_url)

    with Publisher(bot_factory=bot) as one, Publisher(bot_factory=bot) as other:
        won = one.publish(first_view)
        lost = other.publish(second_view)

    assert won.result == "published"
    assert (lost.result, lost.reason) == ("skipped", "lost the claim to a concurrent delivery")
    assert len(bot_api.calls_of("sendMessage")) == 1 and len(bot_api.chat_messages(CHANNEL)) == 1
    stored = ListingModel.get(listing.listing_id, consistent_read=True)
    assert stored.status == "published" and list(stored.published_message_ids) == won.message_ids


def test_long_flood_wait_releases_the_claim(bot_api: BotApiStandin, runner: LocalLambdaRunner) -> None:
    first, second = make_listing(), make_listing()
    bot_api.fail_next(429, retry_after=300, method="sendMessage")
    failed_record, next_record = (
        record(message_body(first.listing_id)),
        record(message_body(second.listing_id)),
    )

    failed = invoke(runner, failed_record, next_record)

    # Too long to wait inside the invocation: both fail fast and come back through the queue.
    assert failed == [failed_record["MessageId"], next_record["MessageId"]]
    assert [c.status for c in bot_api.calls_of("sendMessage")] == [429]
    for lst in (first, second):
        stored = ListingModel.get(lst.listing_id, consistent_read=True)
        assert stored.status == "pending" and stored.publish_claimed_at is None
    assert "retry after" in (ListingModel.get(first.listing_id).publish_error or "")

    assert invoke(runner, record(message_body(first.listing_id))) == []  # the redelivery publishes
    assert ListingModel.get(first.listing_id).status == "published"


def test_chat_not_found_fails_perm_dead_lettered(bot_api: BotApiStandin, runner: LocalLambdaRunner) -> None:
    listing = make_listing()
    bot_api.fail_next(400, description="Bad Request: chat not found", method="sendMessage", times=100)
    settings = get_settings()
    client("sqs").send_message(
        QueueUrl=settings.publish_queue_url, MessageBody=message_body(listing.listing_id)
    )
    mapping = next(m for m in runner.stack.mappings if m.function == FUNCTION)

    stats = PumpStats()
    for _ in range(10):
        if runner.pump_once(mapping, stats) == 0:
            break

    # Every receive failed (moto's own event-source poller may take one of the 5 receives).
    assert stats.succeeded == 0 and 4 <= stats.failed <= 5
    assert len(bot_api.calls_of("sendMessage")) == stats.failed
    dlq = runner.stack.dlq_of("PublishQueue")
    assert dlq is not None
    dead = client("sqs").receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["listing_id"] for m in dead] == [listing.listing_id]
    stored = ListingModel.get(listing.listing_id, consistent_read=True)
    assert stored.status == "pending"
    assert "chat not found" in (stored.publish_error or "")
    assert not stored.published_message_ids


def test_malformed_bodies_fail_only_records(bot_api: BotApiStandin, runner: LocalLambdaRunner) -> None:
    listing = make_listing()
    not_json = record("this is not json")
    missing_fields = record(json.dumps({"action": "publish"}))
    bad_action = record(json.dumps({"action": "explode", "listing_id": "x", "post_id": "1:1"}))
    good = record(message_body(listing.listing_id))

    failed = invoke(runner, not_json, missing_fields, bad_action, good)

    assert sorted(failed) == sorted(
        [not_json["MessageId"], missing_fields["MessageId"], bad_action["MessageId"]]
    )
    assert len(bot_api.calls_of("sendMessage")) == 1
    assert ListingModel.get(listing.listing_id).status == "published"


def test_unknown_listing_fails_the_record(bot_api: BotApiStandin, runner: LocalLambdaRunner) -> None:
    missing = record(message_body("doesNotExist"))
    assert invoke(runner, missing) == [missing["MessageId"]]
    assert bot_api.calls == []


def test_album_from_the_media_bucket(bot_api: BotApiStandin, runner: LocalLambdaRunner) -> None:
    bucket = get_settings().media_bucket
    s3 = client("s3")
    keys = ["media/1001/10.jpg", "media/1001/11.jpg", "media/1001/12.mp4", "media/1001/gone.jpg"]
    s3.put_object(Bucket=bucket, Key=keys[0], Body=b"\xff\xd8jpeg-one", ContentType="image/jpeg")
    s3.put_object(Bucket=bucket, Key=keys[1], Body=b"\xff\xd8jpeg-two", ContentType="image/jpeg")
    s3.put_object(Bucket=bucket, Key=keys[2], Body=b"mp4-video-bytes", ContentType="video/mp4")
    listing = make_listing(media_keys=keys, description="Очень подробное описание. " * 80)

    assert invoke(runner, record(message_body(listing.listing_id))) == []

    (call,) = bot_api.calls_of("sendMediaGroup")
    media = call.params["media"]
    assert [m["type"] for m in media] == ["photo", "photo", "video"]  # the missing object is skipped
    assert sorted(name for name, _ in call.files.values()) == ["10.jpg", "11.jpg", "12.mp4"]
    assert "start=l_" in media[0]["caption"] and all("caption" not in m for m in media[1:])
    assert len(strip_html(media[0]["caption"])) <= 1024
    assert_no_seller_contact([call])
    stored = ListingModel.get(listing.listing_id)
    assert list(stored.published_message_ids) == [1, 2, 3]
    assert "album of 3" in bot_api.render_feed()


def test_update_remove_edit_published_post(bot_api: BotApiStandin, runner: LocalLambdaRunner) -> None:
    listing = make_listing()
    assert invoke(runner, record(message_body(listing.listing_id))) == []

    listing.update(actions=[ListingModel.price.set(1_290_000), ListingModel.saving.set(210_000)])
    assert invoke(runner, record(message_body(listing.listing_id, "update"))) == []
    (edit,) = bot_api.calls_of("editMessageText")
    assert edit.params["message_id"] == "1" and "1 290 000 ₽" in edit.params["text"]
    assert invoke(runner, record(message_body(listing.listing_id, "update"))) == []  # not modified: fine

    listing.update(actions=[ListingModel.status.set("sold")])  # the extractor saw "ПРОДАНО"
    assert invoke(runner, record(message_body(listing.listing_id, "remove"))) == []
    removal = bot_api.calls_of("editMessageText")[-1]
    assert removal.params["text"].startswith("<b>❌ Продано / снято с продажи</b>")
    assert "start=l_" not in removal.params["text"]
    assert ListingModel.get(listing.listing_id).status == "sold"
    assert len(bot_api.calls_of("sendMessage")) == 1
    assert_no_seller_contact(bot_api.calls_of("sendMessage", "editMessageText"))


def test_removed_before_publishing_is_never_sent(bot_api: BotApiStandin, runner: LocalLambdaRunner) -> None:
    listing = make_listing()
    assert invoke(runner, record(message_body(listing.listing_id, "remove"))) == []
    assert invoke(runner, record(message_body(listing.listing_id))) == []
    assert bot_api.calls == []
    assert ListingModel.get(listing.listing_id).status == "removed"


def test_stale_claim_is_unknown_never_resent(bot_api: BotApiStandin, runner: LocalLambdaRunner) -> None:
    crashed = make_listing(status="publishing", publish_claimed_at=datetime.now(UTC) - timedelta(minutes=30))
    busy = make_listing(status="publishing", publish_claimed_at=datetime.now(UTC))

    assert (
        invoke(runner, record(message_body(crashed.listing_id)), record(message_body(busy.listing_id))) == []
    )

    assert bot_api.calls == []
    assert ListingModel.get(crashed.listing_id).status == "publish_unknown"
    assert ListingModel.get(busy.listing_id).status == "publishing"  # another invocation owns it


def test_lost_response_is_not_resent(bot_api: BotApiStandin, aws: LocalStack) -> None:
    listing = make_listing()
    bot_api.stall_next(3.0, method="sendMessage")  # Telegram posts it, but the answer never arrives in time

    def bot() -> ChannelBot:
        return ChannelBot(TOKEN, api_base=bot_api.base_url, request_timeout=0.5)

    message = ListingMessage(listing_id=listing.listing_id, post_id="1:1")
    with Publisher(bot_factory=bot) as publisher:
        assert publisher.handle(message).result == "unknown"
    with Publisher(bot_factory=bot) as publisher:  # the redelivery
        assert publisher.handle(message).result == "skipped"

    assert len(bot_api.calls_of("sendMessage")) == 1
    assert len(bot_api.chat_messages(CHANNEL)) == 1  # exactly one post in the channel, never two
    stored = ListingModel.get(listing.listing_id, consistent_read=True)
    assert stored.status == "publish_unknown" and "outcome unknown" in (stored.publish_error or "")


def test_withdrawn_while_sending_marked_after(bot_api: BotApiStandin, aws: LocalStack) -> None:
    listing = make_listing(media_keys=["media/1001/1.jpg"])

    def extractor_withdraws_meanwhile(bucket: str, keys: list[str]) -> list[Any]:
        # Runs after the claim and before the send: the source post is edited to "ПРОДАНО" right now.
        ListingModel(listing.listing_id).update(actions=[ListingModel.status.set("sold")])
        return []

    def bot() -> ChannelBot:
        return ChannelBot(TOKEN, api_base=bot_api.base_url)

    with Publisher(bot_factory=bot, media_loader=extractor_withdraws_meanwhile) as publisher:
        outcome = publisher.handle(ListingMessage(listing_id=listing.listing_id, post_id="1:1"))

    assert outcome.result == "published"
    (post,) = bot_api.chat_messages(CHANNEL)
    assert post.edited and post.html.startswith("<b>❌ Продано / снято с продажи</b>")
    stored = ListingModel.get(listing.listing_id, consistent_read=True)
    assert stored.status == "sold" and list(stored.published_message_ids) == [post.message_id]


class FakeClock:
    def __init__(self, start: float) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_chan_rate_limit_shared_counts_album(bot_api: BotApiStandin, aws: LocalStack) -> None:
    settings = get_settings().model_copy(update={"publish_rate_per_minute": 3})
    clock = FakeClock(start=1_800_000_000.0)  # a minute boundary
    sent_at: list[float] = []
    listings = [make_listing() for _ in range(4)]

    def bot() -> ChannelBot:
        return ChannelBot(TOKEN, api_base=bot_api.base_url, sleep=clock.sleep)

    with Publisher(settings, bot_factory=bot, clock=clock, sleep=clock.sleep, max_rate_wait=120) as publisher:
        for listing in listings:
            outcome = publisher.handle(ListingMessage(listing_id=listing.listing_id, post_id="1:1"))
            assert outcome.result == "published"
            sent_at.append(clock.now)

    assert len(bot_api.calls_of("sendMessage")) == 4
    assert clock.sleeps  # the fourth post waited for the window to slide
    for t in sent_at:  # never more than 3 posts in any 60 s
        assert sum(1 for s in sent_at if t - 60 < s <= t) <= 3
    log = StateModel.get(f"ratelimit#{CHANNEL}")  # the channel's log in the shared state table
    assert log.data == {"stamps": [sent_at[3]]} and log.expires_at is not None  # the last 60 s only

    # A second invocation sees the same window: an album of 3 does not fit, and it may not wait.
    album = make_listing(media_keys=["a.jpg", "b.jpg", "c.jpg"])
    loader_calls: list[list[str]] = []

    def loader(bucket: str, keys: list[str]) -> list[Any]:
        from carsbot.adapters.media import MediaItem

        loader_calls.append(keys)
        return [MediaItem(b"img", "photo", k) for k in keys]

    publisher = Publisher(
        settings, bot_factory=bot, media_loader=loader, clock=clock, sleep=clock.sleep, max_rate_wait=0
    )
    with publisher, pytest.raises(RateLimitedError) as excinfo:
        publisher.handle(ListingMessage(listing_id=album.listing_id, post_id="1:1"))
    assert excinfo.value.retry_after and excinfo.value.retry_after > 0
    assert loader_calls and bot_api.calls_of("sendMediaGroup") == []
    stored = ListingModel.get(album.listing_id, consistent_read=True)
    assert stored.status == "pending"  # claim released: the redelivery will publish it


def test_chan_rate_limit_across_minute_boundary(bot_api: BotApiStandin, aws: LocalStack) -> None:
    # Posts from half-way through a minute: a fixed per-minute window would let the next three go at
    # the boundary, 30 s later. The channel may never see more than 3 in any 60 s.
    settings = get_settings().model_copy(update={"publish_rate_per_minute": 3})
    clock = FakeClock(start=1_800_000_000.0 - 30)
    sent_at: list[float] = []

    def bot() -> ChannelBot:
        return ChannelBot(TOKEN, api_base=bot_api.base_url, sleep=clock.sleep)

    with Publisher(settings, bot_factory=bot, clock=clock, sleep=clock.sleep, max_rate_wait=120) as publisher:
        for listing in [make_listing() for _ in range(6)]:
            outcome = publisher.handle(ListingMessage(listing_id=listing.listing_id, post_id="1:1"))
            assert outcome.result == "published"
            sent_at.append(clock.now)

    assert len(bot_api.calls_of("sendMessage")) == 6
    assert sent_at[:3] == [sent_at[0]] * 3
    assert sent_at[3] >= sent_at[0] + 60  # not at the boundary
    for t in sent_at:
        assert sum(1 for s in sent_at if t - 60 < s <= t) <= 3
