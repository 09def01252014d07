"""Runtime configuration (pydantic-settings).

Every value comes from environment variables prefixed ``CARSBOT_`` (set by template.yaml in AWS and by
the local runner from the same template). Secrets are *not* configuration: the settings only hold the
names/ARNs of Secrets Manager secrets, resolved at run time by ``carsbot.adapters.secrets``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CARSBOT_", extra="ignore")

    stage: str = "local"

    # DynamoDB tables
    channels_table: str = "carsbot-channels"
    posts_table: str = "carsbot-posts"
    listings_table: str = "carsbot-listings"
    dedup_table: str = "carsbot-dedup"
    idempotency_table: str = "carsbot-idempotency"
    state_table: str = "carsbot-state"

    # Queues and bucket
    posts_queue_url: str = ""
    publish_queue_url: str = ""
    media_bucket: str = ""

    # Secrets Manager secret names/ARNs (values are never in configuration)
    bot_token_secret: str = "carsbot/bot-token"  # noqa: S105 - a secret name, not a value
    telegram_session_secret: str = "carsbot/telegram-session"  # noqa: S105
    openai_secret: str = "carsbot/openai"  # noqa: S105
    yookassa_secret: str = "carsbot/yookassa"  # noqa: S105
    secrets_cache_seconds: int = 300

    # Bot / channel
    bot_username: str = "carsbot_demo_bot"
    news_channel_id: str = "@carsbot_demo_news"
    bot_api_base: str | None = Field(
        default=None, description="Custom Bot API server base URL (self-hosted or a local stand-in)"
    )
    publish_rate_per_minute: int = 20

    # Extraction
    extract_engine: Literal["auto", "rules", "llm"] = "auto"
    openai_model: str = "gpt-4o-mini"
    openai_base_url: str | None = None
    openai_timeout: float = 30.0

    # Filters (applied by the extract function; see docs/extraction.md)
    include_keywords: Annotated[list[str], NoDecode] = Field(default_factory=list)
    exclude_keywords: Annotated[list[str], NoDecode] = Field(default_factory=list)
    min_price: int | None = None
    max_price: int | None = None
    min_confidence: float = 0.0

    @field_validator("min_price", "max_price", "bot_api_base", "openai_base_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("include_keywords", "exclude_keywords", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests and the local runner change the environment)."""
    get_settings.cache_clear()
