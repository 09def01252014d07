"""Per-update middlewares: the user record and the admin flag.

``UserRecordMiddleware`` puts the sender's stored record into the handler data (``user_record``),
creating it on first contact (``carsbot.bot.accounts.ensure_user``: one read, a write only when
something changed). Within a webhook update the read is usually done already: the FSM storage took
the record in the same request as the dialog state (``carsbot.bot.update_scope``), and it is reused
here. ``AdminMiddleware`` sets ``is_admin`` from the configured admin ids; the admin router's
``IsAdmin`` filter reads it, so for everyone else admin commands fall through to the generic "unknown
command" answer and nothing hints that they exist.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.filters import Filter
from aiogram.types import TelegramObject, Update

from carsbot.bot import update_scope
from carsbot.bot.accounts import TelegramUser, ensure_user

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class UserRecordMiddleware(BaseMiddleware):
    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user = data.get("event_from_user")
        chat = data.get("event_chat")
        private = chat is None or getattr(chat, "type", "private") == "private"
        if user is not None and not user.is_bot and private and not _is_block_event(event):
            known, record = update_scope.recall(update_scope.USER, int(user.id))
            already_read = {"record": record} if known else {}
            data["user_record"] = ensure_user(TelegramUser.of(user), data["clock"](), **already_read)
        else:
            data["user_record"] = None
        return await handler(event, data)


def _is_block_event(event: TelegramObject) -> bool:
    """A ``my_chat_member`` update: the chat-member router records the block/unblock itself."""
    return isinstance(event, Update) and event.my_chat_member is not None


class AdminMiddleware(BaseMiddleware):
    def __init__(self, admin_ids: set[int]) -> None:
        self.admin_ids = admin_ids

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user = data.get("event_from_user")
        data["is_admin"] = user is not None and int(user.id) in self.admin_ids
        return await handler(event, data)


class IsAdmin(Filter):
    async def __call__(self, event: TelegramObject, is_admin: bool = False, **_data: Any) -> bool:
        return is_admin
