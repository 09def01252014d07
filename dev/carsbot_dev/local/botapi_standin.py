"""A local Telegram Bot API stand-in for the demo and the tests.

An aiohttp server on ``127.0.0.1:<free port>`` in a background thread that answers
``/bot<token>/<method>`` like Telegram does for the methods the publisher uses (getMe, sendMessage,
sendPhoto, sendVideo, sendMediaGroup, editMessageText, editMessageCaption, deleteMessage), with
multipart uploads. Point aiogram at it with ``TelegramAPIServer.from_base(standin.base_url)``
(``CARSBOT_BOT_API_BASE``).

It checks what Telegram checks and the publisher could get wrong: the HTML parse mode (unknown or
unbalanced tags -> 400 "can't parse entities"), the 4096/1024 length limits on the visible text,
unknown chats when ``known_chats`` is set, and optionally the 20 messages a minute per channel limit
(429 with ``retry_after``). It records every call and can inject failures (429, 400, 500...).

    with BotApiStandin() as api:
        ...  # CARSBOT_BOT_API_BASE=api.base_url
        print(api.render_feed())
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import re
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

from carsbot_dev.local.http_standin import BackgroundHttpServer

SEND_METHODS = ("sendmessage", "sendphoto", "sendvideo", "sendmediagroup")
_ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "span",
    "tg-spoiler",
    "tg-emoji",
    "blockquote",
}
_TAG = re.compile(r"<[^>]*>")


class ParseEntitiesError(ValueError):
    pass


class _TelegramHtmlChecker(HTMLParser):
    """Telegram's HTML parse mode: a small tag set, properly nested."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ALLOWED_TAGS:
            raise ParseEntitiesError(f'Unsupported start tag "{tag}"')
        if tag == "a" and not any(name == "href" and value for name, value in attrs):
            raise ParseEntitiesError("Can't find end of the entity: missing href")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise ParseEntitiesError(f'Unmatched end tag "{tag}"')
        self.stack.pop()

    def check(self, text: str) -> None:
        self.feed(text)
        self.close()
        if self.stack:
            raise ParseEntitiesError(f'Can\'t find end tag corresponding to start tag "{self.stack[-1]}"')


def check_html(text: str) -> None:
    """Raise ``ParseEntitiesError`` when Telegram would reject ``text`` in HTML parse mode."""
    if re.search(r"<(?![a-zA-Z/])", text):
        raise ParseEntitiesError("Unexpected character '<'")
    _TelegramHtmlChecker().check(text)


def strip_html(text: str) -> str:
    return html.unescape(_TAG.sub("", text))


_LINK = re.compile(r'<a\s+href="([^"]*)"\s*>(.*?)</a>', re.DOTALL)


def _show_links(text: str) -> str:
    """``<a href="X">Y</a>`` -> ``Y → X`` (the feed is plain terminal text)."""
    return _LINK.sub(lambda m: f"{m.group(2)} → {html.unescape(m.group(1))}", text)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class RecordedCall:
    """One request the stand-in received (also the failed ones)."""

    method: str  # as the client spelled it, e.g. "sendMessage"
    params: dict[str, Any]  # form/JSON fields; JSON-looking values decoded
    files: dict[str, tuple[str, int]]  # field -> (filename, size in bytes)
    token: str
    status: int = 200
    at: float = field(default_factory=time.time)
    clock_at: float = 0.0  # the stand-in's clock (a test's simulated clock) when the call arrived

    @property
    def text(self) -> str:
        """The HTML text or caption(s) this call carried."""
        parts = [str(self.params.get("text") or ""), str(self.params.get("caption") or "")]
        media = self.params.get("media")
        if isinstance(media, list):
            parts += [str(item.get("caption") or "") for item in media if isinstance(item, dict)]
        return "\n".join(p for p in parts if p)


@dataclass
class _Failure:
    status: int
    description: str
    retry_after: int | None
    method: str | None
    times: int


@dataclass
class StoredMessage:
    chat_id: int
    message_id: int
    kind: str  # text | photo | video
    html: str
    date: int
    media_group_id: str | None = None
    edited: bool = False
    deleted: bool = False


class BotApiStandin(BackgroundHttpServer):
    """The stand-in server. Thread-safe recording; use as a context manager."""

    thread_name = "botapi-standin"
    client_max_size = 200 * 1024 * 1024

    def __init__(
        self,
        *,
        bot_username: str = "carsbot_demo_bot",
        token: str | None = None,
        known_chats: Iterable[str | int] | None = None,
        enforce_rate_limit: bool = False,
        per_chat_per_minute: int = 20,
        clock: Callable[[], float] = time.monotonic,
        global_per_second: int | None = None,
    ) -> None:
        super().__init__()
        self.global_per_second = global_per_second  # a bot's ~30 messages a second overall (429 beyond)
        self._sent_overall: deque[float] = deque()
        self.bot_username = bot_username
        self.token = token
        self.known_chats = {str(c) for c in known_chats} if known_chats is not None else None
        self.enforce_rate_limit = enforce_rate_limit
        self.per_chat_per_minute = per_chat_per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self.calls: list[RecordedCall] = []
        self.messages: dict[int, dict[int, StoredMessage]] = {}
        self._next_id: dict[int, int] = {}
        self._chat_titles: dict[int, dict[str, Any]] = {}
        self._failures: list[_Failure] = []
        self._stalls: list[tuple[str | None, float]] = []
        self._sent_at: dict[int, deque[float]] = {}
        self._group_seq = 0
        # ---- bot (private chats, webhook, commands, callbacks, invoices; see docs/bot.md)
        self.blocked_chats: set[int] = set()  # users who blocked the bot: sends answer 403
        self.webhook: dict[str, Any] = {}  # what setWebhook stored (getWebhookInfo answers from it)
        self.pending_updates: deque[dict[str, Any]] = deque()  # served by getUpdates (long polling)
        self._next_update_id = 1

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        return self.root_url

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._handle)

    # ------------------------------------------------------------------ test controls

    def fail_next(
        self,
        status: int = 429,
        *,
        description: str | None = None,
        retry_after: int | None = None,
        method: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls (of ``method``, any when None) with an error."""
        if description is None:
            description = {
                429: f"Too Many Requests: retry after {retry_after or 1}",
                400: "Bad Request: chat not found",
                403: "Forbidden: bot is not a member of the channel chat",
                500: "Internal Server Error",
            }.get(status, "Error")
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._lock:
            self._failures.append(
                _Failure(status, description, retry_after, method.lower() if method else None, times)
            )

    def stall_next(self, seconds: float, *, method: str | None = None) -> None:
        """Execute the next call (of ``method``) but answer only after ``seconds``: a lost response."""
        with self._lock:
            self._stalls.append((method.lower() if method else None, seconds))

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self._stalls.clear()
            self.messages.clear()
            self._next_id.clear()
            self._failures.clear()
            self._sent_at.clear()

    def calls_of(self, *methods: str) -> list[RecordedCall]:
        wanted = {m.lower() for m in methods}
        with self._lock:
            return [c for c in self.calls if not wanted or c.method.lower() in wanted]

    def sent_calls(self) -> list[RecordedCall]:
        """Successful send* calls (what reached the channel)."""
        with self._lock:
            return [c for c in self.calls if c.method.lower() in SEND_METHODS and c.status == 200]

    def chat_messages(self, chat: int | str | None = None) -> list[StoredMessage]:
        with self._lock:
            chats = list(self.messages) if chat is None else [self._chat_id(chat)]
            return [m for cid in chats for m in sorted(self.messages.get(cid, {}).values(), key=_mid)]

    # ------------------------------------------------------------------ feed

    def render_feed(self, chat: int | str | None = None, *, width: int = 72) -> str:
        """The channel feed as terminal text: one block per post (albums grouped), tags stripped."""
        out: list[str] = []
        with self._lock:
            chat_ids = [self._chat_id(chat)] if chat is not None else sorted(self.messages)
            for cid in chat_ids:
                info = self._chat_titles.get(cid, {"title": str(cid)})
                name = f"@{info['username']}" if info.get("username") else info.get("title", str(cid))
                msgs = sorted(self.messages.get(cid, {}).values(), key=_mid)
                posts = _group_posts(msgs)
                out.append(f"══ channel {name} · {len(posts)} posts ".ljust(width, "═"))
                for group in posts:
                    first = group[0]
                    if len(group) > 1:
                        kinds = {m.kind for m in group}
                        what = f"album of {len(group)} {'/'.join(sorted(k + 's' for k in kinds))}"
                        ids = f"#{group[0].message_id}-{group[-1].message_id}"
                    else:
                        what = first.kind
                        ids = f"#{first.message_id}"
                    flags = (" · edited" if any(m.edited for m in group) else "") + (
                        " · deleted" if all(m.deleted for m in group) else ""
                    )
                    out.append(f"── {ids} [{what}]{flags} ".ljust(width, "─"))
                    caption = next((m.html for m in group if m.html), "")
                    for line in strip_html(_show_links(caption)).splitlines():
                        out.append(f"  {line}")
            if not chat_ids:
                out.append("(no posts)")
        return "\n".join(out)

    # ------------------------------------------------------------------ server

    def _chat_id(self, chat: int | str) -> int:
        text = str(chat).strip()
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        name = text.lstrip("@")
        return -1_000_000_000_000 - zlib.crc32(name.lower().encode())

    def _chat_obj(self, chat: str) -> dict[str, Any]:
        cid = self._chat_id(chat)
        if cid > 0:  # a user's private chat with the bot
            return {"id": cid, "type": "private", "first_name": f"User {cid}"}
        if cid not in self._chat_titles:
            text = str(chat).strip()
            if text.startswith("@"):
                self._chat_titles[cid] = {"title": text[1:], "username": text[1:]}
            else:
                self._chat_titles[cid] = {"title": f"Channel {cid}"}
        info = self._chat_titles[cid]
        obj: dict[str, Any] = {"id": cid, "type": "channel", "title": info["title"]}
        if info.get("username"):
            obj["username"] = info["username"]
        return obj

    async def _parse(self, request: web.Request) -> tuple[dict[str, Any], dict[str, tuple[str, int]]]:
        params: dict[str, Any] = dict(request.query)
        files: dict[str, tuple[str, int]] = {}
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        elif request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    data = value.file.read()
                    files[key] = (value.filename, len(data))
                else:
                    params[key] = value
        for key, value in list(params.items()):
            if isinstance(value, str) and value[:1] in "[{":
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(value)
        return params, files

    async def _handle(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"]
        params, files = await self._parse(request)
        call = RecordedCall(method=method, params=params, files=files, token=token, clock_at=self._clock())
        with self._lock:
            self.calls.append(call)
            status, payload = self._answer(call)
            call.status = status
            stall = self._take_stall(method.lower())
        if stall:  # executed, but the answer comes too late (a lost response)
            await asyncio.sleep(stall)
        if method.lower() == "getupdates" and payload.get("result") == [] and call.params.get("timeout"):
            await asyncio.sleep(min(float(call.params["timeout"]), 0.2))  # a (short) long poll
        return web.json_response(payload, status=status)

    def _take_stall(self, method: str) -> float:
        for index, (wanted, seconds) in enumerate(self._stalls):
            if wanted is None or wanted == method:
                del self._stalls[index]
                return seconds
        return 0.0

    def _error(self, status: int, description: str, retry_after: int | None = None) -> tuple[int, dict]:
        payload: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            payload["parameters"] = {"retry_after": retry_after}
        return status, payload

    def _answer(self, call: RecordedCall) -> tuple[int, dict]:
        method = call.method.lower()
        if self.token is not None and call.token != self.token:
            return self._error(401, "Unauthorized")
        for failure in self._failures:
            if failure.times > 0 and (failure.method is None or failure.method == method):
                failure.times -= 1
                self._failures = [f for f in self._failures if f.times > 0]
                return self._error(failure.status, failure.description, failure.retry_after)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._error(404, "Not Found: method not found")
        if method not in _NO_CHAT_METHODS:
            chat = call.params.get("chat_id")
            if chat in (None, ""):
                return self._error(400, "Bad Request: chat_id is empty")
            if self.known_chats is not None and str(chat) not in self.known_chats:
                return self._error(400, "Bad Request: chat not found")
        try:
            return 200, {"ok": True, "result": handler(call)}
        except _ApiError as exc:
            return self._error(exc.status, exc.description, exc.retry_after)

    # ----- rate limit and message creation

    def _take_slots(self, cid: int, count: int) -> None:
        if not self.enforce_rate_limit:
            return
        now = self._clock()
        sent = self._sent_at.setdefault(cid, deque())
        while sent and now - sent[0] >= 60:
            sent.popleft()
        if len(sent) + count > self.per_chat_per_minute:
            oldest = sent[len(sent) + count - self.per_chat_per_minute - 1] if sent else now
            wait = max(1, int(60 - (now - oldest)) + 1)
            raise _ApiError(429, f"Too Many Requests: retry after {wait}", wait)
        sent.extend([now] * count)

    def _new_message(
        self, call: RecordedCall, kind: str, html_text: str, group: str | None = None
    ) -> dict[str, Any]:
        chat = self._chat_obj(str(call.params["chat_id"]))
        cid = chat["id"]
        mid = self._next_id.get(cid, 0) + 1
        self._next_id[cid] = mid
        stored = StoredMessage(cid, mid, kind, html_text, int(time.time()), group)
        self.messages.setdefault(cid, {})[mid] = stored
        return self._message_obj(stored)

    def _message_obj(self, m: StoredMessage) -> dict[str, Any]:
        chat = self._chat_obj(str(m.chat_id))
        obj: dict[str, Any] = {"message_id": m.message_id, "date": m.date, "chat": chat, "sender_chat": chat}
        plain = strip_html(m.html)
        if m.kind == "text":
            obj["text"] = plain
        else:
            if plain:
                obj["caption"] = plain
            uid = f"{m.chat_id}_{m.message_id}"
            if m.kind == "photo":
                obj["photo"] = [
                    {"file_id": f"photo-{uid}", "file_unique_id": f"p{uid}", "width": 1280, "height": 960}
                ]
            else:
                obj["video"] = {
                    "file_id": f"video-{uid}",
                    "file_unique_id": f"v{uid}",
                    "width": 1280,
                    "height": 720,
                    "duration": 10,
                }
        if m.media_group_id:
            obj["media_group_id"] = m.media_group_id
        if m.edited:
            obj["edit_date"] = int(time.time())
        return obj

    def _checked(self, text: Any, *, limit: int, what: str, parse_mode: Any) -> str:
        text = "" if text is None else str(text)
        if parse_mode and str(parse_mode).upper() == "HTML":
            try:
                check_html(text)
            except ParseEntitiesError as exc:
                raise _ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
            visible = strip_html(text)
        else:
            visible = text
        if _utf16_len(visible) > limit:
            raise _ApiError(400, f"Bad Request: {what} is too long")
        return text

    def _find(self, call: RecordedCall) -> StoredMessage:
        cid = self._chat_id(str(call.params["chat_id"]))
        try:
            mid = int(call.params.get("message_id") or 0)
        except (TypeError, ValueError):
            mid = 0
        message = self.messages.get(cid, {}).get(mid)
        if message is None or message.deleted:
            raise _ApiError(400, "Bad Request: message to edit not found")
        return message

    # ----- methods

    def _m_getme(self, call: RecordedCall) -> dict[str, Any]:
        bot_id = int(call.token.split(":", 1)[0]) if call.token.split(":", 1)[0].isdigit() else 1
        return {"id": bot_id, "is_bot": True, "first_name": "carsbot", "username": self.bot_username}

    def _m_sendmessage(self, call: RecordedCall) -> dict[str, Any]:
        self._check_not_blocked(call)
        self._take_overall()
        text = self._checked(
            call.params.get("text"), limit=4096, what="message", parse_mode=call.params.get("parse_mode")
        )
        if not strip_html(text).strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        self._take_slots(self._chat_id(str(call.params["chat_id"])), 1)
        return self._new_message(call, "text", text)

    def _send_media(self, call: RecordedCall, kind: str) -> dict[str, Any]:
        ref = call.params.get(kind)
        attached = isinstance(ref, str) and ref.startswith("attach://") and ref[9:] in call.files
        if not attached and kind not in call.files:
            raise _ApiError(400, f"Bad Request: there is no {kind} in the request")
        caption = self._checked(
            call.params.get("caption"),
            limit=1024,
            what="message caption",
            parse_mode=call.params.get("parse_mode"),
        )
        self._take_slots(self._chat_id(str(call.params["chat_id"])), 1)
        return self._new_message(call, kind, caption)

    def _m_sendphoto(self, call: RecordedCall) -> dict[str, Any]:
        return self._send_media(call, "photo")

    def _m_sendvideo(self, call: RecordedCall) -> dict[str, Any]:
        return self._send_media(call, "video")

    def _m_sendmediagroup(self, call: RecordedCall) -> list[dict[str, Any]]:
        media = call.params.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise _ApiError(400, "Bad Request: wrong number of media items (2-10)")
        captions = []
        for item in media:
            if not isinstance(item, dict) or item.get("type") not in ("photo", "video"):
                raise _ApiError(400, "Bad Request: unsupported media type")
            ref = str(item.get("media") or "")
            if ref.startswith("attach://") and ref[9:] not in call.files:
                raise _ApiError(400, "Bad Request: media not found in the request")
            captions.append(
                self._checked(
                    item.get("caption"), limit=1024, what="message caption", parse_mode=item.get("parse_mode")
                )
            )
        self._take_slots(self._chat_id(str(call.params["chat_id"])), len(media))
        self._group_seq += 1
        group = f"{int(time.time())}{self._group_seq:06d}"
        return [
            self._new_message(call, item["type"], caption, group)
            for item, caption in zip(media, captions, strict=True)
        ]

    def _m_editmessagetext(self, call: RecordedCall) -> dict[str, Any]:
        message = self._find(call)
        if message.kind != "text":
            raise _ApiError(400, "Bad Request: there is no text in the message to edit")
        text = self._checked(
            call.params.get("text"), limit=4096, what="message", parse_mode=call.params.get("parse_mode")
        )
        if text == message.html:
            raise _ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply markup "
                "are exactly the same as a current content and reply markup of the message",
            )
        message.html, message.edited = text, True
        return self._message_obj(message)

    def _m_editmessagecaption(self, call: RecordedCall) -> dict[str, Any]:
        message = self._find(call)
        if message.kind == "text":
            raise _ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption = self._checked(
            call.params.get("caption"),
            limit=1024,
            what="message caption",
            parse_mode=call.params.get("parse_mode"),
        )
        if caption == message.html:
            raise _ApiError(400, "Bad Request: message is not modified")
        message.html, message.edited = caption, True
        return self._message_obj(message)

    def _m_deletemessage(self, call: RecordedCall) -> bool:
        try:
            message = self._find(call)
        except _ApiError:
            raise _ApiError(400, "Bad Request: message to delete not found") from None
        message.deleted = True
        return True

    # ----- bot methods (private chats, callbacks, webhook, long polling, invoices)

    def _take_overall(self) -> None:
        if not self.global_per_second:
            return
        now = self._clock()
        while self._sent_overall and now - self._sent_overall[0] >= 1.0:
            self._sent_overall.popleft()
        if len(self._sent_overall) >= self.global_per_second:
            raise _ApiError(429, "Too Many Requests: retry after 1", 1)
        self._sent_overall.append(now)

    def _check_not_blocked(self, call: RecordedCall) -> None:
        chat = str(call.params.get("chat_id"))
        if re.fullmatch(r"\d+", chat) and int(chat) in self.blocked_chats:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")

    def _m_answercallbackquery(self, call: RecordedCall) -> bool:
        if not call.params.get("callback_query_id"):
            raise _ApiError(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        return True

    def _m_sendinvoice(self, call: RecordedCall) -> dict[str, Any]:
        self._check_not_blocked(call)
        if call.params.get("currency") != "XTR" or not call.params.get("prices"):
            raise _ApiError(400, "Bad Request: currency and prices are required")
        return self._new_message(call, "text", str(call.params.get("title") or ""))

    # ---- payments: Stars checkout answers and refunds (carsbot.bot.routers.payments)
    def _m_answerprecheckoutquery(self, call: RecordedCall) -> bool:
        if not call.params.get("pre_checkout_query_id"):
            raise _ApiError(400, "Bad Request: QUERY_ID_INVALID")
        ok = str(call.params.get("ok")).lower() == "true"
        if not ok and not call.params.get("error_message"):
            raise _ApiError(400, "Bad Request: ERROR_MESSAGE_EMPTY")
        return True

    def _m_refundstarpayment(self, call: RecordedCall) -> bool:
        if not call.params.get("user_id") or not call.params.get("telegram_payment_charge_id"):
            raise _ApiError(400, "Bad Request: CHARGE_ID_EMPTY")
        return True

    def _m_setwebhook(self, call: RecordedCall) -> bool:
        url = str(call.params.get("url") or "")
        token = str(call.params.get("secret_token") or "")
        if token and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", token):
            raise _ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = {
            "url": url,
            "secret_token": token,
            "allowed_updates": call.params.get("allowed_updates"),
        }
        if str(call.params.get("drop_pending_updates")).lower() == "true":
            self.pending_updates.clear()
        return True

    def _m_deletewebhook(self, call: RecordedCall) -> bool:
        self.webhook = {}
        if str(call.params.get("drop_pending_updates")).lower() == "true":
            self.pending_updates.clear()
        return True

    def _m_getwebhookinfo(self, call: RecordedCall) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self.pending_updates),
        }
        if self.webhook.get("allowed_updates"):
            info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    def _m_getupdates(self, call: RecordedCall) -> list[dict[str, Any]]:
        if self.webhook.get("url"):
            raise _ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(call.params.get("offset") or 0)
        while self.pending_updates and int(self.pending_updates[0]["update_id"]) < offset:
            self.pending_updates.popleft()
        return list(self.pending_updates)[: int(call.params.get("limit") or 100)]

    def _m_setmycommands(self, call: RecordedCall) -> bool:
        return True

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update for ``getUpdates`` (long polling); returns its update id."""
        with self._lock:
            update = {**update, "update_id": update.get("update_id") or self._next_update_id}
            self._next_update_id = int(update["update_id"]) + 1
            self.pending_updates.append(update)
            return int(update["update_id"])

    def private_messages(self, chat_id: int) -> list[StoredMessage]:
        """What the bot sent to one user, in order."""
        with self._lock:
            return sorted(self.messages.get(int(chat_id), {}).values(), key=_mid)


_NO_CHAT_METHODS = {
    "getme",
    "answercallbackquery",
    "answerprecheckoutquery",
    "refundstarpayment",
    "setwebhook",
    "deletewebhook",
    "getwebhookinfo",
    "getupdates",
    "setmycommands",
    "deletemycommands",
    "getmycommands",
    "logout",
    "close",
}


class _ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


def _mid(message: StoredMessage) -> int:
    return message.message_id


def _group_posts(messages: list[StoredMessage]) -> list[list[StoredMessage]]:
    posts: list[list[StoredMessage]] = []
    for message in messages:
        if posts and message.media_group_id and posts[-1][0].media_group_id == message.media_group_id:
            posts[-1].append(message)
        else:
            posts.append([message])
    return posts
