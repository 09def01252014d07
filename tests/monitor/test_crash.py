"""Crash test: posts keep coming while the monitor is killed and restarted; downstream misses nothing.

Telegram pushes every update of two thirds of the channels and "forgets" a share of the others' (as it does
in reality), so a real share of the posts goes through the live path and the rest through history reads.
The SQS sender fails at random points on both paths — sometimes before SQS got the message, sometimes
after SQS accepted it but before the monitor learned so (a duplicate, absorbed downstream by the post
id). After the storm, the set of post ids on the queue must equal exactly the set of posts published.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from monitor_harness import (
    MONITOR_USER,
    Downstream,
    MonitorEnv,
    SqsFaults,
    stop_monitor,
    wait_for,
)

from carsbot.channels import ChannelRegistry
from carsbot.core.contracts import post_id_of
from carsbot_dev.monitor.offline import photo_bytes
from carsbot_monitor import health

CHANNELS = 6
POSTS = 540
KILLS = 6
LIVE_SHARE = 0.25  # at least this share of the posts is queued by the live path


def test_every_post_exactly_once_despite_kills(monitor_env: MonitorEnv) -> None:
    world = monitor_env.world
    world.drop_rate = 0.2  # for the "unreliable" half of the channels
    rng = random.Random(20241124)
    channels = [
        world.add_channel(f"Авто {i}", username=f"cars_source_{i}", members=[MONITOR_USER])
        for i in range(CHANNELS)
    ]
    reliable = {channel.id for channel in channels[: 2 * CHANNELS // 3]}  # every update pushed
    registry = ChannelRegistry()
    for channel in channels:
        registry.add(f"t.me/{channel.username}")
    monitor_env.store_session(monitor_env.new_session())
    faults = SqsFaults(rate=0.05, seed=99)
    faults.enabled = False
    config = monitor_env.config(catchup_interval_seconds=3.0)
    expected: set[str] = set()
    published = asyncio.Event()

    def new_monitor() -> Any:
        monitor = monitor_env.monitor(config)
        faults.install(monitor.sink.client)  # the monitors' SQS client (their network edge)
        return monitor

    async def keep_up() -> None:
        """Publish no faster than the running monitor keeps up (for at most a second): on a slow
        machine a growing backlog would let history reads sweep up the posts the live path is for."""
        deadline = asyncio.get_running_loop().time() + 1.0
        while asyncio.get_running_loop().time() < deadline:
            running = [m for m in monitor_env.monitors if m.state == "running"]
            if not running or running[-1].work.size() < 3:
                return
            await asyncio.sleep(0.01)

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
            deliver = True if channel.id in reliable else None  # None: dropped at world.drop_rate
            roll = rng.random()
            # Albums (and service messages, below) always make the next live post read history: the
            # album event comes 0.5 s after its items, so a following post does not follow the
            # checkpoint yet. They go to the unreliable channels, which read history anyway.
            if roll < 0.1 and channel.id not in reliable:
                size = rng.randint(2, 4)
                caption_at = rng.randrange(size)
                items = [
                    (f"Альбом {n}" if i == caption_at else "", photo_bytes(n * 10 + i)) for i in range(size)
                ]
                album = await world.publish_album(channel, items, deliver=deliver)
                expected.add(post_id_of(channel.id, album[0].id))
            else:
                photo = photo_bytes(n) if roll < 0.2 else None
                message = await world.publish(channel, f"Продаю авто №{n}", photo=photo, deliver=deliver)
                expected.add(post_id_of(channel.id, message.id))
            if channel.id not in reliable and rng.random() < 0.03:
                await world.service_message(channel)
            await asyncio.sleep(rng.uniform(0.0, 0.03))
            await keep_up()
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
                await monitor_env.crash(task)  # a crash: the successor takes over once the lease ran out
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
        await monitor_env.crash(first_task)
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
        # A real share of the posts went through the live path, and the faults hit it too.
        live = sum(m.telemetry.counts[health.POSTS_QUEUED] for m in monitor_env.monitors)
        assert live >= LIVE_SHARE * len(expected), f"only {live} of {len(expected)} posts were queued live"
        assert faults.failed["SendMessage"] >= 5, faults.failed
        assert faults.failed["SendMessageBatch"] >= 1, faults.failed

    asyncio.run(scenario())
