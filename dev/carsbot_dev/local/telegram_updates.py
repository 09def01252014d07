"""Telegram updates as Telegram sends them, and API Gateway events as HTTP API delivers them.

``UpdateFactory`` builds update JSON (messages, commands, button presses, block/unblock) with increasing
``update_id``s; ``http_api_event`` wraps one in the HTTP API (payload 2.0) event the bot function
receives. ``ChatSession`` plays one user against a webhook callable and reads the bot's answers back from
the Bot API stand-in — used by the tests and by the demo's scripted journey.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from carsbot_dev.local.botapi_standin import BotApiStandin, RecordedCall, strip_html

SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 - a header name


def http_api_event(
    update: dict[str, Any], secret: str | None, *, source_ip: str = "149.154.167.220"
) -> dict[str, Any]:
    """The API Gateway HTTP API (payload format 2.0) event for ``POST /telegram`` with this body."""
    headers = {"content-type": "application/json", "user-agent": "TelegramBot (like TwitterBot)"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    return {
        "version": "2.0",
        "routeKey": "POST /telegram",
        "rawPath": "/telegram",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "http": {"method": "POST", "path": "/telegram", "protocol": "HTTP/1.1", "sourceIp": source_ip},
            "requestId": f"local-{time.monotonic_ns()}",
            "routeKey": "POST /telegram",
            "stage": "$default",
        },
        "body": json.dumps(update, ensure_ascii=False),
        "isBase64Encoded": False,
    }


@dataclass
class UpdateFactory:
    """Update JSON for one bot; ids increase across everything it builds."""

    start_id: int = 1
    _ids: Iterator[int] = field(init=False, repr=False)
    _message_ids: Iterator[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._ids = itertools.count(self.start_id)
        self._message_ids = itertools.count(1)

    @staticmethod
    def user(
        user_id: int, *, username: str | None = None, first_name: str = "Иван", language: str = "ru"
    ) -> dict[str, Any]:
        user: dict[str, Any] = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language,
        }
        if username:
            user["username"] = username
        return user

    def _message(self, user: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            **content,
        }

    def text(self, user: dict[str, Any], text: str) -> dict[str, Any]:
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return {"update_id": next(self._ids), "message": self._message(user, **content)}

    def edited(self, user: dict[str, Any], text: str) -> dict[str, Any]:
        message = self._message(user, text=text)
        message["edit_date"] = int(time.time())
        return {"update_id": next(self._ids), "edited_message": message}

    def sticker(self, user: dict[str, Any]) -> dict[str, Any]:
        sticker = {
            "file_id": "CAACAgIAAxkBAAEC", "file_unique_id": "AgADAQAD", "type": "regular",
            "width": 512, "height": 512, "is_animated": False, "is_video": False,
        }  # fmt: skip
        return {"update_id": next(self._ids), "message": self._message(user, sticker=sticker)}

    def press(self, user: dict[str, Any], data: str, *, message_id: int = 1) -> dict[str, Any]:
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        message = {"message_id": message_id, "date": int(time.time()), "chat": chat, "text": "…"}
        query = {
            "id": str(next(self._ids) * 7919),
            "from": user,
            "chat_instance": "1",
            "data": data,
            "message": message,
        }
        return {"update_id": next(self._ids), "callback_query": query}

    def member_status(self, user: dict[str, Any], new: str, old: str = "member") -> dict[str, Any]:
        """``my_chat_member``: the user blocked (``kicked``) or unblocked (``member``) the bot."""
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        bot = {"id": 123456, "is_bot": True, "first_name": "carsbot", "username": "carsbot_demo_bot"}
        return {
            "update_id": next(self._ids),
            "my_chat_member": {
                "chat": chat,
                "from": user,
                "date": int(time.time()),
                "old_chat_member": {
                    "status": old,
                    "user": bot,
                    **({"until_date": 0} if old == "kicked" else {}),
                },
                "new_chat_member": {
                    "status": new,
                    "user": bot,
                    **({"until_date": 0} if new == "kicked" else {}),
                },
            },
        }

    def channel_post(self, text: str) -> dict[str, Any]:
        chat = {"id": -1001234567890, "type": "channel", "title": "news"}
        post = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat, "text": text}
        return {"update_id": next(self._ids), "channel_post": post}


@dataclass
class Reply:
    """One message the bot sent (its visible text, and the buttons as ``(text, url or callback)``)."""

    text: str
    buttons: list[tuple[str, str]]
    call: RecordedCall

    def button(self, label_part: str) -> str:
        """The URL or callback data of the first button whose text contains ``label_part``."""
        for text, target in self.buttons:
            if label_part in text:
                return target
        raise LookupError(f"no button with {label_part!r} in {self.buttons}")


def _buttons(call: RecordedCall) -> list[tuple[str, str]]:
    markup = call.params.get("reply_markup")
    if isinstance(markup, str):
        markup = json.loads(markup)
    found: list[tuple[str, str]] = []
    if isinstance(markup, dict):
        for row in markup.get("inline_keyboard", []):
            for button in row:
                found.append((button.get("text", ""), button.get("url") or button.get("callback_data") or ""))
        for row in markup.get("keyboard", []):
            for button in row:
                found.append((button.get("text", "") if isinstance(button, dict) else str(button), ""))
    return found


class ChatSession:
    """One user talking to the bot through ``deliver(update) -> HTTP response``."""

    def __init__(
        self,
        api: BotApiStandin,
        deliver: Callable[[dict[str, Any]], dict[str, Any]],
        updates: UpdateFactory,
        user_id: int,
        *,
        username: str | None = None,
        first_name: str = "Иван",
        language: str = "ru",
    ) -> None:
        self.api = api
        self.deliver = deliver
        self.updates = updates
        self.user = UpdateFactory.user(user_id, username=username, first_name=first_name, language=language)

    @property
    def user_id(self) -> int:
        return int(self.user["id"])

    def _calls(self) -> list[RecordedCall]:
        return [
            c
            for c in self.api.calls_of("sendMessage", "sendInvoice")
            if str(c.params.get("chat_id")) == str(self.user_id) and c.status == 200
        ]

    def _run(self, update: dict[str, Any]) -> list[Reply]:
        before = len(self._calls())
        response = self.deliver(update)
        if int(response.get("statusCode", 0)) != 200:
            raise AssertionError(f"webhook answered {response}")
        return [
            Reply(strip_html(str(c.params.get("text") or c.params.get("title") or "")), _buttons(c), c)
            for c in self._calls()[before:]
        ]

    def send(self, text: str) -> list[Reply]:
        return self._run(self.updates.text(self.user, text))

    def press(self, data: str) -> list[Reply]:
        return self._run(self.updates.press(self.user, data))

    def run(self, update: dict[str, Any]) -> list[Reply]:
        return self._run(update)
