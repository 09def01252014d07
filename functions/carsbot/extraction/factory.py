"""Choosing an extractor: ``rules``, ``llm`` or ``auto`` (LLM when a key is configured, rules otherwise).

* ``rules`` — the rules engine alone (no network).
* ``llm`` — rules prefilter, one LLM call per candidate post, hallucination guard, reconciliation with
  the rules result; the rules result flagged ``rules-fallback`` when the LLM is unavailable or no key
  is configured.
* ``auto`` — ``llm`` when an OpenAI key is stored in Secrets Manager, the rules engine otherwise.

Imports are lazy: building the rules engine never imports the LLM engine or the openai client, and the
openai client is only imported once a key is found.
"""

from __future__ import annotations

from typing import Any

from carsbot.config import Settings, get_settings
from carsbot.core.extraction.base import Extractor

ENGINES = ("rules", "llm", "auto")


def build_extractor(engine: str | None = None, settings: Settings | None = None, **options: Any) -> Extractor:
    """An extractor for ``engine`` (default ``Settings.extract_engine``).

    ``options`` are passed to the LLM engines (``key_provider``, ``client_factory``, ``breaker``,
    ``sleep``; see ``carsbot.extraction.llm.LlmExtractor``) and must be empty for ``rules``.
    """
    settings = settings or get_settings()
    engine = engine or settings.extract_engine
    if engine == "rules":
        if options:
            raise TypeError(f"the rules engine takes no options, got {sorted(options)}")
        from carsbot.core.extraction.rules import RulesExtractor

        return RulesExtractor()
    if engine == "llm":
        from carsbot.extraction.llm import LlmExtractor

        return LlmExtractor(settings, **options)
    if engine == "auto":
        from carsbot.extraction.llm import AutoExtractor

        return AutoExtractor(settings, **options)
    raise ValueError(f"unknown extraction engine {engine!r} (expected one of {', '.join(ENGINES)})")
