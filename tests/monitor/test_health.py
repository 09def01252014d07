"""Health: heartbeat file + container health check, heartbeat metric, idle watchdog catch-up."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from monitor_harness import MONITOR_USER, Downstream, MonitorEnv, stop_monitor, wait_for

from carsbot.channels import ChannelRegistry
from carsbot.cli import main
from carsbot_monitor import health


def test_healthcheck_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    beat = tmp_path / "beat.json"
    monkeypatch.setenv("CARSBOT_MONITOR_HEARTBEAT_FILE", str(beat))
    assert main(["monitor", "healthcheck"]) == 1  # no heartbeat yet
    beat.write_text(json.dumps({"ts": time.time(), "state": "running"}))
    assert main(["monitor", "healthcheck"]) == 0
    assert "state running" in capsys.readouterr().out
    beat.write_text(json.dumps({"ts": time.time() - 600, "state": "running"}))
    assert main(["monitor", "healthcheck"]) == 1
    assert main(["monitor", "healthcheck", "--max-age", "900"]) == 0


def test_heartbeat_and_idle_watchdog_catch_up(monitor_env: MonitorEnv) -> None:
    world = monitor_env.world
    channel = world.add_channel("Авто Тула", username="cars_tula", members=[MONITOR_USER])
    monitor_env.store_session(monitor_env.new_session())
    ChannelRegistry().add("@cars_tula")
    config = monitor_env.config(idle_seconds=1.0, catchup_interval_seconds=300.0)

    async def scenario() -> None:
        monitor = monitor_env.monitor(config)
        task = asyncio.create_task(monitor.run())
        await wait_for(lambda: channel.id in monitor.channels)
        await asyncio.sleep(0.3)
        missed = await world.publish(channel, "пост без push-уведомления", deliver=False)
        # Only the watchdog can find it: periodic catch-up is 5 minutes away, no update arrives.
        await Downstream(monitor_env).until(
            lambda posts: missed.id in {p.message_id for p in posts}, timeout=6
        )
        assert monitor.telemetry.counts[health.IDLE_CATCHUPS] >= 1
        assert monitor.telemetry.counts[health.HEARTBEAT] >= 1
        beat = monitor.heartbeat.read()
        assert beat is not None and beat["state"] == "running" and beat["channels"] == 1
        assert beat["account_id"] == MONITOR_USER
        healthy, _ = health.check_health(monitor.heartbeat.path, 5)
        assert healthy
        await stop_monitor(monitor, task)
        assert monitor.heartbeat.read()["state"] == "stopped"

    asyncio.run(scenario())
