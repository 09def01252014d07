"""A local OpenAI-compatible chat-completions server for the demo, the benchmark and tests.

It answers ``POST /v1/chat/completions`` with structured output the way OpenAI does for
``response_format={"type": "json_schema", ...}``: the assistant message content is a JSON object with
exactly the schema's properties. The values come from the rules engine's extraction of the post text
found in the user message, plus a plain Russian description built only from those facts, so the answer
is deterministic and never invents anything (unless told to, see :meth:`Reply.hallucinated`).
``usage`` is computed from the request size (about four characters per token).

Every request is recorded. Failures are scripted with a queue of :class:`Reply` objects (consumed one per
request) and an optional default reply used when the queue is empty (persistent failures)::

    with OpenAIStandIn() as server:
        server.enqueue(Reply.rate_limited(retry_after="1"), Reply.server_error())
        client = OpenAI(base_url=server.base_url, api_key="sk-test")
        ...
        assert len(server.requests) == 3

The server runs its own asyncio loop in a daemon thread, bound to ``127.0.0.1`` on a free port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from carsbot.adapters.llm_openai import LlmListing, post_text_from_prompt
from carsbot.core.contracts import ListingFields
from carsbot_dev.local.http_standin import BackgroundHttpServer

CHARS_PER_TOKEN = 4
HALLUCINATED_PHONE = "+7 999 000-11-22"

_TRANSMISSION_RU = {"automatic": "автомат", "manual": "механика", "robot": "робот", "variator": "вариатор"}
_DRIVE_RU = {"fwd": "передний", "rwd": "задний", "awd": "полный"}


@dataclass(frozen=True)
class Reply:
    """One scripted answer of the stand-in.

    ``status`` other than 200 returns an OpenAI-style error body; ``delay`` waits before answering (use it
    with a short client timeout to simulate timeouts); ``content`` replaces the assistant content
    verbatim (e.g. invalid JSON); ``hallucinate_phone`` / ``hallucinate_price`` add a contact / price the
    post does not contain to an otherwise normal answer.
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content: str | None = None
    hallucinate_phone: str | None = None
    hallucinate_price: int | None = None

    @classmethod
    def ok(cls) -> Reply:
        return cls()

    @classmethod
    def rate_limited(cls, retry_after: str | None = "1", *, retry_after_ms: str | None = None) -> Reply:
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["retry-after"] = retry_after
        if retry_after_ms is not None:
            headers["retry-after-ms"] = retry_after_ms
        return cls(status=429, headers=headers)

    @classmethod
    def server_error(cls, status: int = 500) -> Reply:
        return cls(status=status)

    @classmethod
    def slow(cls, delay: float) -> Reply:
        return cls(delay=delay)

    @classmethod
    def malformed(cls) -> Reply:
        return cls(content='{"is_car_sale": tru')

    @classmethod
    def hallucinated(cls, phone: str | None = HALLUCINATED_PHONE, price: int | None = None) -> Reply:
        return cls(hallucinate_phone=phone, hallucinate_price=price)


@dataclass(frozen=True)
class RecordedRequest:
    """What the stand-in received (and how it answered)."""

    path: str
    model: str | None
    post_text: str | None
    status: int
    authorized: bool
    structured: bool  # response_format was a strict json_schema
    prompt_tokens: int
    completion_tokens: int
    received_at: float
    delay: float = 0.0  # scripted delay before the answer (the client may have timed out)
    body: dict[str, Any] = field(repr=False, default_factory=dict)


def _default_extractor(text: str) -> ListingFields:
    from carsbot.core.extraction.rules import extract_rules

    return extract_rules(text)


def _tokens(chars: int) -> int:
    return max(1, math.ceil(chars / CHARS_PER_TOKEN))


def _money(value: int) -> str:
    return f"{value:,}".replace(",", " ")


def describe(fields: ListingFields) -> str | None:
    """A plain Russian description made only of the extracted facts (``None`` for non-sales)."""
    if not fields.is_car_sale:
        return None
    title = " ".join(part for part in (fields.brand, fields.model) if part) or "автомобиль"
    sentences = [f"Продаётся {title}" + (f" {fields.year} года выпуска" if fields.year else "") + "."]
    if fields.mileage is not None:
        sentences.append(f"Пробег {_money(fields.mileage)} км.")
    technical = []
    if fields.engine_volume:
        technical.append(f"двигатель {fields.engine_volume:g} л")
    if fields.transmission:
        technical.append(f"коробка передач {_TRANSMISSION_RU[fields.transmission]}")
    if fields.drive:
        technical.append(f"{_DRIVE_RU[fields.drive]} привод")
    if technical:
        sentences.append(("; ".join(technical) + ".").capitalize())
    if fields.owners_count is not None:
        sentences.append(f"Владельцев по ПТС: {fields.owners_count}.")
    if fields.autoteka:
        sentences.append(f"История: {fields.autoteka}.")
    if fields.equipment:
        sentences.append("В комплектации: " + ", ".join(fields.equipment) + ".")
    if fields.city:
        sentences.append(f"Город: {fields.city}.")
    if fields.price:
        price = f"Цена {_money(fields.price)} ₽"
        if fields.market_price:
            price += f", рыночная цена по словам продавца {_money(fields.market_price)} ₽"
        sentences.append(price + ".")
    return " ".join(sentences)


def build_answer(
    fields: ListingFields, properties: list[str] | None = None, reply: Reply | None = None
) -> dict[str, Any]:
    """The structured-output object for ``fields`` with exactly ``properties`` (default: LlmListing's)."""
    values: dict[str, Any] = fields.model_dump(mode="json")
    values["reason"] = "car sale" if fields.is_car_sale else (fields.reason or "not a car sale")
    values["description"] = describe(fields)
    if reply is not None and reply.hallucinate_phone:
        values["phones"] = [*values.get("phones", []), reply.hallucinate_phone]
    if reply is not None and reply.hallucinate_price:
        values["price"] = reply.hallucinate_price
    names = properties or list(LlmListing.model_fields)
    answer: dict[str, Any] = {}
    for name in names:
        value = values.get(name)
        spec = LlmListing.model_fields.get(name)
        if value is None and spec is not None and not spec.is_required():
            value = spec.get_default(call_default_factory=True)
        answer[name] = value
    return answer


class OpenAIStandIn(BackgroundHttpServer):
    """OpenAI-compatible ``/v1/chat/completions`` on ``127.0.0.1``; see the module docstring."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        extractor: Callable[[str], ListingFields] | None = None,
    ) -> None:
        super().__init__(host=host, port=port)
        self.api_key = api_key  # when set, other keys get 401
        self._extractor = extractor or _default_extractor
        self._lock = threading.Lock()
        self._queue: deque[Reply] = deque()
        self._default: Reply | None = None
        self._requests: list[RecordedRequest] = []
        self._counter = 0

    # ------------------------------------------------------------------------------------ control

    thread_name = "openai-standin"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def completions(self) -> list[RecordedRequest]:
        """Recorded chat-completion requests (every attempt, failed ones included)."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def enqueue(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def set_default(self, reply: Reply | None) -> None:
        """The reply used when the queue is empty (``None``: a normal answer)."""
        with self._lock:
            self._default = reply

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._default = None
            self._requests.clear()

    def setup_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_get("/v1/models", self._models)

    def _next_reply(self) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            return self._default or Reply()

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "standin", "object": "model"}]})

    @staticmethod
    def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
        kind = {
            400: "invalid_request_error",
            401: "authentication_error",
            429: "rate_limit_exceeded",
        }.get(status, "server_error")
        body = {"error": {"message": message, "type": kind, "param": None, "code": kind}}
        return web.json_response(body, status=status, headers=headers)

    async def _chat_completions(self, request: web.Request) -> web.Response:
        received = time.time()
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._error(400, "request body must be a JSON object")
        authorized = self.api_key is None or request.headers.get("Authorization") == f"Bearer {self.api_key}"
        raw_messages = body.get("messages")
        messages: list[Any] = raw_messages if isinstance(raw_messages, list) else []
        user_messages = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        user_content = user_messages[-1].get("content") if user_messages else None
        if isinstance(user_content, list):  # content parts
            user_content = "".join(p.get("text", "") for p in user_content if isinstance(p, dict))
        post_text = post_text_from_prompt(user_content) if isinstance(user_content, str) else None
        response_format = body.get("response_format") or {}
        schema_spec = response_format.get("json_schema") if isinstance(response_format, dict) else None
        structured = bool(
            isinstance(response_format, dict)
            and response_format.get("type") == "json_schema"
            and isinstance(schema_spec, dict)
            and schema_spec.get("strict") is True
        )
        prompt_chars = sum(len(str(m.get("content", ""))) for m in messages if isinstance(m, dict))
        prompt_chars += len(json.dumps(response_format, ensure_ascii=False)) if response_format else 0
        prompt_tokens = _tokens(prompt_chars)

        reply = self._next_reply()
        response, status, completion_tokens = self._answer(
            reply, body, authorized, structured, post_text, schema_spec, prompt_tokens, received
        )
        # Recorded on arrival, before any scripted delay, so requests the client gave up on still count.
        self._record(
            RecordedRequest(
                path=request.path,
                model=body.get("model"),
                post_text=post_text,
                status=status,
                authorized=authorized,
                structured=structured,
                prompt_tokens=prompt_tokens if status == 200 else 0,
                completion_tokens=completion_tokens,
                received_at=received,
                delay=reply.delay,
                body=body,
            )
        )
        if reply.delay:
            await asyncio.sleep(reply.delay)
        return response

    def _answer(
        self,
        reply: Reply,
        body: dict[str, Any],
        authorized: bool,
        structured: bool,
        post_text: str | None,
        schema_spec: Any,
        prompt_tokens: int,
        received: float,
    ) -> tuple[web.Response, int, int]:
        """The response for one request, its status and its completion tokens."""
        if not authorized:
            return self._error(401, "Incorrect API key provided."), 401, 0
        if reply.status != 200:
            message = f"stand-in scripted failure {reply.status}"
            return self._error(reply.status, message, reply.headers), reply.status, 0
        if post_text is None:
            return self._error(400, "no user message"), 400, 0
        if not structured:
            message = "this stand-in only answers strict json_schema structured output"
            return self._error(400, message), 400, 0

        if reply.content is not None:
            content = reply.content
        else:
            schema = schema_spec.get("schema") if isinstance(schema_spec, dict) else None
            properties = list((schema or {}).get("properties", {}) or {}) or None
            try:
                fields = self._extractor(post_text)
            except Exception as exc:  # a broken extractor must show up as a server error, not a hang
                return self._error(500, f"stand-in extractor failed: {type(exc).__name__}"), 500, 0
            content = json.dumps(build_answer(fields, properties, reply), ensure_ascii=False)
        completion_tokens = _tokens(len(content))
        with self._lock:
            self._counter += 1
            number = self._counter
        response = web.json_response(
            {
                "id": f"chatcmpl-standin-{number}",
                "object": "chat.completion",
                "created": int(received),
                "model": body.get("model") or "standin",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )
        return response, 200, completion_tokens


def main() -> None:  # pragma: no cover - manual use: python -m carsbot_dev.local.openai_standin
    with OpenAIStandIn(port=int(os.environ.get("STANDIN_PORT", "0"))) as server:
        print(f"OpenAI stand-in listening on {server.base_url} (Ctrl+C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    main()
