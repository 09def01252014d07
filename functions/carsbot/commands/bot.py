"""``carsbot bot set-webhook|info|poll [--stage NAME]``: the bot's connection to Telegram.

* ``set-webhook`` — registers the stack's ``BotWebhookUrl`` output (or ``--url``) with Telegram, with the
  secret token from the webhook secret (generated and stored as a new secret version the first time, or
  with ``--rotate-secret``), the update kinds the bot handles, and ``--drop-pending`` to discard what
  Telegram queued meanwhile. Sets the command menu too (fail-soft). Never prints the token.
* ``info`` — ``getWebhookInfo``: URL, pending updates, the last delivery error.
* ``poll`` — the same Dispatcher by long polling (development, self-hosted Bot API servers); refuses
  while a webhook is set unless ``--force`` (which deletes it).

Exit codes: 0 done, 1 Telegram refused or a webhook is in the way, 2 setup (stage, credentials).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets as random_tokens
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiogram import Bot, Dispatcher

    from carsbot.config import Settings

Printer = Callable[[str], None]

# The command menu (Russian, what users see next to the input field).
COMMANDS = [
    ("start", "Главное меню"),
    ("searches", "Мои поиски"),
    ("alert", "Новый поиск одной строкой"),
    ("plans", "Тарифы"),
    ("subscription", "Моя подписка"),
    ("help", "Помощь"),
]


def register(subparsers: Any) -> None:
    bot = subparsers.add_parser("bot", help="the bot's webhook and long polling (Telegram Bot API)")
    sub = bot.add_subparsers(dest="bot_command", required=True, metavar="ACTION")
    hook = sub.add_parser("set-webhook", help="register the webhook URL and secret token with Telegram")
    hook.add_argument("--url", help="webhook URL (default: the stack's BotWebhookUrl output)")
    hook.add_argument("--drop-pending", action="store_true", help="discard the updates Telegram queued")
    hook.add_argument("--rotate-secret", action="store_true", help="store a new secret token first")
    hook.add_argument("--max-connections", type=int, default=40, help="parallel deliveries (1-100)")
    hook.set_defaults(func=cmd_set_webhook)
    info = sub.add_parser("info", help="getWebhookInfo: URL, pending updates, last error")
    info.add_argument("--json", action="store_true")
    info.set_defaults(func=cmd_info)
    poll = sub.add_parser("poll", help="run the bot by long polling (refuses while a webhook is set)")
    poll.add_argument("--force", action="store_true", help="delete the webhook first")
    poll.set_defaults(func=cmd_poll)


def _settings() -> Settings:
    from carsbot.adapters.db import bind_tables
    from carsbot.config import get_settings

    settings = get_settings()
    bind_tables(settings)
    return settings


def _bot(settings: Settings) -> Bot:
    from carsbot.bot.webhook import bot_token, make_bot

    return make_bot(bot_token(settings), settings)


def ensure_secret_token(settings: Settings, *, rotate: bool = False) -> str:
    """The webhook secret token, created (``A-Z a-z 0-9 _ -``, 64 chars) and stored when missing."""
    from carsbot.adapters.aws import client
    from carsbot.adapters.secrets import reset_secrets_cache
    from carsbot.bot.webhook import webhook_secret

    token = None if rotate else webhook_secret(settings)
    if token is None:
        token = random_tokens.token_urlsafe(48)
        client("secretsmanager").put_secret_value(
            SecretId=settings.webhook_secret, SecretString=json.dumps({"token": token})
        )
        reset_secrets_cache()
    return token


def _webhook_url(args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url)
    from carsbot.ops.stage import require_stack

    url = require_stack().outputs.get("BotWebhookUrl")
    if not url:
        raise SystemExit("the stack has no BotWebhookUrl output; pass --url")
    return url


async def set_commands(bot: Bot) -> bool:
    """The command menu; optional (a minimal Bot API server may lack it): False when it failed."""
    from aiogram.types import BotCommand

    try:
        await bot.set_my_commands([BotCommand(command=c, description=d) for c, d in COMMANDS])
    except Exception:
        return False
    return True


def cmd_set_webhook(args: argparse.Namespace, *, out: Printer = print) -> int:
    from aiogram.exceptions import TelegramAPIError

    from carsbot.bot.dispatcher import ALLOWED_UPDATES

    settings = _settings()
    url = _webhook_url(args)
    token = ensure_secret_token(settings, rotate=args.rotate_secret)

    async def run() -> int:
        bot = _bot(settings)
        try:
            await bot.set_webhook(
                url=url,
                secret_token=token,
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=args.drop_pending,
                max_connections=max(1, min(100, args.max_connections)),
            )
            menu = await set_commands(bot)
        except TelegramAPIError as exc:
            out(f"Telegram refused the webhook: {exc.message}")
            return 1
        finally:
            await bot.session.close()
        kinds = ", ".join(ALLOWED_UPDATES)
        out(f"webhook set: {url} (updates: {kinds}; secret token stored in {settings.webhook_secret})")
        if not menu:
            out("note: the command menu could not be set (setMyCommands failed); the webhook works")
        return 0

    return asyncio.run(run())


def cmd_info(args: argparse.Namespace, *, out: Printer = print) -> int:
    settings = _settings()

    async def run() -> Any:
        bot = _bot(settings)
        try:
            return await bot.get_webhook_info()
        finally:
            await bot.session.close()

    info = asyncio.run(run())
    data = {
        "url": info.url or "",
        "pending_update_count": info.pending_update_count,
        "last_error": info.last_error_message,
        "last_error_at": info.last_error_date.astimezone(UTC).isoformat() if info.last_error_date else None,
        "max_connections": info.max_connections,
        "allowed_updates": info.allowed_updates,
    }
    if args.json:
        out(json.dumps(data, ensure_ascii=False))
        return 0
    out(f"url: {data['url'] or '(none: the bot is not receiving updates by webhook)'}")
    out(f"pending updates: {data['pending_update_count']}")
    if data["last_error"]:
        out(f"last error: {data['last_error']} at {data['last_error_at']}")
    else:
        out("last error: none")
    return 0


async def poll(
    settings: Settings,
    *,
    force: bool,
    out: Printer = print,
    ready: Callable[[Dispatcher], None] | None = None,
) -> int:
    """Long polling with the bot's Dispatcher until stopped (Ctrl-C or ``dispatcher.stop_polling()``)."""
    from carsbot.bot.dispatcher import ALLOWED_UPDATES, build_dispatcher

    bot = _bot(settings)
    try:
        info = await bot.get_webhook_info()
        if info.url and not force:
            out(
                f"a webhook is set ({info.url}): updates go there. Use --force to delete it and poll instead."
            )
            return 1
        if info.url:
            await bot.delete_webhook(drop_pending_updates=False)
            out("webhook deleted")
        dispatcher = build_dispatcher(settings)
        await set_commands(bot)
        me = await bot.get_me()
        out(f"polling as @{me.username} since {datetime.now(UTC):%H:%M:%S} UTC (Ctrl-C stops)")
        if ready is not None:
            ready(dispatcher)
        await dispatcher.start_polling(
            bot, allowed_updates=ALLOWED_UPDATES, handle_signals=ready is None, close_bot_session=False
        )
    finally:
        await bot.session.close()
    return 0


def cmd_poll(args: argparse.Namespace, *, out: Printer = print) -> int:
    try:
        return asyncio.run(poll(_settings(), force=args.force, out=out))
    except KeyboardInterrupt:
        return 0
