"""The session lease: one owner at a time, take-over after expiry, disconnect on loss."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from monitor_harness import MONITOR_USER, Downstream, MonitorEnv, kill_monitor, stop_monitor, wait_for

from carsbot.adapters.db.models import StateModel
from carsbot.channels import ChannelRegistry
from carsbot_monitor import health
from carsbot_monitor.lease import Lease


def test_lease_exclusive_renewable_expires(monitor_env: MonitorEnv) -> None:
    first = Lease(duration=2.0, margin=0.5, owner="first")
    second = Lease(duration=2.0, margin=0.5, owner="second")
    assert first.try_acquire() and first.held
    assert not second.try_acquire()
    assert first.renew()
    holder = second.holder()
    assert holder is not None and holder.owner == "first" and holder.is_live()
    assert first.release()
    assert second.try_acquire()  # released: taken at once
    assert not first.try_acquire()
    assert not first.renew()  # its fencing token is stale
    time.sleep(3.1)  # second never renews: its lease lapses
    assert first.try_acquire()
    assert not second.renew()
    assert not second.held
    item = StateModel.get("monitor#lease")
    assert item.owner == "first" and item.version == 3  # one increment per acquisition


def test_only_one_connects_other_takes_over(monitor_env: MonitorEnv) -> None:
    world = monitor_env.world
    channel = world.add_channel("Авто Самара", username="cars_smr", members=[MONITOR_USER])
    monitor_env.store_session(monitor_env.new_session())
    ChannelRegistry().add("@cars_smr")
    downstream = Downstream(monitor_env)
    config = monitor_env.config(lease_seconds=1.5, lease_margin_seconds=0.5, lease_renew_seconds=0.2)

    async def scenario() -> None:
        a, b = monitor_env.monitor(config), monitor_env.monitor(config)
        task_a = asyncio.create_task(a.run())
        # The contender starts once the lease is taken: moto's conditional writes are not atomic when two
        # requests race (DynamoDB's are), which let both "acquire" version 1 on a loaded machine.
        await wait_for(lambda: a.lease.held)
        task_b = asyncio.create_task(b.run())
        await wait_for(lambda: channel.id in a.channels or channel.id in b.channels)
        await world.publish(channel, "пост 1")
        await downstream.until(lambda posts: len(posts) == 1)
        await asyncio.sleep(1.0)  # several renewals: the standby never gets in
        running, standby = (a, b) if a.state == "running" else (b, a)
        running_task, standby_task = (task_a, task_b) if running is a else (task_b, task_a)
        assert standby.state == "standby" and standby.connect_attempts == 0
        assert running.connect_attempts == 1 and world.connects == 1 and len(world.connected) == 1

        await kill_monitor(running_task)  # crash: the lease is not released
        assert world.connected == []
        message = await world.publish(channel, "пост 2, пока никого нет")  # nobody listens
        await wait_for(lambda: standby.state == "running", timeout=10)
        assert standby.connect_attempts == 1
        await downstream.until(lambda posts: {p.message_id for p in posts} >= {message.id})  # caught up
        await stop_monitor(standby, standby_task)
        assert world.violations == []  # never two clients on the session at once

    asyncio.run(scenario())


def test_monitor_loses_lease_disconnects(monitor_env: MonitorEnv) -> None:
    world = monitor_env.world
    monitor_env.store_session(monitor_env.new_session())

    async def scenario() -> None:
        monitor = monitor_env.monitor(monitor_env.config(lease_seconds=2.0, lease_renew_seconds=0.2))
        task = asyncio.create_task(monitor.run())
        await wait_for(lambda: monitor.state == "running")
        assert len(world.connected) == 1
        # Another process took the lease (e.g. after this one was partitioned away).
        StateModel(pk="monitor#lease").update(
            actions=[
                StateModel.owner.set("intruder"),
                StateModel.version.add(1),
                StateModel.expires_at.set(datetime.now(UTC) + timedelta(seconds=30)),
            ]
        )
        await wait_for(lambda: world.connected == [] and monitor.state == "standby", timeout=5)
        assert monitor.telemetry.counts[health.LEASE_LOST] == 1
        await stop_monitor(monitor, task)
        assert StateModel.get("monitor#lease").owner == "intruder"  # a stale owner never releases it

    asyncio.run(scenario())


def _take_lease(owner: str = "intruder") -> None:
    """Another process takes the lease (e.g. after this one was partitioned away)."""
    StateModel(pk="monitor#lease").update(
        actions=[
            StateModel.owner.set(owner),
            StateModel.version.add(1),
            StateModel.expires_at.set(datetime.now(UTC) + timedelta(seconds=30)),
        ]
    )


def test_losing_lease_while_connecting_aborts(monitor_env: MonitorEnv) -> None:
    world = monitor_env.world
    monitor_env.store_session(monitor_env.new_session())

    async def scenario() -> None:
        world.connect_gate = asyncio.Event()  # the handshake hangs (slow network, Telethon retrying)
        config = monitor_env.config(lease_seconds=2.0, lease_renew_seconds=0.2, connect_timeout_seconds=60.0)
        monitor = monitor_env.monitor(config)
        task = asyncio.create_task(monitor.run())
        await wait_for(lambda: world.connects == 1 and monitor.state == "connecting")
        _take_lease()
        # The monitor gives the connection attempt up at once instead of finishing it without the lease.
        await wait_for(lambda: monitor.telemetry.counts[health.LEASE_LOST] == 1, timeout=5)
        world.connect_gate.set()
        await stop_monitor(monitor, task)
        assert world.connected == [] and world.connects_by_key == {}  # the handshake never completed
        assert StateModel.get("monitor#lease").owner == "intruder"

    asyncio.run(scenario())


def test_stuck_request_does_not_keep_session(
    monitor_env: MonitorEnv,
) -> None:
    """Losing the lease disconnects first, then waits for the session's tasks.

    A task can fail to end when cancelled (on Python 3.11 ``asyncio.wait_for`` drops a cancellation that
    arrives as its inner call finishes). Waiting for the tasks before disconnecting kept such a monitor
    connected to the session for ever after another process took the lease over.
    """
    world = monitor_env.world
    monitor_env.store_session(monitor_env.new_session())

    async def scenario() -> None:
        entered, release = asyncio.Event(), asyncio.Event()

        async def stubborn() -> None:
            entered.set()
            while not release.is_set():
                try:
                    await release.wait()
                except asyncio.CancelledError:
                    continue  # swallowed

        world.request_hooks["GetStateRequest"] = stubborn
        monitor = monitor_env.monitor(monitor_env.config(lease_seconds=2.0, probe_seconds=0.2))
        task = asyncio.create_task(monitor.run())
        try:
            await wait_for(lambda: monitor.state == "running" and entered.is_set())
            assert len(world.connected) == 1
            _take_lease()
            await wait_for(lambda: world.connected == [], timeout=5)
        finally:
            release.set()
        await wait_for(lambda: monitor.telemetry.counts[health.LEASE_LOST] == 1, timeout=15)
        await stop_monitor(monitor, task)
        assert world.violations == []

    asyncio.run(scenario())
