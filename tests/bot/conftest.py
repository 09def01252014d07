"""The bot through its real webhook handler (``functions/bot/app.py``) with aiogram against the Bot API
stand-in, on the template's tables in moto server.

* ``botapi`` — the Bot API stand-in (one per session, emptied per test).
* ``bot_env`` — the ``aws`` stack with ``CARSBOT_BOT_API_BASE`` pointed at the stand-in, a webhook secret
  stored in its secret, and the admin ids set.
* ``webhook`` — ``deliver(update) -> response`` through the handler with a genuine HTTP API event.
* ``chat(user_id)`` — a ``ChatSession`` for one user; ``seed_listing(...)`` stores a published listing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botkit import ADMIN_ID, WEBHOOK_SECRET

from carsbot.adapters.aws import client
from carsbot_dev.local.botapi_standin import BotApiStandin
from carsbot_dev.local.runner import LocalLambdaRunner
from carsbot_dev.local.stack import LocalStack, reset_sdk_caches
from carsbot_dev.local.telegram_updates import ChatSession, UpdateFactory, http_api_event


@pytest.fixture(scope="session")
def botapi() -> Iterator[BotApiStandin]:
    with BotApiStandin() as api:
        yield api


@pytest.fixture
def bot_env(aws: LocalStack, botapi: BotApiStandin, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    botapi.reset()
    botapi.blocked_chats.clear()
    botapi.webhook = {}
    botapi.pending_updates.clear()
    monkeypatch.setenv("CARSBOT_BOT_API_BASE", botapi.base_url)
    monkeypatch.setenv("CARSBOT_ADMIN_IDS", str(ADMIN_ID))
    monkeypatch.setenv("CARSBOT_CONTACT_DAILY_CAP", os.environ.get("CARSBOT_CONTACT_DAILY_CAP", "50"))
    client("secretsmanager").put_secret_value(
        SecretId=aws.secrets["BotWebhookSecret"], SecretString=f'{{"token": "{WEBHOOK_SECRET}"}}'
    )
    reset_sdk_caches()
    yield aws
    reset_sdk_caches()


@pytest.fixture
def webhook(bot_env: LocalStack) -> Callable[..., dict[str, Any]]:
    runner = LocalLambdaRunner(bot_env)

    def deliver(update: dict[str, Any], *, secret: str | None = WEBHOOK_SECRET) -> dict[str, Any]:
        return runner.invoke("BotFunction", http_api_event(update, secret))  # type: ignore[no-any-return]

    return deliver


@pytest.fixture
def updates() -> UpdateFactory:
    return UpdateFactory(start_id=int(datetime.now(UTC).timestamp() * 1000) % 10**9)


@pytest.fixture
def chat(
    botapi: BotApiStandin, webhook: Callable[..., dict[str, Any]], updates: UpdateFactory
) -> Callable[..., ChatSession]:
    def make(user_id: int, **kwargs: Any) -> ChatSession:
        return ChatSession(botapi, webhook, updates, user_id, **kwargs)

    return make
