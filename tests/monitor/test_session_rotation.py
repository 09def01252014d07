"""Session rotation and rejected sessions: switch without losing posts; never retry-loop a dead session."""

from __future__ import annotations

import asyncio

import pytest
from monitor_harness import MONITOR_USER, Downstream, MonitorEnv, stop_monitor, wait_for
from telethon import errors

from carsbot_monitor import health
from carsbot_monitor.registry import ChannelRegistry


def test_rotation_mid_stream_switches_session_without_losing_posts(monitor_env: MonitorEnv) -> None:
    world = monitor_env.world
    channel = world.add_channel("Авто Пермь", username="cars_perm", members=[MONITOR_USER])
    first = monitor_env.new_session()
    monitor_env.store_session(first)
    ChannelRegistry().add("@cars_perm")
    downstream = Downstream(monitor_env)

    async def scenario() -> None:
        monitor = monitor_env.monitor()
        task = asyncio.create_task(monitor.run())
        await wait_for(lambda: channel.id in monitor.channels)
        expected = set()
        rotated_version = None
        for n in range(60):
            # Around the switch Telegram pushes nothing: only the backfill can deliver these.
            deliver = False if 20 <= n < 30 else None
            message = await world.publish(channel, f"пост {n}", deliver=deliver)
            expected.add(message.id)
            if n == 20:
                second = monitor_env.new_session()
                rotated_version = monitor_env.store_session(second)
            await asyncio.sleep(0.03)
        await wait_for(
            lambda: monitor.credentials is not None and monitor.credentials.version_id == rotated_version
        )
        await downstream.until(lambda posts: {p.message_id for p in posts} >= expected, timeout=15)
        assert monitor.telemetry.counts[health.SESSION_ROTATED] == 1

        # The old session is gone from Telegram's side; only the new one is connected.
        assert len(world.connected) == 1
        assert world.connected[0].session.save() == second.session

        # Re-storing the same session as a new version must not open a second connection with it.
        connects = world.connects
        monitor_env.store_session(second)
        await asyncio.sleep(1.0)
        assert world.connects == connects and len(world.connected) == 1

        # A broken new version is reported and the working session kept.
        broken = monitor_env.new_session()
        world.revoke(broken)
        monitor_env.store_session(broken)
        await wait_for(lambda: monitor.telemetry.counts[health.SESSION_ROTATION_FAILED] == 1, timeout=5)
        late = await world.publish(channel, "пост после неудачной ротации")
        await downstream.until(lambda posts: late.id in {p.message_id for p in posts})
        assert monitor.credentials is not None and monitor.credentials.same_session(second)
        await stop_monitor(monitor, task)
        assert world.violations == []

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "error",
    [errors.AuthKeyUnregisteredError, errors.SessionRevokedError, errors.AuthKeyDuplicatedError],
)
def test_rejected_session_stops_connecting_reports_and_waits_for_a_new_secret(
    monitor_env: MonitorEnv, error: type[errors.RPCError]
) -> None:
    world = monitor_env.world
    channel = world.add_channel("Авто Уфа", username="cars_ufa", members=[MONITOR_USER])
    session = monitor_env.new_session()
    monitor_env.store_session(session)
    ChannelRegistry().add("@cars_ufa")
    downstream = Downstream(monitor_env)

    async def scenario() -> None:
        monitor = monitor_env.monitor()
        task = asyncio.create_task(monitor.run())
        await wait_for(lambda: channel.id in monitor.channels)
        world.revoke(session, error)  # e.g. terminated from another device
        await wait_for(lambda: monitor.state == "waiting-session", timeout=5)
        assert world.connected == []
        assert monitor.telemetry.counts[health.SESSION_INVALID] == 1
        attempts = monitor.connect_attempts
        missed = await world.publish(channel, "пост, пока сессия мертва")
        await asyncio.sleep(2.0)  # ~7 secret polls: no reconnect storm, nothing else
        assert monitor.connect_attempts == attempts == 1
        assert monitor.telemetry.counts[health.SESSION_INVALID] == 1
        assert monitor.heartbeat.read()["state"] == "waiting-session"

        monitor_env.store_session(monitor_env.new_session())  # ops ran `carsbot session login`
        await wait_for(lambda: monitor.state == "running", timeout=5)
        await downstream.until(lambda posts: missed.id in {p.message_id for p in posts})
        assert monitor.connect_attempts == 2
        await stop_monitor(monitor, task)

    asyncio.run(scenario())


def test_a_session_rejected_at_start_is_not_retried(monitor_env: MonitorEnv) -> None:
    session = monitor_env.new_session()
    monitor_env.world.revoke(session, errors.AuthKeyDuplicatedError)
    monitor_env.store_session(session)

    async def scenario() -> None:
        monitor = monitor_env.monitor()
        task = asyncio.create_task(monitor.run())
        await wait_for(lambda: monitor.state == "waiting-session")
        await asyncio.sleep(1.5)
        assert monitor.connect_attempts == 1 and monitor_env.world.connects == 1
        assert monitor.telemetry.counts[health.SESSION_INVALID] == 1
        await stop_monitor(monitor, task)

    asyncio.run(scenario())
