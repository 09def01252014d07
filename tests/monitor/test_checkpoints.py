"""The no-loss rule on the live path: a checkpoint moves only after SQS accepted the post."""

from __future__ import annotations

import asyncio

from monitor_harness import (
    MONITOR_USER,
    Downstream,
    MonitorEnv,
    SqsFaults,
    settled,
    stop_monitor,
    wait_for,
)

from carsbot.channels import ChannelRegistry
from carsbot_monitor import health


def test_failed_live_send_keeps_checkpoint(monitor_env: MonitorEnv) -> None:
    """A live post whose send fails leaves the stored checkpoint where it was; the post arrives later."""
    world = monitor_env.world
    channel = world.add_channel("Авто Тверь", username="cars_tver", members=[MONITOR_USER])
    monitor_env.store_session(monitor_env.new_session())
    registry = ChannelRegistry()
    registry.add("@cars_tver")
    downstream = Downstream(monitor_env)

    def stored() -> int:
        return registry.checkpoint_of("@cars_tver") or 0

    async def scenario() -> None:
        # No periodic catch-up: only the live path and its own retry can move this channel.
        monitor = monitor_env.monitor(monitor_env.config(catchup_interval_seconds=300.0))
        faults = SqsFaults().install(monitor.sink.client)
        task = asyncio.create_task(monitor.run())
        await wait_for(lambda: channel.id in monitor.channels and settled(monitor))
        first = await world.publish(channel, "Продаю Лада Гранта 2019")
        await wait_for(lambda: stored() == first.id)
        assert monitor.telemetry.counts[health.POSTS_QUEUED] == 1  # it went through the live path

        faults.fail_all = True  # SQS unreachable: the live send fails, and so do the retries
        second = await world.publish(channel, "Продаю Киа Сид 2020")
        await wait_for(lambda: faults.failed["SendMessage"] >= 1)  # the live send was tried and failed
        assert stored() == first.id  # the stored checkpoint did not move past the unsent post
        assert monitor.channels[channel.id].checkpoint == first.id  # nor the one in memory
        await wait_for(lambda: faults.failed["SendMessageBatch"] >= 2)  # its retries (history reads) fail too
        assert stored() == first.id and monitor.channels[channel.id].checkpoint == first.id
        assert second.id not in {p.message_id for p in downstream.poll()}

        faults.fail_all = False  # SQS is back: the retry (a history read) queues the post
        await downstream.until(lambda posts: second.id in {p.message_id for p in posts})
        await wait_for(lambda: stored() == second.id)
        await wait_for(lambda: monitor.telemetry.counts[health.BACKFILL_RECOVERED] >= 1)  # via history
        assert monitor.telemetry.counts[health.POSTS_QUEUED] == 1
        await stop_monitor(monitor, task)
        assert [p.message_id for p in downstream.posts] == [first.id, second.id]

    asyncio.run(scenario())
