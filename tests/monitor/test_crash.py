"""Crash test: posts keep coming while the monitor is killed and restarted; downstream misses nothing.

Telegram here also "forgets" a share of live updates (as it does in reality), and the SQS sender fails at
random points — sometimes before SQS got the message, sometimes after SQS accepted it but before the
monitor learned so (a duplicate, absorbed downstream by the post id). After the storm, the set of post ids
on the queue must equal exactly the set of posts published.
"""

from __future__ import annotations

import asyncio
import random
import threading
from typing import Any

from monitor_harness import MONITOR_USER, Downstream, MonitorEnv, kill_monitor, stop_monitor, wait_for

from carsbot.channels import ChannelRegistry
from carsbot.core.contracts import post_id_of
from carsbot_dev.monitor.offline import photo_bytes

CHANNELS = 6
POSTS = 540
KILLS = 6


class SenderFaults:
    """Fails SQS sends at the network edge (botocore events), before or after SQS accepted them."""

    def __init__(self, rate: float, seed: int) -> None:
        self.rate = rate
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.enabled = False
        self.before = 0
        self.after = 0

    def _roll(self) -> bool:
        with self.lock:
            return self.enabled and self.rng.random() < self.rate

    def before_send(self, **kwargs: Any) -> None:
        if self._roll():
            self.before += 1
            raise RuntimeError("injected: connection reset before SQS received the request")

    def after_call(self, **kwargs: Any) -> None:
        if self._roll():
            self.after += 1
            raise RuntimeError("injected: SQS accepted the message but the response was lost")

    def install(self, sqs: Any) -> None:
        events = sqs.meta.events
        for operation in ("SendMessage", "SendMessageBatch"):
            events.register(f"before-send.sqs.{operation}", self.before_send)
            events.register(f"after-call.sqs.{operation}", self.after_call)


def test_every_post_exactly_once_despite_kills(monitor_env: MonitorEnv) -> None:
    world = monitor_env.world
    world.drop_rate = 0.2
    rng = random.Random(20241124)
    channels = [
        world.add_channel(f"Авто {i}", username=f"cars_source_{i}", members=[MONITOR_USER])
        for i in range(CHANNELS)
    ]
    registry = ChannelRegistry()
    for channel in channels:
        registry.add(f"t.me/{channel.username}")
    monitor_env.store_session(monitor_env.new_session())
    faults = SenderFaults(rate=0.05, seed=99)
    config = monitor_env.config(
        lease_seconds=1.5, lease_margin_seconds=0.5, lease_renew_seconds=0.2, catchup_interval_seconds=1.0
    )
    expected: set[str] = set()
    published = asyncio.Event()

    def new_monitor() -> Any:
        monitor = monitor_env.monitor(config)
        faults.install(monitor.sink.client)  # the monitor's own SQS client (its network edge)
        return monitor

    async def publisher() -> None:
        # Let the first monitor join every channel (the start point is each channel's newest post).
        await wait_for(
            lambda: (
                all(MONITOR_USER in c.members for c in channels)
                and bool(monitor_env.monitors)
                and len(monitor_env.monitors[0].channels) == CHANNELS
            ),
            timeout=20,
        )
        faults.enabled = True
        for n in range(POSTS):
            channel = rng.choice(channels)
            roll = rng.random()
            if roll < 0.1:
                size = rng.randint(2, 4)
                caption_at = rng.randrange(size)
                items = [
                    (f"Альбом {n}" if i == caption_at else "", photo_bytes(n * 10 + i)) for i in range(size)
                ]
                album = await world.publish_album(channel, items)
                expected.add(post_id_of(channel.id, album[0].id))
            else:
                photo = photo_bytes(n) if roll < 0.2 else None
                message = await world.publish(channel, f"Продаю авто №{n}", photo=photo)
                expected.add(post_id_of(channel.id, message.id))
            if rng.random() < 0.03:
                await world.service_message(channel)
            await asyncio.sleep(rng.uniform(0.0, 0.03))
        published.set()

    async def chaos() -> int:
        kills = 0
        while kills < KILLS or not published.is_set():
            monitor = new_monitor()
            task = asyncio.create_task(monitor.run())
            await wait_for(lambda m=monitor: m.state == "running", timeout=20)
            await asyncio.sleep(rng.uniform(0.1, 1.0))
            if kills % 3 == 2:
                await stop_monitor(monitor, task)  # a deploy: SIGTERM, lease released
            else:
                await kill_monitor(task)  # a crash: the successor waits for the lease to expire
            kills += 1
        return kills

    async def scenario() -> None:
        producing = asyncio.create_task(publisher())
        await asyncio.sleep(0)
        first = new_monitor()
        first_task = asyncio.create_task(first.run())
        await wait_for(lambda: len(first.channels) == CHANNELS, timeout=20)
        await wait_for(lambda: faults.enabled, timeout=20)
        await asyncio.sleep(rng.uniform(0.2, 0.6))
        await kill_monitor(first_task)
        kills = 1 + await chaos()
        await producing

        # The last instance runs undisturbed until every channel's stored checkpoint reaches its newest post.
        faults.enabled = False
        final = new_monitor()
        final_task = asyncio.create_task(final.run())
        await wait_for(
            lambda: all(registry.checkpoint_of(f"@{c.username}") == c.top_id for c in channels), timeout=60
        )
        await stop_monitor(final, final_task)

        downstream = Downstream(monitor_env)
        posts = downstream.poll()
        received = downstream.new_post_ids()
        assert kills >= 5
        assert faults.before + faults.after > 0
        assert len(expected) >= 500
        missing = expected - received
        unexpected = received - expected
        assert not missing, f"{len(missing)} posts lost, e.g. {sorted(missing)[:5]}"
        assert not unexpected, f"{len(unexpected)} posts that were never published: {sorted(unexpected)[:5]}"
        assert received == expected
        assert len(posts) >= len(expected)  # duplicates are allowed (absorbed by the post id), losses are not
        albums = [p for p in posts if len(p.message_ids) > 1]
        assert albums and all(p.text.startswith("Альбом") for p in albums)
        assert world.violations == []  # never two clients on one session

    asyncio.run(scenario())
