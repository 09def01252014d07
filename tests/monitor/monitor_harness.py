"""Helpers for the monitor tests: the scenario environment, downstream reader, waiting and killing.

Telegram is stood in at the request level (``carsbot_dev.monitor.offline``): real Telethon clients whose
requests are answered in-process; AWS is the moto server created from template.yaml (tests/conftest.py).
Intervals are short so a whole scenario runs in seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carsbot.adapters.aws import client
from carsbot.config import Settings
from carsbot.core.contracts import QueuedPost
from carsbot_dev.local.stack import LocalStack
from carsbot_dev.monitor.offline import OfflineTelegram
from carsbot_monitor.app import Monitor
from carsbot_monitor.health import Telemetry
from carsbot_monitor.lease import Lease
from carsbot_monitor.session import SessionCredentials, SessionStore
from carsbot_monitor.settings import MonitorSettings

MONITOR_USER = 424242


def fast_config(tmp_path: Path, **overrides: Any) -> MonitorSettings:
    values: dict[str, Any] = {
        "lease_seconds": 3.0,
        "lease_renew_seconds": 0.3,
        "lease_margin_seconds": 1.0,
        "lease_poll_seconds": 0.2,
        "secret_poll_seconds": 0.3,
        "connect_timeout_seconds": 5.0,
        "reconnect_min_seconds": 0.05,
        "reconnect_max_seconds": 0.3,
        "probe_seconds": 0.5,
        "registry_reload_seconds": 0.3,
        "join_interval_seconds": 0.0,
        "catchup_interval_seconds": 2.0,
        "idle_seconds": 60.0,
        "album_settle_seconds": 0.3,
        "flood_wait_max_seconds": 5.0,
        "retry_base_seconds": 0.05,
        "heartbeat_seconds": 0.2,
        "heartbeat_file": str(tmp_path / "heartbeat.json"),
        "workers": 4,
    }
    values.update(overrides)
    return MonitorSettings(**values)


@dataclass
class MonitorEnv:
    """Everything a monitor scenario needs: AWS names, the Telegram world, helpers."""

    stack: LocalStack
    settings: Settings
    world: OfflineTelegram
    tmp_path: Path
    account: Any = None
    monitors: list[Monitor] = field(default_factory=list)

    @property
    def queue_url(self) -> str:
        return self.settings.posts_queue_url

    @property
    def bucket(self) -> str:
        return self.settings.media_bucket

    @property
    def store(self) -> SessionStore:
        return SessionStore(self.settings.telegram_session_secret)

    def new_session(self) -> SessionCredentials:
        """Log the monitor account in again (a new authorization key)."""
        return self.world.create_session(self.account)

    def store_session(self, credentials: SessionCredentials) -> str:
        return self.store.store(credentials)

    def config(self, **overrides: Any) -> MonitorSettings:
        return fast_config(self.tmp_path, **overrides)

    def monitor(self, config: MonitorSettings | None = None, **kwargs: Any) -> Monitor:
        config = config or self.config()
        lease = kwargs.pop("lease", None) or Lease(
            config.lease_key, duration=config.lease_seconds, margin=config.lease_margin_seconds
        )
        monitor = Monitor(
            settings=self.settings,
            config=config,
            client_factory=self.world.client_factory,
            telemetry=Telemetry(),
            lease=lease,
            **kwargs,
        )
        self.monitors.append(monitor)
        return monitor

    # ---- downstream
    def drain_queue(self) -> list[QueuedPost]:
        """Every message currently in the posts queue (received and deleted)."""
        sqs = client("sqs")
        posts: list[QueuedPost] = []
        empty_rounds = 0
        while empty_rounds < 2:
            response = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300, WaitTimeSeconds=0
            )
            messages = response.get("Messages", [])
            if not messages:
                empty_rounds += 1
                continue
            empty_rounds = 0
            for message in messages:
                posts.append(QueuedPost.model_validate(json.loads(message["Body"])))
            sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return posts


async def wait_for(
    predicate: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0, interval: float = 0.05
) -> None:
    """Poll ``predicate`` until true; fail the test with a clear message on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


class Downstream:
    """Accumulates what the posts queue received (the extract function's view of it)."""

    def __init__(self, env: MonitorEnv) -> None:
        self.env = env
        self.posts: list[QueuedPost] = []

    def poll(self) -> list[QueuedPost]:
        self.posts.extend(self.env.drain_queue())
        return self.posts

    async def until(
        self, predicate: Callable[[list[QueuedPost]], bool], timeout: float = 15.0
    ) -> list[QueuedPost]:
        await wait_for(lambda: predicate(self.poll()), timeout=timeout, interval=0.1)
        return self.posts

    def new_post_ids(self) -> set[str]:
        return {p.post_id for p in self.posts if p.kind.value == "new"}


async def stop_monitor(monitor: Monitor, task: asyncio.Task[int]) -> None:
    monitor.request_stop()
    done, _ = await asyncio.wait({task}, timeout=15)
    if not done:
        import io

        dump = io.StringIO()
        for other in asyncio.all_tasks():
            other.print_stack(file=dump)
        raise AssertionError(
            f"the monitor did not stop within 15 s (state {monitor.state}):\n{dump.getvalue()}"
        )
    task.result()


async def kill_monitor(task: asyncio.Task[Any]) -> None:
    """An abrupt end (like a crashed process): the task is cancelled, the lease is NOT released."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=15)
