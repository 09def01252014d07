"""What every part of the monitor shares: its tunables, the Telegram gateway, the I/O pool, telemetry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from carsbot_monitor.aio import BlockingPool
from carsbot_monitor.gateway import TelegramGateway
from carsbot_monitor.health import Telemetry
from carsbot_monitor.settings import MonitorSettings


@dataclass(frozen=True)
class Context:
    config: MonitorSettings
    tg: TelegramGateway  # every Telegram request (FloodWait and dead sessions handled there)
    io: BlockingPool  # blocking SDK calls (boto3, pynamodb)
    telemetry: Telemetry

    @property
    def log(self) -> Any:
        return self.telemetry.logger
