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

from carsbot.core.subscriptions import Plan

DEFAULT_PLANS: tuple[dict[str, object], ...] = (
    {"code": "month", "title": "30 дней", "days": 30, "price_rub": 190, "stars": 100},
    {"code": "year", "title": "365 дней", "days": 365, "price_rub": 1990, "stars": 1000},
)


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CARSBOT_", extra="ignore")

    stage: str = "local"
    # Operations (docs/operations.md): the stack's name, the admin chat alarms go to, the runbook's URL
    stack_name: str = ""
    alarm_chat_id: str = ""
    runbook_url: str = ""

    # DynamoDB tables
    channels_table: str = "carsbot-channels"
    posts_table: str = "carsbot-posts"
    listings_table: str = "carsbot-listings"
    dedup_table: str = "carsbot-dedup"
    idempotency_table: str = "carsbot-idempotency"
    state_table: str = "carsbot-state"
    # Bot (docs/bot.md)
    users_table: str = "carsbot-users"
    searches_table: str = "carsbot-searches"
    contact_requests_table: str = "carsbot-contact-requests"
    bot_state_table: str = "carsbot-bot-state"
    # Payments (docs/payments.md)
    orders_table: str = "carsbot-orders"
    payments_table: str = "carsbot-payments"

    # Queues and bucket
    posts_queue_url: str = ""
    publish_queue_url: str = ""
    notify_queue_url: str = ""  # the alerts queue: AlertJob and NotifyMessage (carsbot.adapters.notify)
    media_bucket: str = ""

    # Secrets Manager secret names/ARNs (values are never in configuration)
    bot_token_secret: str = "carsbot/bot-token"  # noqa: S105 - a secret name, not a value
    telegram_session_secret: str = "carsbot/telegram-session"  # noqa: S105
    openai_secret: str = "carsbot/openai"  # noqa: S105
    yookassa_secret: str = "carsbot/yookassa"  # noqa: S105
    webhook_secret: str = "carsbot/bot-webhook"  # noqa: S105 - the webhook secret token's secret name
    secrets_cache_seconds: int = 300

    # Bot / channel
    bot_username: str = "carsbot_demo_bot"
    news_channel_id: str = "@carsbot_demo_news"
    bot_api_base: str | None = Field(
        default=None, description="Custom Bot API server base URL (self-hosted or a local stand-in)"
    )
    publish_rate_per_minute: int = 20

    # Subscriptions and the bot (docs/bot.md). Plans: code, Russian title, days, price in RUB, Stars.
    plans: list[Plan] = Field(default_factory=lambda: [Plan(**p) for p in DEFAULT_PLANS])  # type: ignore[arg-type]
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    contact_daily_cap: int = 50
    payment_provider: Literal["yookassa", "stars"] = "yookassa"
    max_searches_per_user: int = 10
    alerts_rate_per_second: int = 30  # Telegram: ~30 messages a second overall for one bot
    alerts_per_chat_per_second: int = 1

    # Payments (docs/payments.md): YooKassa API, trusted notification networks, receipts, lifecycle.
    yookassa_api_url: str = "https://api.yookassa.ru/v3"
    yookassa_timeout: float = 10.0  # seconds per HTTP read; the SDK itself passes no timeout
    # YooKassa's published notification networks (https://yookassa.ru/developers/using-api/webhooks).
    yookassa_trusted_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [
            "185.71.76.0/27",
            "185.71.77.0/27",
            "77.75.153.0/25",
            "77.75.156.11/32",
            "77.75.156.35/32",
            "77.75.154.128/25",
            "2a02:5180::/32",
        ]
    )
    payment_return_url: str | None = None  # where YooKassa sends the payer back; None = t.me/<bot>
    order_reuse_minutes: int = 60  # a second tap on the same plan within this reuses the pending order
    receipt_enabled: bool = False  # 54-FZ receipts (the customer's e-mail or phone is asked once)
    receipt_vat_code: int = 1  # 1 = without VAT
    receipt_tax_system_code: int | None = None
    receipt_payment_subject: str = "service"
    receipt_payment_mode: str = "full_payment"
    reminder_days: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [3, 1])
    renewal_lead_hours: int = 24  # auto-renewal charges the saved method this long before the end

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

    # Google Sheets console (docs/sheets.md): the spreadsheet id, the service account's JSON key secret
    sheets_spreadsheet_id: str = ""
    sheets_credentials_secret: str = "carsbot/sheets-service-account"  # noqa: S105 - a secret name
    sheets_api_base: str | None = None  # another Sheets API host (the local stand-in); None = Google
    sheets_request_budget: int = 8  # Google API requests one sync may spend (60 reads + 60 writes/min)

    @field_validator(
        "min_price",
        "max_price",
        "bot_api_base",
        "openai_base_url",
        "sheets_api_base",
        "payment_return_url",
        "receipt_tax_system_code",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        "include_keywords",
        "exclude_keywords",
        "admin_ids",
        "yookassa_trusted_networks",
        "reminder_days",
        mode="before",
    )
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    def plan(self, code: str) -> Plan | None:
        return next((p for p in self.plans if p.code == code), None)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests and the local runner change the environment)."""
    get_settings.cache_clear()
