"""``carsbot bot set-webhook|info|poll`` against the Bot API stand-in and the local stack."""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from typing import Any

from carsbot_dev.local.botapi_standin import BotApiStandin
from carsbot_dev.local.telegram_updates import UpdateFactory


def _args(**kwargs: Any) -> argparse.Namespace:
    defaults = {
        "url": None,
        "drop_pending": False,
        "rotate_secret": False,
        "max_connections": 40,
        "json": False,
        "force": False,
    }
    return argparse.Namespace(**{**defaults, **kwargs})


def test_set_webhook_stores_secret_registers(bot_env: Any, botapi: BotApiStandin) -> None:
    from carsbot.adapters.aws import client
    from carsbot.bot.webhook import webhook_secret
    from carsbot.commands.bot import cmd_info, cmd_set_webhook
    from carsbot.config import get_settings

    client("secretsmanager").put_secret_value(SecretId=bot_env.secrets["BotWebhookSecret"], SecretString="{}")
    lines: list[str] = []
    url = "https://abc.execute-api.eu-central-1.amazonaws.com/telegram"
    assert cmd_set_webhook(_args(url=url, drop_pending=True), out=lines.append) == 0
    token = webhook_secret(get_settings())
    assert token and len(token) >= 32
    assert botapi.webhook["url"] == url and botapi.webhook["secret_token"] == token
    assert (
        "callback_query" in botapi.webhook["allowed_updates"]
        and "my_chat_member" in botapi.webhook["allowed_updates"]
    )
    assert token not in "\n".join(lines)  # never printed
    assert botapi.calls_of("setMyCommands")
    # a second run keeps the token; --rotate-secret makes a new one
    assert cmd_set_webhook(_args(url=url), out=lines.append) == 0
    assert botapi.webhook["secret_token"] == token
    assert cmd_set_webhook(_args(url=url, rotate_secret=True), out=lines.append) == 0
    assert botapi.webhook["secret_token"] != token
    info: list[str] = []
    assert cmd_info(_args(), out=info.append) == 0
    assert info[0] == f"url: {url}" and info[1] == "pending updates: 0"


def test_set_webhook_soft_without_commands(bot_env: Any, botapi: BotApiStandin) -> None:
    from carsbot.commands.bot import cmd_set_webhook

    botapi.fail_next(404, description="Not Found: method not found", method="setMyCommands")
    lines: list[str] = []
    assert cmd_set_webhook(_args(url="https://example.org/telegram"), out=lines.append) == 0
    assert any("command menu could not be set" in line for line in lines)


def test_poll_refuses_while_webhook_set_polls(bot_env: Any, botapi: BotApiStandin) -> None:
    from carsbot.commands.bot import poll
    from carsbot.config import get_settings

    botapi.webhook = {"url": "https://example.org/telegram"}
    lines: list[str] = []
    assert asyncio.run(poll(get_settings(), force=False, out=lines.append)) == 1
    assert "a webhook is set" in lines[-1]

    updates = UpdateFactory(start_id=500)
    botapi.push_update(updates.text(updates.user(8001), "/start"))
    started = threading.Event()
    holder: dict[str, Any] = {}

    def ready(dispatcher: Any) -> None:
        holder["dp"], holder["loop"] = dispatcher, asyncio.get_running_loop()
        started.set()

    thread = threading.Thread(
        target=lambda: holder.setdefault(
            "rc", asyncio.run(poll(get_settings(), force=True, out=lines.append, ready=ready))
        )
    )
    thread.start()
    assert started.wait(60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not botapi.private_messages(8001):
        time.sleep(0.1)
    asyncio.run_coroutine_threadsafe(holder["dp"].stop_polling(), holder["loop"]).result(30)
    thread.join(30)
    assert "webhook deleted" in lines and botapi.webhook == {}
    (welcome,) = botapi.private_messages(8001)
    assert "Здравствуйте" in welcome.html
