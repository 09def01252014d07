"""The webhook: an API Gateway (HTTP API, payload 2.0) request in, one update through the Dispatcher.

``BotRuntime`` is what one container keeps: the Dispatcher and routers (built at init, so a SnapStart
snapshot holds them), one event loop, and — created lazily after restore, never in the snapshot — the
aiogram ``Bot`` with its HTTP session and the secrets. Per request (``handle_event``):

1. ``X-Telegram-Bot-Api-Secret-Token`` (HTTP API lowercases header names) is compared in constant time
   with the token in Secrets Manager; missing or wrong -> 401, nothing parsed, nothing of the body logged.
2. The update is claimed by ``update_id`` with a conditional write (TTL 24 h): Telegram re-sends an
   update whose answer timed out, and a second delivery is answered 200 without processing.
3. ``Dispatcher.feed_update`` runs to completion inside an update scope (``carsbot.bot.update_scope``:
   the sender's record and FSM state are read in one request); a handler error is logged with the update
   id and still answers 200, so a poison update never blocks the updates queued behind it.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import PutError

from carsbot.adapters.db.bot import BotStateModel
from carsbot.adapters.db.conditions import is_conditional_failure
from carsbot.bot.update_scope import update_scope
from carsbot.config import Settings, get_settings
from carsbot.observability import add_metric, logger

if TYPE_CHECKING:
    from aiogram import Bot, Dispatcher

SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 - a header name
SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
DEDUPE_TTL = timedelta(hours=24)
MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: str = ""

    def lambda_response(self) -> dict[str, Any]:
        return {"statusCode": self.status, "headers": {"content-type": "text/plain"}, "body": self.body}


def make_bot(token: str, settings: Settings) -> Bot:
    """An aiogram Bot (HTML parse mode, no link previews) on Telegram or ``bot_api_base``."""
    from aiogram import Bot
    from aiogram.client.default import DefaultBotProperties
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.enums import ParseMode

    session = (
        AiohttpSession(api=TelegramAPIServer.from_base(settings.bot_api_base.rstrip("/")), timeout=20)
        if settings.bot_api_base
        else AiohttpSession(timeout=20)
    )
    return Bot(
        token=token,
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


def bot_token(settings: Settings) -> str:
    from carsbot.adapters.secrets import SecretMissingError, get_secret

    token = get_secret(settings.bot_token_secret).field("token", "bot_token")
    if not token:
        raise SecretMissingError(f"secret {settings.bot_token_secret!r} has no bot token")
    return token


def webhook_secret(settings: Settings) -> str | None:
    """The secret token Telegram sends with every update (``None`` when not configured yet)."""
    from carsbot.adapters.secrets import SecretMissingError, get_secret

    try:
        token = get_secret(settings.webhook_secret).field("token", "secret_token")
    except SecretMissingError:
        return None
    return token if token and SECRET_TOKEN.match(token) else None


def claim_update(update_id: int, now: datetime | None = None) -> bool:
    """True the first time ``update_id`` is seen (a conditional put with a TTL), False after."""
    now = now or datetime.now(UTC)
    item = BotStateModel(f"update#{update_id}", updated_at=now, expires_at=now + DEDUPE_TTL)
    try:
        item.save(condition=BotStateModel.pk.does_not_exist())
    except PutError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def _body(event: Mapping[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


class BotRuntime:
    """The per-container bot: Dispatcher at init; Bot, session and secrets after (re)start."""

    def __init__(
        self,
        dispatcher_factory: Callable[[Settings], Dispatcher],
        *,
        settings: Settings | None = None,
        secret_provider: Callable[[Settings], str | None] = webhook_secret,
        bot_factory: Callable[[Settings], Bot] | None = None,
    ) -> None:
        self._dispatcher_factory = dispatcher_factory
        self.settings = settings or get_settings()
        self.dispatcher = dispatcher_factory(self.settings)
        self._secret_provider = secret_provider
        self._bot_factory = bot_factory or (lambda s: make_bot(bot_token(s), s))
        self._bot: Bot | None = None
        self.loop = asyncio.new_event_loop()

    # ------------------------------------------------------------------ lifecycle

    def rebuild(self, settings: Settings) -> None:
        """New settings (tests, the local server): a new Dispatcher and a fresh Bot."""
        self.after_restore()
        self.settings = settings
        self.dispatcher = self._dispatcher_factory(settings)

    def after_restore(self) -> None:
        """SnapStart restore (or a reconfiguration): drop connections and cached secrets."""
        from carsbot.adapters import aws, secrets

        if self._bot is not None:
            bot, self._bot = self._bot, None
            try:
                self.loop.run_until_complete(bot.session.close())
            except Exception:  # a session from before the snapshot may be unusable; it is dropped
                logger.debug("old bot session not closed cleanly", exc_info=True)
        aws.client.cache_clear()
        secrets.reset_secrets_cache()

    def bot(self) -> Bot:
        if self._bot is None:
            self._bot = self._bot_factory(self.settings)
        return self._bot

    def close(self) -> None:
        if self._bot is not None:
            self.loop.run_until_complete(self._bot.session.close())
            self._bot = None
        self.loop.close()

    # ------------------------------------------------------------------ requests

    def handle_event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """An HTTP API (payload 2.0) event -> a Lambda proxy response."""
        return self.loop.run_until_complete(
            self.handle(event.get("headers") or {}, _body(event))
        ).lambda_response()

    async def handle(self, headers: Mapping[str, Any], body: bytes) -> HttpResponse:
        expected = self._secret_provider(self.settings)
        given = _header(headers, SECRET_HEADER)
        if expected is None:
            logger.error(
                "webhook secret is not configured: every update is refused (run carsbot bot set-webhook)"
            )
            add_metric("WebhookRejected")
            return HttpResponse(401, "unauthorized")
        if given is None or not hmac.compare_digest(given.encode(), expected.encode()):
            logger.warning(
                "webhook request with a missing or wrong secret token", extra={"has_token": bool(given)}
            )
            add_metric("WebhookRejected")
            return HttpResponse(401, "unauthorized")
        if len(body) > MAX_BODY:
            return HttpResponse(413, "too large")
        try:
            raw = json.loads(body)
        except ValueError:
            logger.warning("webhook body is not JSON", extra={"bytes": len(body)})
            return HttpResponse(400, "bad request")
        update_id = raw.get("update_id") if isinstance(raw, dict) else None
        if not isinstance(update_id, int):
            logger.warning("webhook body is not an update")
            return HttpResponse(400, "bad request")
        if not claim_update(update_id):
            logger.info("duplicate update ignored", extra={"update_id": update_id})
            add_metric("WebhookDuplicate")
            return HttpResponse(200, "duplicate")
        await self.feed(raw, update_id)
        return HttpResponse(200, "ok")

    async def feed(self, raw: dict[str, Any], update_id: int) -> None:
        """Feed one raw update; errors are logged (with the update id) and swallowed."""
        from aiogram.types import Update
        from pydantic import ValidationError

        bot = self.bot()
        try:
            update = Update.model_validate(raw, context={"bot": bot})
        except ValidationError as exc:
            logger.warning(
                "unparseable update ignored",
                extra={
                    "update_id": update_id,
                    "errors": exc.errors(include_input=False, include_url=False)[:3],
                },
            )
            return
        try:
            with update_scope():
                await self.dispatcher.feed_update(bot, update)
        except Exception as exc:
            add_metric("BotHandlerErrors")
            logger.exception(
                "update handling failed", extra={"update_id": update_id, "error": type(exc).__name__}
            )
