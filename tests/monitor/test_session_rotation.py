"""Session rotation and rejected sessions: switch without losing posts; never retry-loop a dead session."""

from __future__ import annotations

import asyncio

import pytest
from monitor_harness import MONITOR_USER, Downstream, MonitorEnv, stop_monitor, wait_for
from telethon import errors
from telethon.sessions import StringSession

from carsbot.adapters.aws import client
from carsbot.channels import ChannelRegistry
from carsbot_monitor import health
from carsbot_monitor.session import SessionCredentials


def test_rotation_mid_stream_loses_no_post(monitor_env: MonitorEnv) -> None:
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
def test_rejected_session_stops_and_waits(monitor_env: MonitorEnv, error: type[errors.RPCError]) -> None:
    world = monitor_env.world
    channel = world.add_channel("Авто Уфа", username="cars_ufa", members=[MONITOR_USER])
    _put_raw_version(monitor_env, "{}")  # no usable AWSPREVIOUS version to fall back to
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


def test_session_rejected_start_not_retried(monitor_env: MonitorEnv) -> None:
    session = monitor_env.new_session()
    monitor_env.world.revoke(session, errors.AuthKeyDuplicatedError)
    _put_raw_version(monitor_env, "{}")  # no usable AWSPREVIOUS version to fall back to
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


# ---- restart on an unusable current version: fall back to AWSPREVIOUS --------------------------------


def _auth_key(credentials: SessionCredentials) -> bytes:
    key = StringSession(credentials.session).auth_key
    assert key is not None
    return key.key


def _put_raw_version(env: MonitorEnv, value: str) -> str:
    """Store ``value`` as the new AWSCURRENT version (a botched manual edit of the secret)."""
    response = client("secretsmanager").put_secret_value(
        SecretId=env.settings.telegram_session_secret, SecretString=value
    )
    return str(response["VersionId"])


def _stage_of(env: MonitorEnv, version: str, stage: str) -> bool:
    """Whether ``version`` carries ``stage`` (read with an explicit VersionStage)."""
    response = client("secretsmanager").get_secret_value(
        SecretId=env.settings.telegram_session_secret, VersionStage=stage
    )
    return bool(response["VersionId"] == version)


def test_restart_broken_current_runs_previous(monitor_env: MonitorEnv) -> None:
    world = monitor_env.world
    channel = world.add_channel("Авто Самара", username="cars_samara", members=[MONITOR_USER])
    good = monitor_env.new_session()
    good_version = monitor_env.store_session(good)
    ChannelRegistry().add("@cars_samara")
    downstream = Downstream(monitor_env)

    async def scenario() -> None:
        first = monitor_env.monitor()
        first_task = asyncio.create_task(first.run())
        await wait_for(lambda: channel.id in first.channels)
        before = await world.publish(channel, "пост до сбоя")
        await downstream.until(lambda posts: before.id in {p.message_id for p in posts})
        await monitor_env.crash(first_task)  # the task crashes; its lease runs out (clock moved)

        # Meanwhile someone stores a value that is not a session secret at all.
        broken_version = _put_raw_version(monitor_env, "not json at all")
        assert _stage_of(monitor_env, good_version, "AWSPREVIOUS")
        missed = [await world.publish(channel, f"пост во время простоя {n}") for n in range(3)]

        monitor = monitor_env.monitor()
        task = asyncio.create_task(monitor.run())
        await wait_for(lambda: monitor.state == "running", timeout=15)
        assert monitor.credentials is not None and monitor.credentials.version_id == good_version
        assert monitor.fallback_from is not None and monitor.fallback_from[0] == broken_version
        await wait_for(lambda: monitor.heartbeat.read()["secret_fallback"] is True)
        # Reported loudly, once; Telegram rejected nothing.
        assert monitor.telemetry.counts[health.SESSION_ROTATION_FAILED] == 1
        assert monitor.telemetry.counts.get(health.SESSION_INVALID, 0) == 0

        live = await world.publish(channel, "пост после перезапуска")
        expected = {m.id for m in missed} | {live.id}
        await downstream.until(lambda posts: {p.message_id for p in posts} >= expected)
        # Rotation keeps polling AWSCURRENT: the broken version is neither retried nor reported again.
        await asyncio.sleep(1.0)
        assert monitor.connect_attempts == 1
        assert monitor.telemetry.counts[health.SESSION_ROTATION_FAILED] == 1
        assert len(world.connected) == 1 and world.connected[0].session.save() == good.session
        await stop_monitor(monitor, task)
        assert world.violations == []

    asyncio.run(scenario())


def test_restart_revoked_current_uses_previous(
    monitor_env: MonitorEnv,
) -> None:
    world = monitor_env.world
    channel = world.add_channel("Авто Тула", username="cars_tula", members=[MONITOR_USER])
    good = monitor_env.new_session()
    good_version = monitor_env.store_session(good)
    revoked = monitor_env.new_session()
    world.revoke(revoked, errors.SessionRevokedError)
    revoked_version = monitor_env.store_session(revoked)
    ChannelRegistry().add("@cars_tula")
    downstream = Downstream(monitor_env)

    async def scenario() -> None:
        monitor = monitor_env.monitor()
        task = asyncio.create_task(monitor.run())
        await wait_for(lambda: monitor.state == "running", timeout=15)
        await wait_for(lambda: channel.id in monitor.channels)
        assert monitor.credentials is not None and monitor.credentials.version_id == good_version
        assert revoked_version in monitor.dead_versions
        assert monitor.telemetry.counts[health.SESSION_INVALID] == 1
        assert monitor.telemetry.counts[health.SESSION_ROTATION_FAILED] == 1

        post = await world.publish(channel, "пост на предыдущей сессии")
        await downstream.until(lambda posts: post.id in {p.message_id for p in posts})
        await asyncio.sleep(1.5)  # ~5 secret polls: the revoked version is never tried again
        assert world.connects_by_key[_auth_key(revoked)] == 1
        assert world.connects_by_key[_auth_key(good)] == 1
        assert monitor.connect_attempts == 2
        assert monitor.telemetry.counts[health.SESSION_INVALID] == 1
        assert monitor.telemetry.counts[health.SESSION_ROTATION_FAILED] == 1
        await stop_monitor(monitor, task)
        assert world.violations == []

    asyncio.run(scenario())


def test_on_previous_switches_to_good_new(monitor_env: MonitorEnv) -> None:
    world = monitor_env.world
    channel = world.add_channel("Авто Омск", username="cars_omsk", members=[MONITOR_USER])
    good = monitor_env.new_session()
    good_version = monitor_env.store_session(good)
    _put_raw_version(monitor_env, '{"api_id": 1}')  # JSON, but no session in it
    ChannelRegistry().add("@cars_omsk")
    downstream = Downstream(monitor_env)

    async def scenario() -> None:
        monitor = monitor_env.monitor()
        task = asyncio.create_task(monitor.run())
        await wait_for(lambda: channel.id in monitor.channels, timeout=15)
        assert monitor.credentials is not None and monitor.credentials.version_id == good_version

        fixed = monitor_env.new_session()  # ops ran `carsbot session login`
        fixed_version = monitor_env.store_session(fixed)
        during = await world.publish(channel, "пост во время переключения", deliver=False)
        await wait_for(
            lambda: monitor.credentials is not None and monitor.credentials.version_id == fixed_version
        )
        assert monitor.fallback_from is None
        assert monitor.telemetry.counts[health.SESSION_ROTATED] == 1
        assert monitor.telemetry.counts[health.SESSION_ROTATION_FAILED] == 1  # only the fallback
        after = await world.publish(channel, "пост на новой сессии")
        await downstream.until(lambda posts: {p.message_id for p in posts} >= {during.id, after.id})
        assert len(world.connected) == 1 and world.connected[0].session.save() == fixed.session
        await wait_for(lambda: monitor.heartbeat.read()["secret_fallback"] is False)
        await stop_monitor(monitor, task)
        assert world.violations == []

    asyncio.run(scenario())


def test_both_versions_unusable_waits_new_one(monitor_env: MonitorEnv) -> None:
    world = monitor_env.world
    previous = monitor_env.new_session()
    world.revoke(previous, errors.AuthKeyUnregisteredError)
    monitor_env.store_session(previous)
    _put_raw_version(monitor_env, "   ")  # a blank current version

    async def scenario() -> None:
        monitor = monitor_env.monitor()
        task = asyncio.create_task(monitor.run())
        await wait_for(lambda: monitor.state == "waiting-session")
        await asyncio.sleep(1.5)
        assert monitor.connect_attempts == 1 and world.connects == 1
        assert monitor.telemetry.counts[health.SESSION_INVALID] == 1
        assert monitor.telemetry.counts.get(health.SESSION_ROTATION_FAILED, 0) == 0
        assert world.connected == []

        monitor_env.store_session(monitor_env.new_session())
        await wait_for(lambda: monitor.state == "running", timeout=5)
        assert monitor.connect_attempts == 2 and monitor.fallback_from is None
        await stop_monitor(monitor, task)

    asyncio.run(scenario())
