"""Helpers for the monitor tests: the scenario environment, downstream reader, waiting and killing.

Telegram is stood in at the request level (``carsbot_dev.monitor.offline``): real Telethon clients whose
requests are answered in-process; AWS is the moto server created from template.yaml (tests/conftest.py).
Intervals are short so a whole scenario runs in seconds.

Holding on a loaded machine: the test lease is long (30 s, renewed every 0.3 s), so a monitor never loses
it because the machine is slow; its wall clock is a :class:`ManualClock` that tests move explicitly
(``env.crash(task)`` kills a monitor and lets its lease run out at once, instead of waiting for it).
Every wait scales with ``CARSBOT_TEST_SLACK`` (default 3): timeouts only matter when a test fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import threading
import time
from collections import Counter
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
SLACK = float(os.environ.get("CARSBOT_TEST_SLACK", "3"))


class ManualClock:
    """A wall clock (epoch seconds) that stands still until a test moves it (``Lease(clock=...)``)."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def set(self, now: float) -> None:
        if now < self.now:
            raise ValueError("the clock only moves forward")
        self.now = now


def fast_config(tmp_path: Path, **overrides: Any) -> MonitorSettings:
    values: dict[str, Any] = {
        "lease_seconds": 30.0,
        "lease_renew_seconds": 0.3,
        "lease_margin_seconds": 5.0,
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
    clock: ManualClock = field(default_factory=ManualClock)

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
            config.lease_key,
            duration=config.lease_seconds,
            margin=config.lease_margin_seconds,
            clock=self.clock,
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

    async def crash(self, task: asyncio.Task[Any]) -> None:
        """The monitor's process dies (its lease is not released), and then its lease runs out."""
        await kill_monitor(task)
        longest = max((m.lease.duration for m in self.monitors), default=0.0)
        self.clock.advance(longest + 1.0)

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
    """Poll ``predicate`` until true; fail the test with a clear message on timeout (x ``SLACK``)."""
    timeout *= SLACK
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


def settled(monitor: Monitor) -> bool:
    """The monitor's start-up work is done: first catch-up run, no job queued or running."""
    from carsbot_monitor import health

    channels = list(monitor.channels.values())
    return (
        monitor.telemetry.counts[health.CATCHUPS] >= 1
        and monitor.work.size() == 0
        and all(not c.backfill_queued and not c.lock.locked() for c in channels)
    )


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
    done, _ = await asyncio.wait({task}, timeout=15 * SLACK)
    if not done:
        import io

        dump = io.StringIO()
        for other in asyncio.all_tasks():
            other.print_stack(file=dump)
        raise AssertionError(
            f"the monitor did not stop within {15 * SLACK:g} s (state {monitor.state}):\n{dump.getvalue()}"
        )
    task.result()


async def kill_monitor(task: asyncio.Task[Any]) -> None:
    """An abrupt end (like a crashed process): the task is cancelled, the lease is NOT released."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=15 * SLACK)


class SqsFaults:
    """Fails SQS sends at the network edge (botocore events), before or after SQS accepted them.

    ``rate`` fails that share of sends at random before SQS received the request, and that share again
    after SQS accepted it but before the monitor learned so (a duplicate downstream); ``fail_all`` fails every
    send before SQS received it. ``failed[operation]`` counts the failures per operation: the live path
    sends one post (``SendMessage``), history reads send batches (``SendMessageBatch``).
    """

    OPERATIONS = ("SendMessage", "SendMessageBatch")

    def __init__(self, rate: float = 0.0, seed: int = 0) -> None:
        self.rate = rate
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.enabled = True
        self.fail_all = False
        self.failed: Counter[str] = Counter()
        self.before = 0
        self.after = 0

    def _roll(self, operation: str, stage: str) -> bool:
        with self.lock:
            if self.fail_all and stage == "before":
                hit = True
            else:
                hit = self.enabled and self.rate > 0 and self.rng.random() < self.rate
            if hit:
                self.failed[operation] += 1
                if stage == "before":
                    self.before += 1
                else:
                    self.after += 1
            return hit

    def _before_send(self, event_name: str = "", **kwargs: Any) -> None:
        if self._roll(event_name.rsplit(".", 1)[-1], "before"):
            raise RuntimeError("injected: connection reset before SQS received the request")

    def _after_call(self, event_name: str = "", **kwargs: Any) -> None:
        if self._roll(event_name.rsplit(".", 1)[-1], "after"):
            raise RuntimeError("injected: SQS accepted the message but the response was lost")

    def install(self, sqs: Any) -> SqsFaults:
        """Hook into ``sqs`` (the monitors' shared client); installing twice is harmless."""
        events = sqs.meta.events
        for operation in self.OPERATIONS:
            events.register(
                f"before-send.sqs.{operation}", self._before_send, unique_id=f"faults-before-{operation}"
            )
            events.register(
                f"after-call.sqs.{operation}", self._after_call, unique_id=f"faults-after-{operation}"
            )
        return self


class LeaseContender(threading.Thread):
    """Another process trying to take the lease (its own thread, real clock); once it has the lease it
    keeps renewing it, as a successor would, until stopped."""

    def __init__(self, key: str, duration: float, margin: float, poll: float = 0.2) -> None:
        super().__init__(name="lease-contender", daemon=True)
        self.lease = Lease(key, owner="contender", duration=duration, margin=margin)
        self.poll = poll
        self.attempts = 0
        self.acquired_at: float | None = None
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            with contextlib.suppress(Exception):
                if self.acquired_at is not None:
                    self.lease.renew()
                else:
                    self.attempts += 1
                    if self.lease.try_acquire():
                        self.acquired_at = time.time()
            self._stop_event.wait(self.poll)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)
