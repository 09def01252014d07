"""Telemetry (powertools metrics + counters), the heartbeat file and loop, and the container health check.

Metrics are emitted as CloudWatch EMF on stdout (awslogs ships them; CloudWatch extracts the metrics), so
the task needs no ``cloudwatch:PutMetricData`` permission. The monitor flushes them periodically because
there is no Lambda invocation boundary to do it.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics

from carsbot.observability import add_metric

# The monitor's own powertools logger and metrics (service ``POWERTOOLS_SERVICE_NAME``, in ECS
# ``carsbot-monitor``, also when it is unset; namespace ``carsbot``); metrics are recorded through the shared
# ``carsbot.observability.add_metric``.
_SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "carsbot-monitor")
_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "carsbot")
default_logger = Logger(service=_SERVICE)
default_metrics = Metrics(namespace=_NAMESPACE, service=_SERVICE)

# Metric names (namespace ``carsbot``; see docs/monitor.md for the alarms on them).
HEARTBEAT = "MonitorHeartbeat"
POSTS_QUEUED = "PostsQueued"
EDITS_QUEUED = "EditsQueued"
DELETES_QUEUED = "DeletesQueued"
SEND_FAILED = "QueueSendFailed"
BACKFILL_RUNS = "BackfillRuns"
BACKFILL_RECOVERED = "BackfillRecovered"
CATCHUPS = "CatchUps"
IDLE_CATCHUPS = "IdleCatchUps"
MEDIA_STORED = "MediaStored"
MEDIA_SKIPPED = "MediaSkipped"
MEDIA_FAILED = "MediaFailed"
FLOOD_WAITS = "FloodWaits"
FLOOD_WAIT_SECONDS = "FloodWaitSeconds"
JOINS = "ChannelJoins"
JOIN_FAILED = "ChannelJoinFailed"
RESOLVES = "UsernameResolves"
SESSION_INVALID = "SessionInvalid"
SESSION_ROTATED = "SessionRotated"
SESSION_ROTATION_FAILED = "SessionRotationFailed"
CONNECTS = "Connects"
CONNECT_FAILED = "ConnectFailed"
LEASE_ACQUIRED = "LeaseAcquired"
LEASE_LOST = "LeaseLost"
EVENTS_DROPPED = "EventsDeferred"
CHANNELS_ACTIVE = "ChannelsActive"


class Telemetry:
    """Counts every metric locally (for the heartbeat and tests) and forwards it to powertools."""

    def __init__(self, *, metrics: Any = None, logger: Any = None) -> None:
        self.metrics = metrics if metrics is not None else default_metrics
        self.logger = logger if logger is not None else default_logger
        self.counts: Counter[str] = Counter()
        self._pending = False

    def count(self, name: str, value: float = 1, unit: str = "Count") -> None:
        self.counts[name] += value  # type: ignore[assignment]
        add_metric(name, value, unit, target=self.metrics)  # never raises: metrics never stop the monitor
        self._pending = True

    def flush(self) -> None:
        if not self._pending:
            return
        self._pending = False
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "no metrics" after powertools auto-flushed at 100 values
                self.metrics.flush_metrics()
        except Exception as exc:
            self.logger.warning("metrics flush failed", extra={"error": repr(exc)})


@dataclass
class Heartbeat:
    """A small JSON file rewritten by the running monitor; ``carsbot monitor healthcheck`` reads it."""

    path: Path

    def write(self, state: dict[str, Any]) -> None:
        payload = json.dumps({"ts": time.time(), **state}, default=str)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".heartbeat-", dir=str(self.path.parent))
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(payload)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None


def check_health(path: Path, max_age_seconds: float, *, now: float | None = None) -> tuple[bool, str]:
    """``(healthy, reason)``: healthy when the heartbeat file exists and is younger than the limit."""
    data = Heartbeat(path).read()
    if data is None or not isinstance(data.get("ts"), int | float):
        return False, f"no heartbeat at {path}"
    age = (time.time() if now is None else now) - float(data["ts"])
    state = data.get("state", "unknown")
    if age > max_age_seconds:
        return False, f"heartbeat is {age:.0f}s old (limit {max_age_seconds:.0f}s); last state {state}"
    return True, f"ok: state {state}, heartbeat {age:.0f}s old"


class Pulse:
    """The heartbeat loop: rewrites the heartbeat file every ``interval`` seconds, emits
    ``MonitorHeartbeat`` (and ``ChannelsActive``) while running connected with the lease, and flushes
    the metrics every ``flush_interval`` seconds (there is no Lambda invocation boundary to do it)."""

    def __init__(
        self,
        heartbeat: Heartbeat,
        telemetry: Telemetry,
        status: Callable[[], dict[str, Any]],
        *,
        interval: float,
        flush_interval: float,
    ) -> None:
        self.heartbeat = heartbeat
        self.telemetry = telemetry
        self.status = status
        self.interval = interval
        self.flush_interval = flush_interval

    def write(self) -> dict[str, Any]:
        state = self.status()
        try:
            self.heartbeat.write(state)
        except OSError as exc:
            self.telemetry.logger.warning("cannot write the heartbeat file", extra={"error": repr(exc)})
        return state

    async def run(self) -> None:
        last_flush = time.monotonic()
        while True:
            state = self.write()
            if state.get("state") == "running" and state.get("connected") and state.get("lease_held"):
                self.telemetry.count(HEARTBEAT)
                self.telemetry.count(CHANNELS_ACTIVE, int(state.get("channels") or 0))
            if time.monotonic() - last_flush >= self.flush_interval:
                last_flush = time.monotonic()
                self.telemetry.flush()
            await asyncio.sleep(self.interval)
