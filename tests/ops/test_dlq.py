"""``carsbot dlq``: a Bot API outage dead-letters listings; show says why, redrive brings them back and they
are published; purge asks first."""

from __future__ import annotations

import json
import logging
import time
import uuid

from ops_support import operator_shell

from carsbot.adapters.aws import client
from carsbot.adapters.db import ChannelModel, ListingModel
from carsbot.cli import main
from carsbot.commands.dlq import cmd_purge
from carsbot.core.contracts import ListingMessage
from carsbot.observability import logger
from carsbot_dev.local.botapi_standin import BotApiStandin
from carsbot_dev.local.runner import LocalLambdaRunner, PumpStats
from carsbot_dev.local.stack import LocalStack

SELLER_PHONE = "+79161234567"


class CloudWatchLogs(logging.Handler):
    """What Lambda does with a function's log lines: they land in its log group (here: moto's)."""

    def __init__(self, group: str) -> None:
        super().__init__(level=logging.WARNING)
        self.group = group
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((int(record.created * 1000), logger.registered_formatter.format(record)))

    def ship(self) -> None:
        logs = client("logs")
        stream = uuid.uuid4().hex
        logs.create_log_stream(logGroupName=self.group, logStreamName=stream)
        events = [{"timestamp": ts, "message": line} for ts, line in sorted(self.lines)]
        logs.put_log_events(logGroupName=self.group, logStreamName=stream, logEvents=events)


def _listing() -> ListingModel:
    listing_id = "lst" + uuid.uuid4().hex[:9]
    listing = ListingModel(
        listing_id,
        post_id="1001:77",
        channel_id=1001,
        brand="Toyota",
        model="Camry",
        year=2018,
        price=1_350_000,
        city="Казань",
        phones=[SELLER_PHONE],
        description=f"Один владелец. Звоните {SELLER_PHONE}.",
    )
    listing.save()
    return listing


def _dead_letter(runner: LocalLambdaRunner, bot_api: BotApiStandin, listing: ListingModel) -> None:
    """Telegram answers "chat not found" until the message has failed 5 times and is in the DLQ."""
    bot_api.fail_next(400, description="Bad Request: chat not found", method="sendMessage", times=100)
    body = ListingMessage(action="publish", listing_id=listing.listing_id, post_id=listing.post_id)
    client("sqs").send_message(
        QueueUrl=runner.stack.queue_url("PublishQueue"), MessageBody=body.model_dump_json()
    )
    mapping = next(m for m in runner.stack.mappings if m.function == "PublishFunction")
    group = f"/aws/lambda/{runner.stack.functions['PublishFunction'].name}"
    shipper = CloudWatchLogs(group)
    logging.getLogger(logger.name).addHandler(shipper)
    try:
        stats = PumpStats()
        for _ in range(10):
            if runner.pump_once(mapping, stats) == 0:
                break
    finally:
        logging.getLogger(logger.name).removeHandler(shipper)
    assert stats.succeeded == 0 and stats.failed >= 4
    shipper.ship()
    bot_api.reset()  # the outage is over


def test_show_redrive_and_processed(bot_api: BotApiStandin, runner: LocalLambdaRunner, capsys) -> None:  # type: ignore[no-untyped-def]
    ChannelModel("@cars_kazan", channel_id=1001, title="Авто Казань").save()
    listing = _listing()
    _dead_letter(runner, bot_api, listing)
    dlq_url = runner.stack.queue_url("PublishDLQ")

    with operator_shell():
        assert main(["dlq", "list", "--stage", "local"]) == 0
        listed = capsys.readouterr().out
        assert main(["dlq", "show", "publish", "--stage", "local"]) == 0
        shown = capsys.readouterr().out
        started = time.monotonic()
        assert main(["dlq", "redrive", "publish", "--stage", "local"]) == 0
        redriven = capsys.readouterr().out
        redrive_seconds = time.monotonic() - started

    assert "publish             1         0  carsbot-local-publish-dlq" in listed
    assert "carsbot-local-publish-dlq: 1 message(s); showing 1" in shown
    # Why: what the publish function logged for this listing, from its log group.
    why = [line for line in shown.splitlines() if line.strip().startswith("why:")]
    assert why and "publish failed permanently" in why[0] and "chat not found" in why[0]
    body_line = next(line for line in shown.splitlines() if line.strip().startswith("body:"))
    assert listing.listing_id in body_line
    assert "9161234567" not in shown.replace(" ", "").replace("-", "")  # no seller contact printed
    # moto has no message move task: the local fallback moved it and said so.
    assert "moved 1 message(s) from carsbot-local-publish-dlq" in redriven
    assert "has no SQS message move task" in redriven
    assert redrive_seconds < 60, redrive_seconds

    attributes = client("sqs").get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    stats = runner.drain()
    assert stats["PublishFunction"].succeeded == 1
    assert ListingModel.get(listing.listing_id, consistent_read=True).status == "published"
    assert len(bot_api.sent_calls()) == 1


def test_purge_asks_first(aws: LocalStack, capsys) -> None:  # type: ignore[no-untyped-def]
    import argparse

    from carsbot.ops.stage import apply_stage

    dlq_url = aws.queue_url("PostsDLQ")
    client("sqs").send_message(QueueUrl=dlq_url, MessageBody=json.dumps({"channel_id": 1, "message_id": 2}))
    with operator_shell():
        apply_stage("local")
        args = argparse.Namespace(queue="posts", yes=False)
        lines: list[str] = []
        assert cmd_purge(args, out=lines.append, prompt=lambda question: "no") == 1
        assert lines == ["not purged"]
        depth = client("sqs").get_queue_attributes(
            QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        assert depth["Attributes"]["ApproximateNumberOfMessages"] == "1"
        questions: list[str] = []

        def typed(question: str) -> str:
            questions.append(question)
            return "posts"

        assert cmd_purge(args, out=lines.append, prompt=typed) == 0
        assert "Delete all 1 message(s) of carsbot-local-posts-dlq?" in questions[0]
        assert main(["dlq", "purge", "nosuch", "--yes", "--stage", "local"]) == 1
    depth = client("sqs").get_queue_attributes(
        QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert depth["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert "no dead-letter queue 'nosuch' in stack carsbot-local" in capsys.readouterr().out
