"""``carsbot status --stage local`` against the local stack: healthy (exit 0) and broken (exit 1)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from ops_support import create_template_alarms

from carsbot.adapters.aws import client
from carsbot.cli import main
from carsbot.config import get_settings
from carsbot_dev.local.stack import LocalStack

SESSION = '{"api_id": 12345, "api_hash": "0123456789abcdef0123456789abcdef", "session": "fake-session"}'


@pytest.fixture(params=["now", "just after midnight"])
def clock(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> datetime:
    """One pinned instant for the report and the test alike: "today" cannot roll over mid-test.

    "just after midnight" is the moment a 24-hour window bucketed from its start used to lose the day.
    """
    import carsbot.ops.status

    now = datetime.now(UTC)
    if request.param == "just after midnight":
        now = now.replace(hour=0, minute=0, second=30, microsecond=0)
    monkeypatch.setattr(carsbot.ops.status, "utcnow", lambda: now)
    return now


def _today(name: str, service: str, now: datetime) -> float:
    """What moto already holds for ``name`` today (metrics outlive the per-test data reset)."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    metric = {
        "Namespace": "carsbot",
        "MetricName": name,
        "Dimensions": [{"Name": "service", "Value": service}],
    }
    result = client("cloudwatch").get_metric_data(
        MetricDataQueries=[{"Id": "m", "MetricStat": {"Metric": metric, "Period": 86400, "Stat": "Sum"}}],
        StartTime=midnight,
        EndTime=now + timedelta(minutes=1),
    )["MetricDataResults"][0]
    return float(sum(result.get("Values", [])))


def _healthy_stage(stack: LocalStack, now: datetime | None = None) -> None:
    """What a running stage leaves behind: a channel, a renewed lease, a session, the day's metrics."""
    from carsbot.adapters.db import ChannelModel, bind_tables
    from carsbot_monitor.lease import Lease

    bind_tables(get_settings())
    now = now or datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    ChannelModel(
        "@cars_kzn", channel_id=1001, title="Авто Казань", last_post_at=now - timedelta(minutes=3)
    ).save()
    ChannelModel("@cars_spb", channel_id=1002, status="paused").save()
    assert Lease("monitor#lease", duration=60.0, margin=10.0).try_acquire()  # the running monitor's lease
    client("secretsmanager").put_secret_value(
        SecretId=stack.secrets["TelegramSessionSecret"], SecretString=SESSION
    )
    cloudwatch = client("cloudwatch")
    for name, service, value in (
        ("Listings", "carsbot", 7),
        ("ListingsPublished", "carsbot", 6),
        ("PostsQueued", "carsbot-monitor", 12),
        ("MonitorHeartbeat", "carsbot-monitor", 2),
    ):
        cloudwatch.put_metric_data(
            Namespace="carsbot",
            MetricData=[
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": "service", "Value": service}],
                    "Timestamp": max(midnight, now - timedelta(minutes=2)),  # still today
                    "Value": value,
                    "Unit": "Count",
                }
            ],
        )


@pytest.fixture
def stage_state(aws: LocalStack) -> Iterator[LocalStack]:
    _healthy_stage(aws)
    alarms = create_template_alarms(aws)
    yield aws
    client("cloudwatch").delete_alarms(AlarmNames=list(alarms.values()))


def _status(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    from ops_support import operator_shell

    with operator_shell():
        code = main(["status", "--stage", "local", *extra])
    return code, capsys.readouterr().out


def test_healthy_stage_exits_0(aws: LocalStack, clock: datetime, capsys: pytest.CaptureFixture[str]) -> None:
    listings_before = _today("Listings", "carsbot", clock)
    _healthy_stage(aws, clock)
    alarms = create_template_alarms(aws)
    try:
        code, out = _status(capsys)
        json_code, json_out = _status(capsys, "--json")
    finally:
        client("cloudwatch").delete_alarms(AlarmNames=list(alarms.values()))
    assert code == 0, out
    assert "carsbot status: stage local (stack carsbot-local" in out
    assert "monitor   ok       running: monitor:" in out and "heartbeat" in out
    assert "session   ok       carsbot/local/telegram-session version" in out
    assert "channels  ok       1 active, 1 paused, 0 failing" in out
    assert "dlq       ok" in out and "posts 0" in out and "publish 0" in out
    assert "alarms    ok       0 of" in out and "in ALARM" in out
    assert "today" in out and "listings" in out and "published" in out and "posts in" in out
    assert "last published" in out and "last published none" not in out
    assert out.rstrip().endswith("status: ok")
    report = json.loads(json_out)
    assert json_code == 0 and report["ok"] is True
    assert report["today"]["Listings"] == listings_before + 7


def test_broken_stage_exits_1(stage_state: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    from carsbot.adapters.db import ChannelModel, StateModel

    now = datetime.now(UTC)
    lease = StateModel.get("monitor#lease", consistent_read=True)  # the monitor died 6 minutes ago
    lease.update(
        actions=[
            StateModel.expires_at.set(now - timedelta(minutes=5)),
            StateModel.updated_at.set(now - timedelta(minutes=6)),
        ]
    )
    ChannelModel("@gone_channel", channel_id=1003, join_error="ChannelPrivateError").save()
    dlq = stage_state.queue_url("PostsDLQ")
    client("sqs").send_message(QueueUrl=dlq, MessageBody=json.dumps({"channel_id": 1001, "message_id": 5}))
    alarm = next(
        a["AlarmName"]
        for a in client("cloudwatch").describe_alarms(AlarmNamePrefix="carsbot-local-PostsDLQAlarm")[
            "MetricAlarms"
        ]
    )
    client("cloudwatch").set_alarm_state(
        AlarmName=alarm, StateValue="ALARM", StateReason="Threshold Crossed: 1 > 0"
    )

    code, out = _status(capsys)
    assert code == 1, out
    assert "monitor   PROBLEM  lease expired 5 min ago: no monitor holds the session" in out
    assert (
        "channels  PROBLEM  2 active, 1 paused, 1 failing" in out
        and "@gone_channel: ChannelPrivateError" in out
    )
    assert "dlq       PROBLEM" in out and "posts 1" in out and "`carsbot dlq show posts`" in out
    assert "alarms    PROBLEM  1 of" in out and f"{alarm} since" in out
    assert "status: 4 problem(s): monitor, channels, dlq, alarms" in out

    code, out = _status(capsys, "--json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False
    assert {c["name"] for c in report["checks"] if not c["ok"]} == {"monitor", "channels", "dlq", "alarms"}


def test_never_started_monitor_is_a_problem(aws: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _status(capsys)
    assert code == 1
    assert (
        "monitor   PROBLEM  no monitor has ever held the session lease (not deployed: MonitorImageUri" in out
    )


def test_session_without_value_is_a_problem(aws: LocalStack) -> None:
    from carsbot.ops.status import check_session

    name = f"carsbot/ops-{uuid.uuid4().hex[:6]}/telegram-session"
    client("secretsmanager").create_secret(Name=name)
    check = check_session(name, {})
    assert not check.ok
    assert check.summary == f"no session stored in {name}: run `carsbot session login`"
    assert not check_session("carsbot/ops-test/never-created", {}).ok
