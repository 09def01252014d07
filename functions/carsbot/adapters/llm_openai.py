"""OpenAI adapter: one chat-completions call per post, parsed into a pydantic structured output.

The client works with OpenAI itself and with any OpenAI-compatible server (vLLM, Ollama, a local
stand-in) through ``Settings.openai_base_url``. The API key lives in Secrets Manager
(``Settings.openai_secret``: JSON ``{"api_key": "..."}`` or the bare key); it is never logged.

Retries are done here, not by the openai client (``max_retries=0``): 429, 408/409, 5xx, timeouts and
connection errors are retried with exponential backoff that honours ``retry-after-ms`` / ``retry-after``
(seconds or an HTTP date), bounded by ``max_attempts``. The sleep function is injectable so tests do
not wait. Everything that goes wrong surfaces as :class:`LlmError`; callers decide what to do (the LLM
engine falls back to the rules engine).
"""

from __future__ import annotations

import email.utils
import hashlib
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from carsbot.observability import logger

if TYPE_CHECKING:
    from carsbot.config import Settings

PROMPT_VERSION = "listing-v2"
POST_START = "<<<ОБЪЯВЛЕНИЕ"
POST_END = "ОБЪЯВЛЕНИЕ>>>"
DEFAULT_MAX_INPUT_CHARS = 6000
DEFAULT_MAX_OUTPUT_TOKENS = 900
# Longest server-requested wait we are willing to sleep through inside one invocation; a longer
# retry-after ends the attempt loop (the caller falls back and its circuit breaker stays open that long).
DEFAULT_MAX_RETRY_AFTER = 20.0

SYSTEM_PROMPT = """\
Extract a car sale from a Russian Telegram post, only from its text: unknown is null, never guess.
is_car_sale: one specific car offered by its owner or a dealer (credit or trade-in offers around it \
are fine; "цена в ЛС": price null). Not a sale: news, buy requests, parts, tyres, services, rentals, \
credit/insurance ads, giveaways, sold, coming soon, questions, congratulations, lists of cars, toys, \
motorcycles, boats, trucks. reason: short, English.
brand, model: Latin catalogue names. year: model year. price: asking RUB (1.35 млн, 850к, 1350т); \
the new one if old and new; never a monthly or first payment, surcharge or foreign money. \
market_price: only if stated. mileage: km (miles only without km). engine_volume: litres, not hp or \
kWh. confidence: 0..1. owners_count: as stated. city: where the car is, nominative. usernames: the \
seller's, no "@". phones: as written. equipment: short Russian items. autoteka: accident status as written.
description: 50-100 Russian words of stated facts, neutral, no contacts or emojis; null if no sale.
"""


# The structured output the model must return, sent as a strict JSON schema. No docstring on purpose
# (it would be sent to the model as the schema description) and no numeric range constraints (not every
# OpenAI-compatible server supports them): values are validated by ``reconcile.llm_fields``. The schema
# sent is compact (``model_json_schema``): no titles or descriptions (units and rules are in the system
# prompt, once), nullable types as ``["string", "null"]``.
class LlmListing(BaseModel):
    model_config = ConfigDict(extra="ignore")

    is_car_sale: bool
    reason: str | None = None
    brand: str | None = None
    model: str | None = None
    year: int | None = None
    price: int | None = None
    market_price: int | None = None
    mileage: int | None = None
    engine_volume: float | None = None
    transmission: Literal["automatic", "manual", "robot", "variator"] | None = None
    drive: Literal["fwd", "rwd", "awd"] | None = None
    owners_count: int | None = None
    city: str | None = None
    fuel: Literal["petrol", "diesel", "hybrid", "electric", "gas"] | None = None
    autoteka: str | None = None
    equipment: list[str] = Field(default_factory=list)
    phones: list[str] = Field(default_factory=list)
    usernames: list[str] = Field(default_factory=list)
    confidence: float
    description: str | None = None

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return compact_schema(super().model_json_schema(*args, **kwargs))

    @model_validator(mode="before")
    @classmethod
    def _lenient(cls, data: Any) -> Any:
        """Coerce near-misses from servers that do not enforce the schema strictly (Ollama, small models)
        instead of failing the whole answer: unknown enum values and unparseable numbers become null,
        numeric strings numbers, a null list an empty one. The JSON schema sent is unaffected."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        sale = data.get("is_car_sale")
        if isinstance(sale, str):
            data["is_car_sale"] = sale.strip().lower() in ("true", "yes", "да", "1")
        for name, allowed in _ENUMS.items():
            if data.get(name) not in allowed:
                data[name] = None
        for name in ("year", "price", "market_price", "mileage", "owners_count"):
            data[name] = _lenient_number(data.get(name), integer=True)
        data["engine_volume"] = _lenient_number(data.get("engine_volume"), integer=False)
        for name in ("equipment", "phones", "usernames"):
            value = data.get(name)
            items = value if isinstance(value, list) else ([value] if isinstance(value, str) else [])
            data[name] = [str(item) for item in items if isinstance(item, str | int) and str(item).strip()]
        for name in ("reason", "brand", "model", "city", "autoteka", "description"):
            value = data.get(name)
            data[name] = (
                str(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else None
            )
        confidence = _lenient_number(data.get("confidence"), integer=False)
        data["confidence"] = 1.0 if confidence is None else confidence
        return data


_ENUMS: dict[str, tuple[str, ...]] = {
    "transmission": ("automatic", "manual", "robot", "variator"),
    "drive": ("fwd", "rwd", "awd"),
    "fuel": ("petrol", "diesel", "hybrid", "electric", "gas"),
}


def compact_schema(schema: Any) -> Any:
    """``schema`` without titles and descriptions, and with ``anyOf: [{type: X}, {type: null}]`` written
    as ``type: [X, "null"]`` (what strict structured outputs accept): a third of the tokens."""
    if isinstance(schema, list):
        return [compact_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: compact_schema(v) for k, v in schema.items() if k not in ("title", "description", "properties")}
    if isinstance(schema.get("properties"), dict):  # property names are data, never annotations
        out["properties"] = {name: compact_schema(v) for name, v in schema["properties"].items()}
    options = out.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        other = next(o for o in options if o != {"type": "null"})
        if isinstance(other, dict) and isinstance(other.get("type"), str):
            out.pop("anyOf")
            merged = dict(other)
            merged["type"] = [other["type"], "null"]
            if "enum" in merged:
                merged["enum"] = [*merged["enum"], None]
            out.update(merged)
    return out


def _lenient_number(value: Any, *, integer: bool) -> float | int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        cleaned = value.replace("\u00a0", "").replace(" ", "").replace(",", ".")
        try:
            value = float(cleaned)
        except ValueError:
            return None
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return round(value) if integer else float(value)


@dataclass(frozen=True)
class LlmResponse:
    """A successful call: the parsed listing and what it cost."""

    listing: LlmListing
    input_tokens: int
    output_tokens: int
    attempts: int
    model: str


class LlmError(Exception):
    """The call failed (after retries, or for a reason that retrying would not fix).

    ``attempts`` is the number of HTTP requests sent; ``retry_after`` the server-requested pause of the
    last response, if any; ``availability`` tells whether the failure says something about the API's
    health (counted by the circuit breaker) rather than about this one post's output.
    """

    def __init__(
        self,
        message: str,
        *,
        attempts: int = 0,
        status: int | None = None,
        retry_after: float | None = None,
        availability: bool = True,
    ) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.status = status
        self.retry_after = retry_after
        self.availability = availability


def build_messages(
    text: str, max_chars: int = DEFAULT_MAX_INPUT_CHARS, system_prompt: str = SYSTEM_PROMPT
) -> list[dict[str, str]]:
    """The chat messages for one post. The post is fenced so servers and stand-ins can find it."""
    body = text if len(text) <= max_chars else text[:max_chars] + "\n[...]"
    user = f"Извлеки данные из объявления.\n{POST_START}\n{body}\n{POST_END}"
    return [{"role": "system", "content": system_prompt}, {"role": "user", "content": user}]


def post_text_from_prompt(user_content: str) -> str:
    """The post text inside a user message built by :func:`build_messages` (the whole message otherwise)."""
    start = user_content.find(POST_START)
    end = user_content.rfind(POST_END)
    if start < 0 or end < start:
        return user_content
    return user_content[start + len(POST_START) : end].strip("\n")


def parse_retry_after(headers: Any, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (delta-seconds or an HTTP date)."""
    if headers is None:
        return None
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    raw_ms = getter("retry-after-ms")
    if raw_ms:
        try:
            value = float(raw_ms) / 1000.0
            if math.isfinite(value) and value >= 0:
                return value
        except ValueError:
            pass
    raw = getter("retry-after")
    if not raw:
        return None
    raw = str(raw).strip()
    try:
        value = float(raw)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        current = time.time() if now is None else now
        return max(0.0, parsed.timestamp() - current)
    return value if math.isfinite(value) and value >= 0 else None


class OpenAIListingClient:
    """Sends one post to a chat-completions endpoint and returns the parsed :class:`LlmListing`."""

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_attempts: int = 3,
        backoff_base: float = 1.0,
        backoff_max: float = 20.0,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        max_input_chars: int = DEFAULT_MAX_INPUT_CHARS,
        max_output_tokens: int | None = DEFAULT_MAX_OUTPUT_TOKENS,
        temperature: float | None = 0.0,
        sleep: Callable[[float], None] = time.sleep,
        system_prompt: str = SYSTEM_PROMPT,
        response_model: type[LlmListing] = LlmListing,
    ) -> None:
        import openai

        if not api_key:
            raise ValueError("api_key is required")
        self.model = model
        self.base_url = base_url
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_retry_after = max_retry_after
        self.max_input_chars = max_input_chars
        self.max_output_tokens = max_output_tokens
        self.temperature = temperature
        self._sleep = sleep
        self.system_prompt = system_prompt
        self.response_model = response_model
        self._openai = openai
        kwargs: dict[str, Any] = {"api_key": api_key, "timeout": timeout, "max_retries": 0}
        if base_url:
            kwargs["base_url"] = base_url
        self._client = openai.OpenAI(**kwargs)

    @classmethod
    def from_settings(
        cls, settings: Settings, api_key: str, *, sleep: Callable[[float], None] = time.sleep
    ) -> OpenAIListingClient:
        """Build from ``Settings`` (model, endpoint, timeout); the other knobs keep their defaults."""
        return cls(
            api_key=api_key,
            model=settings.openai_model,
            base_url=settings.openai_base_url,
            timeout=settings.openai_timeout,
            sleep=sleep,
        )

    def close(self) -> None:
        self._client.close()

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter for the ``attempt``-th retry (1-based)."""
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return ceiling * (0.5 + random.random() / 2)

    def extract(self, text: str, *, deadline: float | None = None) -> LlmResponse:
        """One logical call for one post (at most ``max_attempts`` HTTP requests). Raises LlmError.

        ``deadline`` (a ``time.monotonic()`` value) bounds the whole call: each request's timeout is cut
        to the time left, and no retry starts that could not finish before it.
        """
        openai = self._openai
        messages = build_messages(text, self.max_input_chars, self.system_prompt)
        options: dict[str, Any] = {}
        if self.temperature is not None:
            options["temperature"] = self.temperature
        if self.max_output_tokens:
            options["max_completion_tokens"] = int(self.max_output_tokens)
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            status: int | None = None
            request_options = dict(options)
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LlmError("no time left for the call", attempts=attempt - 1, availability=False)
                request_options["timeout"] = min(self.timeout, left)
            try:
                completion = self._client.chat.completions.parse(
                    model=self.model,
                    messages=messages,  # type: ignore[arg-type]
                    response_format=self.response_model,
                    **request_options,
                )
            except openai.APIStatusError as exc:
                status = exc.status_code
                retry_after = parse_retry_after(exc.response.headers)
                retryable = status in (408, 409, 429) or status >= 500
                if not retryable:
                    raise LlmError(f"openai http {status}", attempts=attempt, status=status) from None
                failure = f"openai http {status}"
            except openai.APITimeoutError:
                failure = "openai timeout"
            except openai.APIConnectionError:
                failure = "openai connection error"
            except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as exc:
                raise LlmError(
                    f"openai output unusable: {type(exc).__name__}", attempts=attempt, availability=False
                ) from None
            except ValueError as exc:  # pydantic ValidationError / malformed JSON content
                raise LlmError(
                    f"openai output invalid: {type(exc).__name__}", attempts=attempt, availability=False
                ) from None
            except openai.OpenAIError as exc:
                raise LlmError(f"openai error: {type(exc).__name__}", attempts=attempt) from None
            else:
                return self._response(completion, attempt)

            if attempt >= self.max_attempts:
                raise LlmError(
                    f"{failure} after {attempt} attempts",
                    attempts=attempt,
                    status=status,
                    retry_after=retry_after,
                )
            if retry_after is not None and retry_after > self.max_retry_after:
                raise LlmError(
                    f"{failure}; retry-after {retry_after:.0f}s exceeds {self.max_retry_after:.0f}s",
                    attempts=attempt,
                    status=status,
                    retry_after=retry_after,
                )
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            if deadline is not None and time.monotonic() + delay + min(self.timeout, 5.0) > deadline:
                raise LlmError(
                    f"{failure}; no time left for attempt {attempt + 1} in this invocation",
                    attempts=attempt,
                    status=status,
                    retry_after=retry_after,
                )
            logger.info("openai retry", extra={"attempt": attempt, "failure": failure, "delay": delay})
            self._sleep(delay)

    def _response(self, completion: Any, attempts: int) -> LlmResponse:
        choice = completion.choices[0] if completion.choices else None
        message = choice.message if choice is not None else None
        if message is None:
            raise LlmError("openai returned no choices", attempts=attempts, availability=False)
        if getattr(message, "refusal", None):
            raise LlmError("openai refused the request", attempts=attempts, availability=False)
        parsed = message.parsed
        if parsed is None:
            raise LlmError("openai returned no structured content", attempts=attempts, availability=False)
        usage = completion.usage
        return LlmResponse(
            listing=parsed,
            input_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            output_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            attempts=attempts,
            model=str(completion.model or self.model),
        )


def resolve_api_key(settings: Settings) -> str | None:
    """The OpenAI key from Secrets Manager, or ``None`` when the secret is missing or empty (or there are
    no AWS credentials at all). Other errors (access denied, Secrets Manager unreachable) propagate: they
    are not "no key configured".
    """
    from carsbot.adapters.secrets import SecretMissingError, get_secret

    try:
        secret = get_secret(settings.openai_secret)
    except SecretMissingError:
        return None
    except Exception as exc:
        if _no_aws_configured(exc):
            return None  # no AWS credentials at all (a developer machine): nothing can be configured
        raise
    key = secret.field("api_key", "OPENAI_API_KEY", "key")
    return key.strip() if key and key.strip() else None


def _no_aws_configured(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if type(seen).__name__ in ("NoCredentialsError", "NoRegionError"):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def key_fingerprint(api_key: str) -> str:
    """A non-reversible short id of a key (to notice rotation without keeping the key in a dict key)."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:12]
