"""The LLM extraction engine (``llm``) and its key-dependent variant (``auto``); see docs/llm.md.

Per post:

1. The rules engine runs first (cheap, no I/O): its prefilter verdict and its full extraction.
2. A post the prefilter rejects never reaches the LLM (``prefiltered=True``, ``llm_calls=0``).
3. Otherwise exactly one LLM call (retried inside the adapter on 429/5xx/timeouts) returns the
   classification, every field and a description as structured output.
4. The answer is validated, passed through the hallucination guard and reconciled field by field
   with the rules result (``carsbot.core.extraction.reconcile``).
5. Anything that goes wrong with the API (no key in ``llm`` mode, failures after retries, an open
   circuit breaker, even a bug while merging) yields the rules result flagged ``rules-fallback`` with a
   note. The engine never raises because of the API.

``auto`` is the same engine, except that without a configured key it is simply the rules engine
(``engine="rules"``, no HTTP call, no fallback flag). The key is looked up per post through the
Secrets Manager cache, so storing or rotating the key takes effect without a redeploy.

The circuit breaker (``carsbot.core.circuit``) is in-process state per (base URL, model): Lambda
containers are reused, so a container that saw ``failure_threshold`` consecutive API failures stops
calling for ``cooldown`` seconds, then lets one probe through (half-open); success closes it, failure
re-opens it.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from carsbot.config import Settings, get_settings
from carsbot.core.circuit import CircuitBreaker
from carsbot.core.contracts import ListingFields
from carsbot.core.extraction.base import ExtractionResult
from carsbot.core.extraction.reconcile import guard, llm_fields, reconcile
from carsbot.core.extraction.rules import extract_rules, prefilter
from carsbot.observability import add_metric, logger

if TYPE_CHECKING:
    from carsbot.adapters.llm_openai import LlmResponse

# With less time than this left before the invocation's deadline, the LLM is not called at all.
MIN_LLM_SECONDS = 5.0


class ListingClient(Protocol):
    """What the engine needs from an LLM adapter (``OpenAIListingClient`` implements it)."""

    def extract(self, text: str, *, deadline: float | None = None) -> LlmResponse: ...


KeyProvider = Callable[[], str | None]
ClientFactory = Callable[[str], ListingClient]


# --------------------------------------------------------------------------------------------------
# Circuit breakers (one per endpoint and model, per process)
# --------------------------------------------------------------------------------------------------


_BREAKERS: dict[tuple[str, str], CircuitBreaker] = {}
_BREAKERS_LOCK = threading.Lock()


def breaker_for(settings: Settings) -> CircuitBreaker:
    """The process-wide breaker for the configured endpoint and model."""
    key = (settings.openai_base_url or "https://api.openai.com/v1", settings.openai_model)
    with _BREAKERS_LOCK:
        breaker = _BREAKERS.get(key)
        if breaker is None:
            breaker = CircuitBreaker()
            _BREAKERS[key] = breaker
        return breaker


def reset_breakers() -> None:
    """Forget every process-wide breaker (tests, configuration changes)."""
    with _BREAKERS_LOCK:
        _BREAKERS.clear()


# --------------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------------


def metrics_enabled() -> bool:
    """Metrics are emitted inside Lambda only, unless POWERTOOLS_METRICS_DISABLED says otherwise.

    Outside Lambda (CLI, eval, bench, tests) nothing is added: powertools would otherwise print an EMF
    blob to stdout every 100 values, corrupting JSON Lines output.
    """
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return False
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    return not is_metrics_disabled()


def emit_metric(name: str, value: float, unit: str = "Count") -> None:
    if value and metrics_enabled():
        add_metric(name, value, unit)


# --------------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------------


class LlmExtractor:
    """Rules prefilter + one LLM call + guard + reconcile, with rules fallback. Never raises for the API.

    ``key_provider`` returns the API key or ``None`` (default: Secrets Manager, ``Settings.openai_secret``);
    ``client_factory`` builds the adapter for a key (default: ``OpenAIListingClient.from_settings``);
    ``breaker`` defaults to the process-wide breaker of the endpoint; ``sleep`` is the retry sleep.
    """

    name = "llm"
    auto = False

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        key_provider: KeyProvider | None = None,
        client_factory: ClientFactory | None = None,
        breaker: CircuitBreaker | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings or get_settings()
        self._key_provider = key_provider or self._secret_key
        self._client_factory = client_factory or self._default_client
        self.breaker = breaker or breaker_for(self.settings)
        self._sleep = sleep
        self._client: ListingClient | None = None
        self._client_key: str | None = None
        self._clock = time.monotonic
        # "No key" and lookup errors are remembered for a while (positive lookups are cached by the
        # secrets adapter): without this, a deployment with no key would call Secrets Manager per post.
        self._no_key_until = 0.0
        self._no_key_error: str | None = None
        # ``time.monotonic()`` value by which an extraction must be over (the Lambda invocation's end);
        # None = no limit. The LLM call, retries included, never runs past it: the rules engine answers.
        self.deadline: float | None = None
        self.stats: Counter[str] = Counter()

    def set_deadline(self, deadline: float | None) -> None:
        """Bound every later extraction by ``deadline`` (a ``time.monotonic()`` value, None = no limit)."""
        self.deadline = deadline

    # -------------------------------------------------------------------------------- collaborators

    def _secret_key(self) -> str | None:
        from carsbot.adapters.llm_openai import resolve_api_key

        return resolve_api_key(self.settings)

    def _default_client(self, api_key: str) -> ListingClient:
        from carsbot.adapters.llm_openai import OpenAIListingClient

        return OpenAIListingClient.from_settings(self.settings, api_key, sleep=self._sleep)

    def _api_key(self) -> tuple[str | None, str | None]:
        """``(key, None)``, ``(None, None)`` when no key is configured, ``(None, error)`` on lookup errors."""
        now = self._clock()
        if now < self._no_key_until:
            return None, self._no_key_error
        try:
            api_key = self._key_provider()
        except Exception as exc:
            self._no_key_error = type(exc).__name__
            self._no_key_until = now + min(60.0, float(self.settings.secrets_cache_seconds))
            logger.warning("openai key lookup failed", extra={"error": self._no_key_error})
            return None, self._no_key_error
        if not api_key:
            self._no_key_error = None
            self._no_key_until = now + float(self.settings.secrets_cache_seconds)
            return None, None
        return api_key, None

    def _client_for(self, api_key: str) -> ListingClient:
        from carsbot.adapters.llm_openai import key_fingerprint

        fingerprint = key_fingerprint(api_key)
        if self._client is None or self._client_key != fingerprint:
            old = self._client
            self._client = self._client_factory(api_key)
            self._client_key = fingerprint
            close = getattr(old, "close", None)
            if callable(close):
                close()
        return self._client

    # -------------------------------------------------------------------------------- extraction

    def extract(self, text: str, *, deadline: float | None = None) -> ExtractionResult:
        """``deadline`` bounds the LLM call (default: the one given to ``set_deadline``, if any)."""
        deadline = self.deadline if deadline is None else deadline
        self.stats["posts"] += 1
        verdict = prefilter(text)
        rules_fields: ListingFields = extract_rules(text)
        if verdict.reject:
            self.stats["prefiltered"] += 1
            emit_metric("LLMPrefiltered", 1)
            update: dict[str, Any] = {
                "is_car_sale": False,
                "reason": verdict.reason or rules_fields.reason or "prefilter",
            }
            if verdict.confidence is not None:
                update["confidence"] = min(1.0, max(0.0, float(verdict.confidence)))
            return ExtractionResult(
                fields=rules_fields.model_copy(update=update),
                engine="rules",
                prefiltered=True,
                notes=[f"prefilter: {verdict.rule or verdict.reason or 'rejected'}"],
                trace={"is_car_sale": f"prefilter: {verdict.rule or verdict.reason or 'rejected'}"},
            )

        api_key, lookup_error = self._api_key()
        if lookup_error is not None:
            return self._fallback(rules_fields, f"llm skipped: key lookup failed ({lookup_error})")
        if not api_key:
            if self.auto:
                self.stats["rules_no_key"] += 1
                return ExtractionResult(
                    fields=rules_fields, engine="rules", notes=["llm skipped: no OpenAI key configured"]
                )
            return self._fallback(rules_fields, "llm skipped: no OpenAI key configured")

        if deadline is not None and deadline - time.monotonic() < MIN_LLM_SECONDS:
            left = max(0.0, deadline - time.monotonic())
            return self._fallback(rules_fields, f"llm skipped: {left:.0f}s left in this invocation")

        if not self.breaker.allow():
            wait = self.breaker.seconds_until_probe()
            return self._fallback(rules_fields, f"llm skipped: circuit open ({wait:.0f}s to probe)")

        try:
            client = self._client_for(api_key)
        except Exception as exc:
            self.breaker.record_failure()
            return self._fallback(rules_fields, f"llm failed: client setup ({type(exc).__name__})")
        return self._call(client, text, rules_fields, deadline)

    def _call(
        self, client: ListingClient, text: str, rules_fields: ListingFields, deadline: float | None
    ) -> ExtractionResult:
        from carsbot.adapters.llm_openai import LlmError

        try:
            response = client.extract(text, deadline=deadline)
        except LlmError as exc:
            self._count_calls(exc.attempts, 0, 0)
            if exc.availability:
                self.breaker.record_failure(retry_after=exc.retry_after)
            else:
                self.breaker.record_success()  # the API answered; the answer was unusable
            return self._fallback(rules_fields, f"llm failed: {exc}", calls=exc.attempts)
        except Exception as exc:  # an unexpected adapter bug must not stop extraction either
            self.breaker.record_failure()
            return self._fallback(rules_fields, f"llm failed: unexpected {type(exc).__name__}", calls=1)

        self.breaker.record_success()
        self._count_calls(response.attempts, response.input_tokens, response.output_tokens)
        notes: list[str] = []
        if response.attempts > 1:
            notes.append(f"llm: succeeded after {response.attempts} attempts")
        try:
            raw_fields, parse_notes = llm_fields(response.listing.model_dump())
            guarded = guard(raw_fields, text)
            merged, merge_notes = reconcile(rules_fields, guarded.fields, text)
        except Exception as exc:
            return self._fallback(
                rules_fields,
                f"llm answer unusable: {type(exc).__name__}",
                calls=response.attempts,
                input_tokens=response.input_tokens,
                output_tokens=response.output_tokens,
            )
        if guarded.dropped:
            self.stats["dropped_hallucinations"] += guarded.dropped
            emit_metric("LLMDroppedHallucinations", guarded.dropped)
        notes.extend([*parse_notes, *guarded.notes, *merge_notes])
        return ExtractionResult(
            fields=merged,
            engine="llm",
            llm_calls=response.attempts,
            input_tokens=response.input_tokens,
            output_tokens=response.output_tokens,
            notes=notes,
        )

    def _count_calls(self, calls: int, input_tokens: int, output_tokens: int) -> None:
        self.stats["llm_calls"] += calls
        self.stats["input_tokens"] += input_tokens
        self.stats["output_tokens"] += output_tokens
        emit_metric("LLMCalls", calls)
        emit_metric("LLMInputTokens", input_tokens)
        emit_metric("LLMOutputTokens", output_tokens)

    def _fallback(
        self,
        rules_fields: ListingFields,
        note: str,
        *,
        calls: int = 0,
        input_tokens: int = 0,
        output_tokens: int = 0,
    ) -> ExtractionResult:
        self.stats["fallbacks"] += 1
        emit_metric("LLMFallbacks", 1)
        logger.warning("llm fallback to rules", extra={"note": note, "breaker": self.breaker.state})
        return ExtractionResult(
            fields=rules_fields,
            engine="rules-fallback",
            llm_calls=calls,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            notes=[note],
        )


class AutoExtractor(LlmExtractor):
    """The LLM engine when an OpenAI key is configured, the plain rules engine when it is not."""

    name = "auto"
    auto = True
