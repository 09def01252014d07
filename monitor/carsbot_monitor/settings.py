"""Monitor tunables (environment prefix ``CARSBOT_MONITOR_``).

Resource names (tables, queue, bucket, the session secret) come from the shared
:class:`carsbot.config.Settings`; this class only holds the monitor's timings and limits. Every default
is production-safe; tests and the benchmark pass small intervals.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MonitorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CARSBOT_MONITOR_", extra="ignore")

    # Lease (single owner of the Telegram session)
    lease_key: str = "monitor#lease"
    lease_seconds: float = Field(default=60.0, gt=0, description="How long a lease is valid without renewal")
    lease_renew_seconds: float = Field(default=15.0, gt=0, description="Renewal period (< lease_seconds / 2)")
    lease_margin_seconds: float = Field(
        default=10.0, ge=0, description="Give the session up this long before the lease would expire"
    )
    lease_poll_seconds: float = Field(default=10.0, gt=0, description="Standby: how often to try the lease")

    # Session secret
    secret_poll_seconds: float = Field(
        default=60.0, gt=0, description="How often to look for a rotated secret"
    )
    connect_timeout_seconds: float = Field(default=60.0, gt=0)
    reconnect_min_seconds: float = 2.0
    reconnect_max_seconds: float = 300.0
    probe_seconds: float = Field(default=60.0, gt=0, description="Liveness probe of the connection")

    # Registry
    registry_reload_seconds: float = Field(default=30.0, gt=0, le=60.0)
    join_interval_seconds: float = Field(default=30.0, ge=0, description="Minimum gap between joins/resolves")
    rejoin_delay_seconds: float = Field(
        default=60.0, ge=0, description="Wait before re-joining a channel the account lost access to"
    )
    initial_backfill_messages: int = Field(
        default=0, ge=0, le=100, description="Recent posts queued when a channel is first joined"
    )

    # Catch-up
    catchup_interval_seconds: float = Field(
        default=180.0, gt=0, description="Periodic top-id probe + backfill"
    )
    idle_seconds: float = Field(default=300.0, gt=0, description="No update for this long forces a catch-up")
    backfill_max_messages: int = Field(default=1000, gt=0, description="Per channel per backfill pass")
    album_settle_seconds: float = Field(
        default=5.0, ge=0, description="A trailing album younger than this waits for the next pass"
    )
    flood_wait_max_seconds: float = Field(
        default=900.0, ge=0, description="Longer FloodWaits are not slept inline; the work is rescheduled"
    )

    # Processing
    workers: int = Field(default=4, gt=0)
    queue_max: int = Field(default=10000, gt=0)
    send_attempts: int = Field(default=4, gt=0, description="Attempts for an edit/deletion before deferring")
    retry_base_seconds: float = 1.0

    # Media
    media_enabled: bool = True
    media_max_bytes: int = Field(default=20 * 1024 * 1024, ge=0, description="Size cap for photos and videos")
    media_prefix: str = "media"

    # Health
    heartbeat_seconds: float = Field(default=30.0, gt=0)
    heartbeat_file: str = "/tmp/carsbot-monitor.heartbeat"  # noqa: S108 - a liveness stamp, not a secret
    healthcheck_max_age_seconds: float = Field(default=120.0, gt=0)
    metrics_flush_seconds: float = Field(default=60.0, gt=0)
