"""The session lease: one owner at a time, take-over after expiry, disconnect on loss, stalls.

Takeover timing is tested with explicit steps on a :class:`ManualClock` (the leases' wall clock), never by
waiting for a lease to run out: a contender's attempt lands exactly where the test puts it.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from monitor_harness import (
    MONITOR_USER,
    Downstream,
    LeaseContender,
    ManualClock,
    MonitorEnv,
    kill_monitor,
    stop_monitor,
    wait_for,
)

from carsbot.adapters.db.models import StateModel
from carsbot.channels import ChannelRegistry
from carsbot_monitor import health
from carsbot_monitor.lease import Lease
from carsbot_monitor.settings import MonitorSettings


class RecordingLease(Lease):
    """A lease that records every acquisition attempt: ``(wall clock, acquired)``."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.attempts: list[tuple[float, bool]] = []

    def try_acquire(self) -> bool:
        now = self.clock()
        acquired = super().try_acquire()
        self.attempts.append((now, acquired))
        return acquired


def _stored_expiry() -> int:
    expires = StateModel.get("monitor#lease", consistent_read=True).expires_at
    assert expires is not None
    return int(expires.timestamp())


def test_lease_exclusive_renewable_expires(monitor_env: MonitorEnv) -> None:
    clock = ManualClock()
    first = Lease(duration=2.0, margin=0.5, owner="first", clock=clock)
    second = Lease(duration=2.0, margin=0.5, owner="second", clock=clock)
    # `held` is a wall-time window (1.5 s here), not on the manual clock: a loaded machine may outlast it,
    # so this test reads the stored lease (fencing token, expiry) on the manual clock only
    assert first.try_acquire() and first.version is not None
    assert not second.try_acquire()
    assert first.renew()
    holder = second.holder()
    assert holder is not None and holder.owner == "first" and holder.is_live(clock())
    assert first.release()
    assert second.try_acquire()  # released: taken at once
    assert not first.try_acquire()
    assert not first.renew()  # its fencing token is stale
    clock.advance(2.0)  # the full duration is not enough: the stored expiry is whole seconds, rounded down
    assert not first.try_acquire()
    clock.advance(1.0)  # second never renewed: its lease has lapsed
    assert first.try_acquire()
    assert not second.renew()
    assert not second.held
    item = StateModel.get("monitor#lease")
    assert item.owner == "first" and item.version == 3  # one increment per acquisition


def test_only_one_connects_other_takes_over(monitor_env: MonitorEnv) -> None:
    world = monitor_env.world
    clock = monitor_env.clock
    channel = world.add_channel("Авто Самара", username="cars_smr", members=[MONITOR_USER])
    monitor_env.store_session(monitor_env.new_session())
    ChannelRegistry().add("@cars_smr")
    downstream = Downstream(monitor_env)
    config = monitor_env.config(lease_poll_seconds=0.05)

    async def scenario() -> None:
        a = monitor_env.monitor(config)
        b_lease = RecordingLease(
            config.lease_key, duration=config.lease_seconds, margin=config.lease_margin_seconds, clock=clock
        )
        b = monitor_env.monitor(config, lease=b_lease)
        task_a = asyncio.create_task(a.run())
        # The contender starts once the lease is taken: moto's conditional writes are not atomic when two
        # requests race (DynamoDB's are), which let both "acquire" version 1 on a loaded machine.
        await wait_for(lambda: a.lease.held)
        task_b = asyncio.create_task(b.run())
        await wait_for(lambda: channel.id in a.channels)
        await world.publish(channel, "пост 1")
        await downstream.until(lambda posts: len(posts) == 1)

        async def attempts(n: int) -> list[bool]:
            """The results of B's next ``n`` attempts (the clock stands still meanwhile); a successful
            one ends them (B stops trying once it holds the lease)."""
            seen = len(b_lease.attempts)

            def results() -> list[bool]:
                return [acquired for _, acquired in b_lease.attempts[seen:]]

            await wait_for(lambda: len(results()) >= n or any(results()))
            return results()

        # 1. While A renews its lease, the standby never gets in.
        assert await attempts(3) == [False] * 3
        assert b.state == "standby" and b.connect_attempts == 0
        assert a.connect_attempts == 1 and world.connects == 1 and len(world.connected) == 1

        # 2. A crashes: the lease is not released, its stored expiry stands.
        await kill_monitor(task_a)
        assert world.connected == []
        expiry = _stored_expiry()
        message = await world.publish(channel, "пост 2, пока никого нет")  # nobody listens

        # 3. Up to the last instant of the stored expiry, the lease is still A's.
        clock.set(expiry + 0.999)
        assert await attempts(3) == [False] * 3
        assert b.state == "standby" and b.connect_attempts == 0 and world.connects == 1

        # 4. Once it has fully passed, B takes over at its next attempt, connects once and catches up.
        clock.set(expiry + 1.0)
        assert await attempts(1) == [True]
        await wait_for(lambda: b.state == "running")
        assert b.connect_attempts == 1
        await downstream.until(lambda posts: {p.message_id for p in posts} >= {message.id})
        await stop_monitor(b, task_b)
        assert world.violations == []  # never two clients on the session at once

    asyncio.run(scenario())


def test_monitor_loses_lease_disconnects(monitor_env: MonitorEnv) -> None:
    world = monitor_env.world
    monitor_env.store_session(monitor_env.new_session())

    async def scenario() -> None:
        monitor = monitor_env.monitor(monitor_env.config())
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
        config = monitor_env.config(connect_timeout_seconds=60.0)
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
        monitor = monitor_env.monitor(monitor_env.config(probe_seconds=0.2))
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


STALL_SECONDS = 6.0


@pytest.mark.parametrize(
    "timings",
    [
        pytest.param(
            None, id="production"
        ),  # MonitorSettings defaults: 60 s lease, renewed every 15 s, 10 s margin
        pytest.param((3.0, 0.3, 1.0), id="short-lease-control"),  # valid ~2 s after a renewal: lost
    ],
)
def test_event_loop_stall_keeps_lease(
    monitor_env: MonitorEnv, timings: tuple[float, float, float] | None
) -> None:
    """A multi-second stall of the event loop, at the worst moment, costs the production lease nothing.

    The stall covers the moment the next renewal is due. With production timings the lease survives and
    the other process (a contender on its own thread) never gets it; with a lease that is too short for
    such a stall (the control) the contender takes it during the stall and the stalled holder gives the
    session up as soon as it runs again — which shows the stall really hit the renewal.
    """
    world = monitor_env.world
    channel = world.add_channel("Авто Рязань", username="cars_rzn", members=[MONITOR_USER])
    monitor_env.store_session(monitor_env.new_session())
    ChannelRegistry().add("@cars_rzn")
    defaults = MonitorSettings()
    duration, renew, margin = timings or (
        defaults.lease_seconds,
        defaults.lease_renew_seconds,
        defaults.lease_margin_seconds,
    )
    survives = timings is None
    config = monitor_env.config(
        lease_seconds=duration, lease_renew_seconds=renew, lease_margin_seconds=margin
    )
    lease = Lease(config.lease_key, duration=duration, margin=margin)  # the real wall clock, as in production
    monitor = monitor_env.monitor(config, lease=lease)
    # The other process holds what it takes for long (a short lease of its own would lapse under load).
    contender = LeaseContender(config.lease_key, duration=60.0, margin=10.0)

    async def scenario() -> None:
        task = asyncio.create_task(monitor.run())
        try:
            await wait_for(lambda: monitor.state == "running" and channel.id in monitor.channels)
            contender.start()
            period = min(renew, duration / 3)
            due = lease.valid_until - (duration - margin) + period  # the next renewal's start
            await asyncio.sleep(max(0.0, due - 0.5 - time.monotonic()))
            time.sleep(STALL_SECONDS)  # the loop is blocked: CPU starved, a long synchronous call...
            resumed = time.monotonic()
            if survives:
                # Renewed once the loop ran again, still holding the lease it never lost.
                await wait_for(lambda: lease.valid_until >= resumed + duration - margin)
                assert monitor.telemetry.counts.get(health.LEASE_LOST, 0) == 0
                assert monitor.state == "running" and contender.acquired_at is None
                post = await world.publish(channel, "пост после паузы")
                await Downstream(monitor_env).until(lambda posts: post.id in {p.message_id for p in posts})
            else:
                await wait_for(lambda: monitor.telemetry.counts[health.LEASE_LOST] == 1)
                assert contender.acquired_at is not None  # taken during the stall
                assert world.connected == []  # the holder disconnected as soon as it ran again
            assert monitor.connect_attempts == 1 and world.connects == 1
            assert world.violations == []
        finally:
            contender.stop()
        await stop_monitor(monitor, task)

    asyncio.run(scenario())
