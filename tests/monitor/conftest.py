"""Monitor fixtures: the moto stack from template.yaml (tests/conftest.py) + an offline Telegram world."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from monitor_harness import MONITOR_USER, MonitorEnv

from carsbot.adapters.db import bind_tables
from carsbot.config import Settings, reset_settings
from carsbot_dev.local.stack import LocalStack
from carsbot_dev.monitor.offline import OfflineTelegram


@pytest.fixture
def monitor_env(aws: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MonitorEnv]:
    secret_arn = aws.secrets["TelegramSessionSecret"]
    monkeypatch.setenv("CARSBOT_TELEGRAM_SESSION_SECRET", secret_arn)
    monkeypatch.setenv("CARSBOT_MONITOR_HEARTBEAT_FILE", str(tmp_path / "heartbeat.json"))
    reset_settings()
    settings = Settings()
    assert settings.posts_queue_url and settings.media_bucket
    bind_tables(settings)
    world = OfflineTelegram(seed=7)
    env = MonitorEnv(stack=aws, settings=settings, world=world, tmp_path=tmp_path)
    env.account = world.create_account(MONITOR_USER, username="carsbot_monitor", phone="+79990000000")
    yield env
    reset_settings()
