"""The alarm notifier: a real SNS event of an alarm change -> the admin chat through the Bot API stand-in;
a Bot API outage is retried (adapter, then Lambda) and ends in the notifier's DLQ."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ops_support import operator_shell

from carsbot.adapters.aws import client
from carsbot.cli import main
from carsbot.config import reset_settings
from carsbot.ops.alarms import RUNBOOKS, logical_id
from carsbot_dev.local.async_invoke import invoke_async
from carsbot_dev.local.botapi_standin import BotApiStandin, strip_html
from carsbot_dev.local.stack import LocalStack, load_template

ROOT = Path(__file__).resolve().parents[2]
CHAT = "-1001234567890"
ALARM_NAME = "carsbot-local-PostsDLQAlarm-1Q2W3E4R5T6Y"


def sns_event(new: str, old: str, reason: str) -> dict[str, Any]:
    """What SNS hands Lambda for a CloudWatch alarm change (the alarm JSON is the record's Message)."""
    alarm = {
        "AlarmName": ALARM_NAME,
        "AlarmDescription": "Posts could not be extracted after 5 attempts (see the posts DLQ).",
        "AWSAccountId": "123456789012",
        "AlarmConfigurationUpdatedTimestamp": "2026-11-30T10:00:00.000+0000",
        "NewStateValue": new,
        "NewStateReason": reason,
        "StateChangeTime": "2026-12-01T09:41:07.123+0000",
        "Region": "EU (Frankfurt)",
        "AlarmArn": f"arn:aws:cloudwatch:eu-central-1:123456789012:alarm:{ALARM_NAME}",
        "OldStateValue": old,
        "OKActions": ["arn:aws:sns:eu-central-1:123456789012:carsbot-local-alarms"],
        "AlarmActions": ["arn:aws:sns:eu-central-1:123456789012:carsbot-local-alarms"],
        "InsufficientDataActions": [],
        "Trigger": {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Namespace": "AWS/SQS",
            "StatisticType": "Statistic",
            "Statistic": "MAXIMUM",
            "Unit": None,
            "Dimensions": [{"value": "carsbot-local-posts-dlq", "name": "QueueName"}],
            "Period": 300,
            "EvaluationPeriods": 1,
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 0.0,
            "TreatMissingData": "notBreaching",
            "EvaluateLowSampleCountPercentage": "",
        },
    }
    topic = "arn:aws:sns:eu-central-1:123456789012:carsbot-local-alarms"
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic}:{uuid.uuid4()}",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid4()),
                    "TopicArn": topic,
                    "Subject": f'{new}: "{ALARM_NAME}" in EU (Frankfurt)',
                    "Message": json.dumps(alarm),
                    "Timestamp": "2026-12-01T09:41:07.180Z",
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "https://sns.eu-central-1.amazonaws.com/SimpleNotificationService.pem",
                    "UnsubscribeUrl": "https://sns.eu-central-1.amazonaws.com/?Action=Unsubscribe",
                    "MessageAttributes": {},
                },
            }
        ]
    }


@pytest.fixture(scope="module")
def standin() -> Iterator[BotApiStandin]:
    with BotApiStandin(bot_username="carsbot_demo_bot") as api:
        yield api


@pytest.fixture
def waits(aws: LocalStack, standin: BotApiStandin, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """The notifier's environment (as template.yaml gives it) and a clock that records the waits."""
    standin.reset()
    monkeypatch.setenv("CARSBOT_BOT_API_BASE", standin.base_url)
    monkeypatch.setenv("CARSBOT_ALARM_CHAT_ID", CHAT)
    monkeypatch.setenv("CARSBOT_STACK_NAME", aws.stack_name)
    monkeypatch.setenv("CARSBOT_RUNBOOK_URL", "")
    reset_settings()
    import alarms.app  # type: ignore[import-not-found]  # functions/ is on sys.path once invoke_async ran

    recorded: list[float] = []
    monkeypatch.setattr(alarms.app, "sleep", recorded.append)
    yield recorded
    reset_settings()


@pytest.fixture(autouse=True)
def _functions_on_path() -> None:
    import sys

    if str(ROOT / "functions") not in sys.path:
        sys.path.insert(0, str(ROOT / "functions"))


def test_alarm_and_ok_reach_the_admin_chat(
    aws: LocalStack, standin: BotApiStandin, waits: list[float]
) -> None:
    alarm = invoke_async(
        aws, "AlarmsFunction", sns_event("ALARM", "OK", "Threshold Crossed: 1 datapoint [2.0]")
    )
    ok = invoke_async(aws, "AlarmsFunction", sns_event("OK", "ALARM", "Threshold Crossed: 1 datapoint [0.0]"))

    assert alarm.succeeded and ok.succeeded and alarm.attempts == ok.attempts == 1
    sent = standin.calls_of("sendMessage")
    assert [c.status for c in sent] == [200, 200]
    assert all(str(c.params["chat_id"]) == CHAT and c.params["parse_mode"] == "HTML" for c in sent)
    first, second = (strip_html(c.params["text"]) for c in sent)
    assert first.startswith("🔴 ТРЕВОГА · carsbot-local")
    assert "Посты не обработаны (DLQ постов не пуст)" in first
    assert (
        "carsbot dlq show posts --stage local" in first and "carsbot dlq redrive posts --stage local" in first
    )
    assert "Инструкция: docs/operations.md → «DLQ growth»" in first
    assert "Threshold Crossed: 1 datapoint [2.0]" in first and "2026-12-01 09:41 UTC · было OK" in first
    assert second.startswith("✅ НОРМА · carsbot-local") and "снова в норме" in second
    assert "Что делать" not in second and "было ALARM" in second
    assert waits == []


def test_bot_api_blips_retried_inside_call(
    aws: LocalStack, standin: BotApiStandin, waits: list[float]
) -> None:
    standin.fail_next(502, description="Bad Gateway", method="sendMessage", times=2)
    standin.fail_next(429, retry_after=7, method="sendMessage")
    outcome = invoke_async(aws, "AlarmsFunction", sns_event("ALARM", "OK", "Threshold Crossed"))
    assert outcome.succeeded and outcome.attempts == 1
    assert [c.status for c in standin.calls_of("sendMessage")] == [502, 502, 429, 200]
    assert waits == [1.0, 2.0, 7.0]  # backoff, backoff, then Telegram's retry_after


def test_bot_api_outage_ends_in_the_dlq(
    aws: LocalStack, standin: BotApiStandin, waits: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    standin.fail_next(500, method="sendMessage", times=1000)
    event = sns_event("ALARM", "OK", "Threshold Crossed")
    outcome = invoke_async(aws, "AlarmsFunction", event)

    retries = load_template()["Resources"]["AlarmsFunction"]["Properties"]["EventInvokeConfig"]
    assert outcome.attempts == 1 + retries["MaximumRetryAttempts"] == 3
    assert not outcome.succeeded and outcome.dead_letter_message_id
    assert len(standin.calls_of("sendMessage")) == 3 * 4  # each invocation: 4 tries in the adapter
    dlq = aws.queue_url("AlarmNotifyDLQ")
    dead = client("sqs").receive_message(QueueUrl=dlq, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(dead[0]["Body"]) == event
    assert "Internal Server Error" in dead[0]["MessageAttributes"]["ErrorMessage"]["StringValue"]
    client("sqs").change_message_visibility(
        QueueUrl=dlq, ReceiptHandle=dead[0]["ReceiptHandle"], VisibilityTimeout=0
    )

    with operator_shell():
        assert main(["dlq", "show", "alarm-notify", "--stage", "local"]) == 0
        shown = capsys.readouterr().out
        assert main(["dlq", "redrive", "alarm-notify", "--stage", "local"]) == 1
        refused = capsys.readouterr().out
    assert "why:  Lambda: 200 RetryableTelegramError: sendMessage: Internal Server Error" in shown
    assert "nothing to redrive to" in refused


def test_every_alarm_has_runbook_actions_topic() -> None:
    template = load_template()
    operations = (ROOT / "docs" / "operations.md").read_text()
    anchors = {_anchor(h) for h in re.findall(r"^#{2,3} (.+)$", operations, flags=re.M)}
    alarms = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    assert len(alarms) >= 15
    for logical, resource in alarms.items():
        assert logical in RUNBOOKS, f"{logical}: no entry in carsbot.ops.alarms.RUNBOOKS"
        runbook = RUNBOOKS[logical]
        assert runbook.section in anchors, f"{logical}: docs/operations.md has no section #{runbook.section}"
        assert runbook.heading in operations and logical in operations, logical
        props = resource["Properties"]
        assert props.get("AlarmActions") == [{"Ref": "AlarmTopic"}], logical
        assert props.get("OKActions") == [{"Ref": "AlarmTopic"}], logical
    assert logical_id(ALARM_NAME, "carsbot-local") == "PostsDLQAlarm"


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
