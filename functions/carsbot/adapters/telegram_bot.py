"""Bot API adapter (aiogram 3) for posting to the news channel.

``ChannelBot`` is a *synchronous* facade over aiogram's async ``Bot``: it owns one event loop and one
HTTP session for its lifetime (a Lambda batch), so the sync pipeline can interleave DynamoDB calls and
Bot API calls. Close it (or use it as a context manager) to close the session and the loop.

Errors are classified for the pipeline (see docs/publishing.md):

* ``RetryableTelegramError`` — 429, 5xx, connection failures: the request was *not* delivered; retry.
  429 ``retry_after`` up to ``max_inline_wait`` seconds is slept through here; longer waits are
  raised with ``retry_after`` so the queue redelivers later.
* ``OutcomeUnknownError`` — a send timed out or the connection dropped after the request was
  written: Telegram may have posted it. Never retried blindly (at-most-once).
* ``PermanentTelegramError`` — 400/401/403/404 and the like ("chat not found", "not enough rights").

aiogram is imported lazily: importing this module (for its error types) costs nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from carsbot.adapters.media import MediaItem
from carsbot.config import Settings, get_settings
from carsbot.observability import logger

if TYPE_CHECKING:
    from aiogram import Bot

T = TypeVar("T")

_CHAT_LEVEL_MARKERS = (
    "chat not found",
    "forbidden",
    "not enough rights",
    "have no rights",
    "need administrator rights",
    "bot was kicked",
    "bot is not a member",
    "chat_write_forbidden",
    "channel_private",
    "unauthorized",
    "migrated",
)
_KIND_MISMATCH_MARKERS = (
    "there is no text in the message",
    "there is no caption in the message",
    "message has no text",
    "no caption",
)


class TelegramError(Exception):
    """A Bot API call failed. ``method`` is the API method, ``description`` Telegram's words."""

    def __init__(self, message: str, *, method: str = "", description: str = "") -> None:
        super().__init__(message)
        self.method = method
        self.description = description or message


class RetryableTelegramError(TelegramError):
    """Not delivered; safe to retry (after ``retry_after`` seconds when Telegram said so)."""

    def __init__(
        self, message: str, *, method: str = "", description: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message, method=method, description=description)
        self.retry_after = retry_after


class OutcomeUnknownError(RetryableTelegramError):
    """The request may or may not have been executed by Telegram (timeout, dropped connection)."""


class PermanentTelegramError(TelegramError):
    """Retrying the same request will fail the same way (bad request, forbidden, not found)."""

    @property
    def chat_level(self) -> bool:
        """The channel itself is unusable (not found, no rights): no other request would succeed."""
        text = self.description.lower()
        return any(marker in text for marker in _CHAT_LEVEL_MARKERS)

    @property
    def kind_mismatch(self) -> bool:
        """An edit used the wrong method (text vs caption) for the message."""
        text = self.description.lower()
        return any(marker in text for marker in _KIND_MISMATCH_MARKERS)


@dataclass(frozen=True)
class SentPost:
    """What Telegram accepted: the message ids (album: every item, caption on the first)."""

    message_ids: list[int]
    kind: Literal["text", "photo", "video", "album"]


def _is_not_modified(description: str) -> bool:
    return "message is not modified" in description.lower()


def _sent_ids(result: Any) -> list[int]:
    if isinstance(result, list):
        return sorted(int(m.message_id) for m in result)
    return [int(result.message_id)]


class ChannelBot:
    """Posts to channels through the Bot API; synchronous, one event loop and session per instance."""

    def __init__(
        self,
        token: str,
        *,
        api_base: str | None = None,
        max_inline_wait: float = 30.0,
        max_attempts: int = 4,
        request_timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from aiogram import Bot
        from aiogram.client.default import DefaultBotProperties
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer
        from aiogram.enums import ParseMode

        if api_base:
            session = AiohttpSession(
                api=TelegramAPIServer.from_base(api_base.rstrip("/")), timeout=request_timeout
            )
        else:
            session = AiohttpSession(timeout=request_timeout)
        self._bot: Bot = Bot(
            token=token,
            session=session,
            default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
        )
        self._loop = asyncio.new_event_loop()
        self._closed = False
        self.max_inline_wait = max_inline_wait
        self.max_attempts = max(1, max_attempts)
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs: Any) -> ChannelBot:
        """A bot with the token from Secrets Manager (JSON ``{"token": ...}`` or the bare token)."""
        from carsbot.adapters.secrets import SecretMissingError, get_secret

        settings = settings or get_settings()
        token = get_secret(settings.bot_token_secret).field("token", "bot_token")
        if not token:
            raise SecretMissingError(f"secret {settings.bot_token_secret!r} has no bot token")
        return cls(token, api_base=settings.bot_api_base, **kwargs)

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._loop.run_until_complete(self._bot.session.close())
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        finally:
            self._loop.close()

    def __enter__(self) -> ChannelBot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ calls

    def _call(self, method: str, factory: Callable[[], Awaitable[T]], *, idempotent: bool = False) -> T:
        """Run one API call with the retry policy; translate aiogram errors into ours."""
        from aiogram.exceptions import (
            ClientDecodeError,
            TelegramAPIError,
            TelegramBadRequest,
            TelegramConflictError,
            TelegramEntityTooLarge,
            TelegramForbiddenError,
            TelegramMigrateToChat,
            TelegramNetworkError,
            TelegramNotFound,
            TelegramRetryAfter,
            TelegramServerError,
            TelegramUnauthorizedError,
        )
        from aiohttp import ClientConnectorError

        if self._closed:
            raise RuntimeError("ChannelBot is closed")
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._loop.run_until_complete(factory())  # type: ignore[arg-type]
            except TelegramRetryAfter as exc:
                retry_after = float(exc.retry_after)
                if attempt < self.max_attempts and waited + retry_after <= self.max_inline_wait:
                    logger.warning(
                        "bot api flood control, waiting",
                        extra={"method": method, "retry_after": retry_after, "attempt": attempt},
                    )
                    self._sleep(retry_after)
                    waited += retry_after
                    continue
                raise RetryableTelegramError(
                    f"{method}: flood control, retry after {retry_after:g} s",
                    method=method,
                    description=exc.message,
                    retry_after=retry_after,
                ) from None
            except (
                TelegramBadRequest,
                TelegramNotFound,
                TelegramForbiddenError,
                TelegramUnauthorizedError,
                TelegramConflictError,
                TelegramMigrateToChat,
                TelegramEntityTooLarge,
            ) as exc:
                description = exc.message
                if isinstance(exc, TelegramForbiddenError) and "forbidden" not in description.lower():
                    description = f"Forbidden: {description}"
                raise PermanentTelegramError(
                    f"{method}: {description}", method=method, description=description
                ) from None
            except (TelegramServerError, TelegramNetworkError, ClientDecodeError) as exc:
                not_sent = isinstance(exc, TelegramServerError) or isinstance(
                    exc.__cause__, ClientConnectorError
                )
                description = getattr(exc, "message", str(exc))
                if not not_sent and not idempotent:
                    raise OutcomeUnknownError(
                        f"{method}: outcome unknown ({description})", method=method, description=description
                    ) from None
                backoff = float(min(2 ** (attempt - 1), 8))
                if attempt < self.max_attempts and waited + backoff <= self.max_inline_wait:
                    logger.warning(
                        "bot api transient error, retrying",
                        extra={"method": method, "error": description, "attempt": attempt},
                    )
                    self._sleep(backoff)
                    waited += backoff
                    continue
                raise RetryableTelegramError(
                    f"{method}: {description}", method=method, description=description
                ) from None
            except TelegramAPIError as exc:  # an unclassified status: assume transient, not delivered
                raise RetryableTelegramError(
                    f"{method}: {exc.message}", method=method, description=exc.message
                ) from None

    def get_me_username(self) -> str:
        me = self._call("getMe", lambda: self._bot.get_me(), idempotent=True)
        return str(me.username or "")

    def send_text(self, chat_id: int | str, html_text: str, *, reply_markup: Any = None) -> SentPost:
        """A text message; ``reply_markup`` is an aiogram markup (e.g. inline buttons) or ``None``."""
        message = self._call(
            "sendMessage",
            lambda: self._bot.send_message(chat_id=chat_id, text=html_text, reply_markup=reply_markup),
        )
        return SentPost(_sent_ids(message), "text")

    def send_media(self, chat_id: int | str, caption_html: str, media: Sequence[MediaItem]) -> SentPost:
        """One photo/video with the caption, or an album (2-10 items) with the caption on the first."""
        from aiogram.types import BufferedInputFile, InputMediaPhoto, InputMediaVideo

        if not media:
            raise ValueError("send_media needs at least one media item")
        items = list(media)[:10]
        if len(items) == 1:
            item = items[0]
            file = BufferedInputFile(item.data, filename=item.filename)
            if item.kind == "video":
                message = self._call(
                    "sendVideo",
                    lambda: self._bot.send_video(
                        chat_id=chat_id, video=file, caption=caption_html, supports_streaming=True
                    ),
                )
                return SentPost(_sent_ids(message), "video")
            message = self._call(
                "sendPhoto", lambda: self._bot.send_photo(chat_id=chat_id, photo=file, caption=caption_html)
            )
            return SentPost(_sent_ids(message), "photo")

        def build() -> list[Any]:
            group: list[Any] = []
            for index, item in enumerate(items):
                file = BufferedInputFile(item.data, filename=item.filename)
                caption = caption_html if index == 0 else None
                if item.kind == "video":
                    group.append(
                        InputMediaVideo(
                            media=file, caption=caption, parse_mode="HTML", supports_streaming=True
                        )
                    )
                else:
                    group.append(InputMediaPhoto(media=file, caption=caption, parse_mode="HTML"))
            return group

        messages = self._call(
            "sendMediaGroup", lambda: self._bot.send_media_group(chat_id=chat_id, media=build())
        )
        return SentPost(_sent_ids(messages), "album")

    def edit_text(self, chat_id: int | str, message_id: int, html_text: str) -> None:
        """Replace a text post's text; "message is not modified" counts as success."""
        try:
            self._call(
                "editMessageText",
                lambda: self._bot.edit_message_text(chat_id=chat_id, message_id=message_id, text=html_text),
                idempotent=True,
            )
        except PermanentTelegramError as exc:
            if not _is_not_modified(exc.description):
                raise

    def edit_caption(self, chat_id: int | str, message_id: int, caption_html: str) -> None:
        """Replace a media post's caption (an album's caption lives on its first message)."""
        try:
            self._call(
                "editMessageCaption",
                lambda: self._bot.edit_message_caption(
                    chat_id=chat_id, message_id=message_id, caption=caption_html
                ),
                idempotent=True,
            )
        except PermanentTelegramError as exc:
            if not _is_not_modified(exc.description):
                raise

    def delete(self, chat_id: int | str, message_ids: Sequence[int]) -> None:
        """Delete messages; ones already gone are ignored."""
        for message_id in message_ids:
            try:
                self._call(
                    "deleteMessage",
                    lambda mid=message_id: self._bot.delete_message(chat_id=chat_id, message_id=mid),  # type: ignore[misc]
                    idempotent=True,
                )
            except PermanentTelegramError as exc:
                if "not found" not in exc.description.lower():
                    raise
