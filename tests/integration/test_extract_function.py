"""The extract function through its real handler: SQS (moto server) -> DynamoDB -> publish queue."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from carsbot.adapters.aws import client
from carsbot.adapters.db import DedupModel, ListingModel, PostModel
from carsbot.config import get_settings
from carsbot.core.contracts import ListingMessage, PostKind, QueuedPost, listing_id_of
from carsbot_dev.local.runner import LocalLambdaRunner
from carsbot_dev.local.stack import LocalStack

SALE = (
    "🔥 Продаю Тойота Камри 2018 г.\n"
    "Двигатель 2.5 л, АКПП, пробег 98 000 км, 1 владелец.\n"
    "Город: Казань.\n"
    "Цена 2 150 000 ₽\n"
    "Тел: +7 912 345-67-89, @camry_seller"
)
SALE_COPY = (
    "Тойота Камри 2018, 2.5 автомат, пробег 98 т.км, один хозяин, в Казани. "
    "Цена 2 120 000 руб. Звоните 8 (912) 345-67-89"
)
NOT_A_SALE = "Куплю Ладу Весту до 900 000 ₽ в Казани, без ДТП. Пишите @buyer_kzn"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def post(
    channel_id: int, message_id: int, text: str, kind: PostKind = PostKind.NEW, minutes: int = 0
) -> QueuedPost:
    return QueuedPost(
        kind=kind,
        channel_id=channel_id,
        message_id=message_id,
        text=text,
        date=T0 + timedelta(minutes=minutes),
        edit_date=T0 + timedelta(minutes=minutes + 5) if kind is PostKind.EDIT else None,
        channel_username=f"cars{channel_id}",
    )


def enqueue(*bodies: QueuedPost | str) -> None:
    url = get_settings().posts_queue_url
    for body in bodies:
        text = body if isinstance(body, str) else body.model_dump_json()
        client("sqs").send_message(QueueUrl=url, MessageBody=text)


def drain_extract(runner: LocalLambdaRunner, rounds: int = 20) -> None:
    from carsbot_dev.local.runner import PumpStats

    mapping = next(m for m in runner.stack.mappings if m.function == "ExtractFunction")
    stats = PumpStats()
    for _ in range(rounds):
        if runner.pump_once(mapping, stats) == 0:
            break


def publish_messages() -> list[ListingMessage]:
    url = get_settings().publish_queue_url
    found = []
    while True:
        got = client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        if not got.get("Messages"):
            return found
        for m in got["Messages"]:
            found.append(ListingMessage.model_validate_json(m["Body"]))
            client("sqs").delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_sale_is_one_listing_if_sent_twice(aws: LocalStack, runner: LocalLambdaRunner) -> None:
    sale = post(1001, 10, SALE)
    enqueue(sale, sale)
    drain_extract(runner)

    row = PostModel.get(sale.post_id)
    assert row.status == "listing" and row.engine == "rules"
    listing = ListingModel.get(row.listing_id)
    assert (listing.brand, listing.model, listing.year, listing.price) == ("Toyota", "Camry", 2018, 2_150_000)
    assert listing.phones == ["+79123456789"] and listing.usernames == ["camry_seller"]
    assert listing.status == "pending" and listing.brand_model == "toyota|camry"
    messages = publish_messages()
    assert [(m.action, m.listing_id) for m in messages] == [("publish", row.listing_id)]


def test_non_sale_recorded_rejected_reason(aws: LocalStack, runner: LocalLambdaRunner) -> None:
    enqueue(post(1001, 11, NOT_A_SALE), post(1001, 12, ""), post(1001, 13, "🚗🔥🔥💰"))
    drain_extract(runner)
    for message_id in (11, 12, 13):
        row = PostModel.get(f"1001:{message_id}")
        assert row.status == "rejected" and row.reason, message_id
    assert PostModel.get("1001:11").reason == "buy_request"
    assert publish_messages() == []


def test_same_car_another_channel_duplicate(aws: LocalStack, runner: LocalLambdaRunner) -> None:
    enqueue(post(1001, 20, SALE))
    drain_extract(runner)
    enqueue(post(2002, 7, SALE_COPY, minutes=30))
    drain_extract(runner)

    original = PostModel.get("1001:20")
    copy = PostModel.get("2002:7")
    assert copy.status == "duplicate" and copy.listing_id == original.listing_id
    assert ListingModel.get(original.listing_id).duplicate_post_ids == {"2002:7"}
    assert len(publish_messages()) == 1


def test_malformed_msg_fails_alone_dead_lettered(aws: LocalStack, runner: LocalLambdaRunner) -> None:
    enqueue("{not json", json.dumps({"channel_id": 5}), post(1001, 30, SALE))
    drain_extract(runner, rounds=30)

    assert PostModel.get("1001:30").status == "listing"
    dlq = aws.dlq_of("PostsQueue")
    assert dlq
    dead = client("sqs").receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=0)["Messages"]
    assert sorted(m["Body"] for m in dead) == sorted(["{not json", json.dumps({"channel_id": 5})])


def test_edit_updates_listing_deletion_withdraws(aws: LocalStack, runner: LocalLambdaRunner) -> None:
    enqueue(post(1001, 40, SALE))
    drain_extract(runner)
    listing_id = PostModel.get("1001:40").listing_id
    ListingModel(listing_id).update(actions=[ListingModel.status.set("published")])  # as the publisher would
    publish_messages()

    enqueue(post(1001, 40, SALE.replace("2 150 000", "1 990 000"), kind=PostKind.EDIT, minutes=60))
    drain_extract(runner)
    assert ListingModel.get(listing_id).price == 1_990_000
    assert [m.action for m in publish_messages()] == ["update"]

    enqueue(post(1001, 40, "", kind=PostKind.DELETE, minutes=90))
    drain_extract(runner)
    assert ListingModel.get(listing_id).status == "removed"
    assert PostModel.get("1001:40").status == "removed"
    assert [m.action for m in publish_messages()] == ["remove"]


def test_edit_to_sold_withdraws_listing(aws: LocalStack, runner: LocalLambdaRunner) -> None:
    enqueue(post(1001, 50, SALE))
    drain_extract(runner)
    listing_id = PostModel.get("1001:50").listing_id
    ListingModel(listing_id).update(actions=[ListingModel.status.set("published")])
    publish_messages()
    enqueue(post(1001, 50, "ПРОДАНО! " + SALE, kind=PostKind.EDIT, minutes=10))
    drain_extract(runner)
    assert ListingModel.get(listing_id).status == "sold"
    assert [m.action for m in publish_messages()] == ["remove"]


def test_huge_post_is_handled(aws: LocalStack, runner: LocalLambdaRunner) -> None:
    huge = SALE + "\n" + ("Отличное состояние, вложений не требует. " * 400)
    assert len(huge) > 10_000
    enqueue(post(1001, 60, huge))
    drain_extract(runner)
    row = PostModel.get("1001:60")
    assert row.status == "listing"
    assert ListingModel.get(row.listing_id).price == 2_150_000


DEALER_CAR_A = (
    "Продаю Тойота Камри 2018 г., 2.5 АКПП, пробег 60 000 км, Казань. Цена 2 400 000 ₽. Тел: +7 912 111-22-33"
)
DEALER_CAR_B = (
    "Тойота Камри 2018, 2.0 автомат, пробег 140 000 км, Казань, цена 1 650 000 руб. Тел +7 912 111-22-33"
)
DEALER_CAR_B_REPOST = (
    "В продаже Камри (Тойота) 2018 года, пробег 140 т.км. 1 640 000 р. Звоните 8 912 111 22 33"
)


def test_dealer_two_cars_repost_finds_second(aws: LocalStack, runner: LocalLambdaRunner) -> None:
    enqueue(post(1001, 70, DEALER_CAR_A))
    drain_extract(runner)
    enqueue(post(1001, 71, DEALER_CAR_B, minutes=1))
    drain_extract(runner)
    car_a, car_b = PostModel.get("1001:70"), PostModel.get("1001:71")
    assert car_a.status == car_b.status == "listing"  # 31 % apart: never merged
    assert car_a.listing_id != car_b.listing_id
    assert ListingModel.get(car_b.listing_id).price == 1_650_000

    # The second car re-posted elsewhere (price within a few percent) is a duplicate of *it*, even
    # though the dealer's first car of the same model and year owns the fingerprint's first slot.
    enqueue(post(2002, 8, DEALER_CAR_B_REPOST, minutes=30))
    drain_extract(runner)
    repost = PostModel.get("2002:8")
    assert repost.status == "duplicate" and repost.listing_id == car_b.listing_id
    assert sorted(m.listing_id for m in publish_messages()) == sorted([car_a.listing_id, car_b.listing_id])


def test_filters_reject_keywords_before_extract(aws: LocalStack) -> None:
    from carsbot.core.extraction.base import ExtractionResult
    from carsbot.core.extraction.rules import RulesExtractor
    from carsbot.pipeline.extract import ExtractService

    seen: list[str] = []

    class CountingRules:  # the real rules engine, counting how often extraction runs
        name = "rules"

        def extract(self, text: str, *, deadline: float | None = None) -> ExtractionResult:
            seen.append(text)
            return RulesExtractor().extract(text)

    settings = get_settings().model_copy(update={"exclude_keywords": ["лизинг"], "min_price": 500_000})
    service = ExtractService(settings, CountingRules())

    leasing = service.process(post(1001, 70, "Авто в лизинг для юрлиц! " + SALE))
    assert (leasing.status, leasing.reason) == ("rejected", "filter:exclude_keyword:лизинг")
    assert seen == []  # rejected on the text alone: no extraction, so no LLM call either
    cheap = service.process(post(1001, 71, SALE.replace("2 150 000", "350 000")))
    assert (cheap.status, cheap.reason) == ("rejected", "filter:price_below_min")
    assert PostModel.get("1001:71").reason == "filter:price_below_min"
    assert service.process(post(1001, 72, SALE)).status == "listing"


# ------------------------------------------------------------------ each guarantee on its own


def test_dup_lookup_alone_leaves_no_listing_row(aws: LocalStack, runner: LocalLambdaRunner) -> None:
    # A copy processed after the original is caught by the lookup, before any listing is built: the
    # fingerprint claim would catch it too, but only after storing a listing row for it.
    enqueue(post(1001, 80, SALE))
    drain_extract(runner)
    enqueue(post(2002, 9, SALE_COPY, minutes=30))
    drain_extract(runner)

    copy = PostModel.get("2002:9")
    assert copy.status == "duplicate" and copy.listing_id == PostModel.get("1001:80").listing_id
    assert ListingModel.count(listing_id_of("2002:9")) == 0
    assert list(DedupModel.scan(DedupModel.listing_id == listing_id_of("2002:9"))) == []  # claimed nothing
    assert len(publish_messages()) == 1


def test_dup_claim_alone_decides_concurrent(aws: LocalStack) -> None:
    # Two copies of one car processed at the same time: both look up before either has claimed its
    # fingerprints, so only the conditional claim can tell them apart. The interleaving is forced by
    # running copy B to the end while copy A stores its listing (between A's lookup and A's claim).
    from carsbot.adapters.db.listings import ListingsRepository
    from carsbot.core.extraction.rules import RulesExtractor
    from carsbot.pipeline.extract import ExtractService

    settings = get_settings()
    sent: list[ListingMessage] = []

    def send(url: str, message: ListingMessage) -> str:
        sent.append(message)
        return "m"

    copy_b = post(2002, 10, SALE_COPY)
    other = ExtractService(settings, RulesExtractor(), send)

    class Interleaved(ListingsRepository):
        def create(self, listing: ListingModel) -> ListingModel:
            if listing.post_id == "1001:81":
                assert other.process(copy_b).status == "listing"  # B wins: looked up, stored, claimed
            return super().create(listing)

    service = ExtractService(settings, RulesExtractor(), send, listings=Interleaved())
    outcome = service.process(post(1001, 81, SALE))

    winner = listing_id_of(copy_b.post_id)
    assert (outcome.status, outcome.listing_id) == ("duplicate", winner)
    assert [(m.action, m.listing_id) for m in sent] == [("publish", winner)]  # only the winner is queued
    loser = ListingModel.get(listing_id_of("1001:81"))
    assert loser.status == "duplicate"  # stored before the claim, never published
    assert ListingModel.get(winner).duplicate_post_ids == {"1001:81"}


def test_extract_idempotency_observed(aws: LocalStack, runner: LocalLambdaRunner) -> None:
    import hashlib

    sale = post(1001, 90, SALE)
    enqueue(sale)
    drain_extract(runner)
    assert [m.action for m in publish_messages()] == ["publish"]
    listing_id = PostModel.get(sale.post_id).listing_id

    PostModel(sale.post_id).delete()  # the pipeline's own record of the post is gone...
    enqueue(sale)  # ...and the same post is delivered again
    drain_extract(runner)

    assert PostModel.count(sale.post_id) == 0  # the idempotency layer answered: nothing created
    assert publish_messages() == []  # and nothing queued
    assert ListingModel.get(listing_id).status == "pending"
    key_hash = hashlib.md5(json.dumps("1001:90").encode(), usedforsecurity=False).hexdigest()
    items = client("dynamodb").scan(TableName=get_settings().idempotency_table)["Items"]
    (record,) = [i for i in items if i["id"]["S"].endswith("#" + key_hash)]  # keyed channel_id:message_id
    assert "process_post" in record["id"]["S"] and record["status"]["S"] == "COMPLETED"


def test_decided_post_is_not_redone(aws: LocalStack) -> None:
    # Below the idempotency layer (e.g. a redelivery after its record expired): the stored post row says
    # the post was decided, so nothing is extracted, stored or queued again.
    from carsbot.core.extraction.rules import RulesExtractor
    from carsbot.pipeline.extract import ExtractService

    sent: list[ListingMessage] = []

    def send(url: str, message: ListingMessage) -> str:
        sent.append(message)
        return "m"

    service = ExtractService(get_settings(), RulesExtractor(), send)
    first = service.process(post(1001, 95, SALE))
    again = service.process(post(1001, 95, SALE))
    assert first.status == again.status == "listing" and again.listing_id == first.listing_id
    assert [m.action for m in sent] == ["publish"]
