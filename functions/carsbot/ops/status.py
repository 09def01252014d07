"""``carsbot status``: one screen on a stage's health, from what the stack itself records.

Read-only. Sources: the monitor's lease item in the StateTable (holder, renewal time = its heartbeat
there), the ``MonitorHeartbeat`` metric, the session secret's versions (never its value), the channel
registry, every queue of the stack (depth, in flight, oldest message age), the day's metrics and the
stack's CloudWatch alarms. Each check is ``ok`` or a problem; any problem makes the command exit 1.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from carsbot import observability_names as names
from carsbot.adapters.aws import client
from carsbot.ops.dlq import dead_letter_queues
from carsbot.ops.stage import StackInfo

LEASE_KEY = os.environ.get("CARSBOT_MONITOR_LEASE_KEY", "monitor#lease")
HEARTBEAT_MAX_AGE = 120.0  # seconds without a lease renewal (every 15 s) before the monitor counts as down


@dataclass
class Check:
    name: str
    ok: bool
    summary: str
    details: list[str] = field(default_factory=list)


@dataclass
class StatusReport:
    stack: str
    stage: str
    region: str
    at: datetime
    checks: list[Check]
    today: dict[str, float]
    last_post_seen: datetime | None = None
    last_published: datetime | None = None

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "stage": self.stage,
            "region": self.region,
            "at": self.at.isoformat(),
            "ok": not self.problems,
            "checks": [c.__dict__ for c in self.checks],
            "today": self.today,
            "last_post_seen": self.last_post_seen.isoformat() if self.last_post_seen else None,
            "last_published": self.last_published.isoformat() if self.last_published else None,
        }


def _age(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "never"
    seconds = int((now - then).total_seconds())
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


# ---------------------------------------------------------------------------------------------- checks


def check_monitor(info: StackInfo, now: datetime, heartbeat: datetime | None) -> Check:
    from carsbot.adapters.db import StateModel

    deployed = "MonitorService" in info.resources
    try:
        lease = StateModel.get(LEASE_KEY, consistent_read=True)
    except StateModel.DoesNotExist:
        lease = None
    if lease is None:
        why = "" if deployed else " (not deployed: MonitorImageUri is empty)"
        return Check("monitor", False, f"no monitor has ever held the session lease{why}")
    expires = lease.expires_at
    renewed = lease.updated_at
    data = lease.data if isinstance(lease.data, dict) else {}
    holder = f"{lease.owner} ({data.get('purpose', 'monitor')})"
    beat = max((t for t in (renewed, heartbeat) if t is not None), default=None)
    details = [f"lease holder {holder}, version {int(lease.version or 0)}"]
    if heartbeat is not None:
        details.append(f"MonitorHeartbeat metric {_age(heartbeat, now)}")
    if expires is None or expires < now:
        return Check(
            "monitor",
            False,
            f"lease expired {_age(expires, now)}: no monitor holds the session (last holder {holder})",
            details,
        )
    if beat is None or (now - beat).total_seconds() > HEARTBEAT_MAX_AGE:
        return Check(
            "monitor", False, f"heartbeat {_age(beat, now)} (limit {HEARTBEAT_MAX_AGE:.0f} s)", details
        )
    return Check("monitor", True, f"running: {holder}, heartbeat {_age(beat, now)}", details)


def check_session(secret: str, lease_data: dict[str, Any]) -> Check:
    from botocore.exceptions import ClientError

    try:
        described = client("secretsmanager").describe_secret(SecretId=secret)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return Check("session", False, f"secret {secret} does not exist (deploy the stack)")
        raise
    stages = described.get("VersionIdsToStages", {}) or {}
    current = next((v for v, s in stages.items() if "AWSCURRENT" in s), None)
    if current is None:
        return Check("session", False, f"no session stored in {secret}: run `carsbot session login`")
    changed = described.get("LastChangedDate")
    when = changed.strftime("%Y-%m-%d %H:%M UTC") if isinstance(changed, datetime) else "?"
    in_use = lease_data.get("secret_version")
    summary = f"{described.get('Name', secret)} version {current[:8]} (stored {when})"
    if in_use and in_use != current:
        fallback = (
            " (fallback: the current version did not work)" if lease_data.get("secret_fallback") else ""
        )
        return Check(
            "session",
            not lease_data.get("secret_fallback"),
            f"{summary}; monitor uses {in_use[:8]}{fallback}",
        )
    return Check("session", True, summary + ("; in use by the monitor" if in_use else ""))


def check_channels(now: datetime) -> tuple[Check, datetime | None]:
    from carsbot.adapters.db import ChannelModel

    counts: Counter[str] = Counter()
    failing: list[str] = []
    newest: datetime | None = None
    for channel in ChannelModel.scan():
        counts[str(channel.status)] += 1
        if channel.status == "active" and channel.join_error:
            failing.append(f"{channel.ref}: {channel.join_error}")
        if channel.last_post_at and (newest is None or channel.last_post_at > newest):
            newest = channel.last_post_at
    summary = f"{counts['active']} active, {counts['paused']} paused, {len(failing)} failing"
    if not counts["active"]:
        return Check("channels", False, summary + ": no active channel (carsbot channels add @name)"), newest
    return Check("channels", not failing, summary, failing[:10]), newest


def check_queues(info: StackInfo, oldest: dict[str, float]) -> list[Check]:
    dlqs = dead_letter_queues(info)
    dlq_names = {q.logical_id for q in dlqs}
    parts, problems = [], []
    for logical_id in sorted(r.logical_id for r in info.of_type("AWS::SQS::Queue")):
        if logical_id in dlq_names:
            continue
        url = info.queue_url(logical_id)
        if not url:
            continue
        values = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        name = url.rsplit("/", 1)[-1]
        short = name.removeprefix(f"carsbot-{info.stage}-")
        age = oldest.get(name)
        parts.append(
            f"{short} {values.get('ApproximateNumberOfMessages', 0)}"
            f" (+{values.get('ApproximateNumberOfMessagesNotVisible', 0)} in flight"
            + (f", oldest {age:.0f} s" if age is not None else "")
            + ")"
        )
        if age is not None and age > 3600:
            problems.append(f"{short}: oldest message is {age / 60:.0f} min old (consumer stuck?)")
    queues = Check("queues", not problems, ", ".join(parts) or "no queues", problems)
    dead = [q for q in dlqs if q.visible + q.in_flight]
    summary = ", ".join(f"{q.key} {q.visible + q.in_flight}" for q in dlqs) or "no DLQs"
    details = [f"`carsbot dlq show {q.key}` ({q.visible + q.in_flight} in {q.name})" for q in dead]
    return [queues, Check("dlq", not dead, summary, details)]


def check_alarms(info: StackInfo) -> Check:
    cloudwatch = client("cloudwatch")
    alarms: dict[str, dict[str, Any]] = {}
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=f"{info.name}-"):
        alarms.update(
            {a["AlarmName"]: a for a in page.get("MetricAlarms", []) + page.get("CompositeAlarms", [])}
        )
    named = [r.physical_id for r in info.of_type("AWS::CloudWatch::Alarm") if r.physical_id not in alarms]
    for start in range(0, len(named), 100):
        found = cloudwatch.describe_alarms(AlarmNames=named[start : start + 100])
        alarms.update(
            {a["AlarmName"]: a for a in found.get("MetricAlarms", []) + found.get("CompositeAlarms", [])}
        )
    firing = [a for a in alarms.values() if a.get("StateValue") == "ALARM"]
    details = []
    for alarm in firing:
        since = alarm.get("StateUpdatedTimestamp")
        when = f" since {since:%Y-%m-%d %H:%M UTC}" if isinstance(since, datetime) else ""
        details.append(f"{alarm['AlarmName']}{when}: {alarm.get('StateReason', '')[:160]}")
    summary = f"{len(firing)} of {len(alarms)} in ALARM" if alarms else "no alarms found for the stack"
    return Check("alarms", not firing, summary, details)


# ---------------------------------------------------------------------------------------------- metrics


def _metric_query(qid: str, metric: names.Metric, period: int, stat: str = "Sum") -> dict[str, Any]:
    return {
        "Id": qid,
        "MetricStat": {
            "Metric": {
                "Namespace": names.NAMESPACE,
                "MetricName": metric.name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in metric.dimensions.items()],
            },
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def _today_sums(now: datetime) -> dict[str, float]:
    """Today's (UTC) sum of every figure in ``names.TODAY``, in hour buckets from midnight.

    A query of its own: hour periods starting at midnight align the same way whether the service buckets
    from the start time (moto) or from the epoch (CloudWatch), so no datapoint straddles midnight.
    """
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    queries = [_metric_query(f"t{i}", m, 3600) for i, m in enumerate(names.TODAY)]
    response = client("cloudwatch").get_metric_data(
        MetricDataQueries=queries, StartTime=midnight, EndTime=now + timedelta(minutes=1)
    )
    sums = {result["Id"]: result for result in response.get("MetricDataResults", [])}
    today: dict[str, float] = {}
    for index, metric in enumerate(names.TODAY):
        result = sums.get(f"t{index}", {})
        stamps, values = result.get("Timestamps", []), result.get("Values", [])
        today[metric.name] = float(sum(v for t, v in zip(stamps, values, strict=False) if t >= midnight))
    return today


def metric_figures(
    info: StackInfo, now: datetime
) -> tuple[dict[str, float], datetime | None, datetime | None, dict[str, float]]:
    """``(today's sums by metric name, last heartbeat, last publication, oldest message age by queue)``."""
    queries = [
        _metric_query("hb", names.MONITOR_HEARTBEAT, 60),
        _metric_query("pub", names.PUBLISHED, 300),
    ]
    queue_names = [
        url.rsplit("/", 1)[-1]
        for r in info.of_type("AWS::SQS::Queue")
        if (url := info.queue_url(r.logical_id)) and not url.endswith("-dlq")
    ]
    for index, queue in enumerate(queue_names):
        queries.append(
            {
                "Id": f"age{index}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/SQS",
                        "MetricName": "ApproximateAgeOfOldestMessage",
                        "Dimensions": [{"Name": "QueueName", "Value": queue}],
                    },
                    "Period": 300,
                    "Stat": "Maximum",
                },
                "ReturnData": True,
            }
        )
    results: dict[str, tuple[list[datetime], list[float]]] = {}
    for start in range(0, len(queries), 500):
        response = client("cloudwatch").get_metric_data(
            MetricDataQueries=queries[start : start + 500],
            StartTime=now - timedelta(hours=24),
            EndTime=now + timedelta(minutes=1),
            ScanBy="TimestampDescending",
        )
        for result in response.get("MetricDataResults", []):
            results[result["Id"]] = (list(result.get("Timestamps", [])), list(result.get("Values", [])))
    today = _today_sums(now)

    def newest(qid: str) -> datetime | None:
        stamps, values = results.get(qid, ([], []))
        hits = [t for t, v in zip(stamps, values, strict=False) if v > 0]
        return max(hits) if hits else None

    ages = {}
    for index, queue in enumerate(queue_names):
        _stamps, values = results.get(f"age{index}", ([], []))
        if values:
            ages[queue] = float(values[0])
    return today, newest("hb"), newest("pub"), ages


# ---------------------------------------------------------------------------------------------- report


def utcnow() -> datetime:
    """The report's clock (one reading per report; tests pin it so "today" cannot move under them)."""
    return datetime.now(UTC)


def collect(info: StackInfo, *, now: datetime | None = None) -> StatusReport:
    """Every check for ``info``'s stage (settings already point at it: see carsbot.ops.stage)."""
    from carsbot.adapters.db import StateModel, bind_tables
    from carsbot.config import get_settings

    now = now or utcnow()
    settings = get_settings()
    bind_tables(settings)
    today, heartbeat, published, ages = metric_figures(info, now)
    try:
        lease_item = StateModel.get(LEASE_KEY, consistent_read=True)
        lease_data = lease_item.data if isinstance(lease_item.data, dict) else {}
    except StateModel.DoesNotExist:
        lease_data = {}
    channels, last_post = check_channels(now)
    checks = [
        check_monitor(info, now, heartbeat),
        check_session(settings.telegram_session_secret, lease_data),
        channels,
        *check_queues(info, ages),
        check_alarms(info),
    ]
    return StatusReport(
        stack=info.name,
        stage=info.stage,
        region=info.region,
        at=now,
        checks=checks,
        today=today,
        last_post_seen=last_post,
        last_published=published,
    )
