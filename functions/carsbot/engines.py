"""Choosing an extractor: ``rules``, ``llm`` or ``auto`` (LLM when a key is configured, rules otherwise)."""

from __future__ import annotations

from carsbot.config import Settings, get_settings
from carsbot.core.extraction.base import Extractor


def build_extractor(engine: str | None = None, settings: Settings | None = None) -> Extractor:
    settings = settings or get_settings()
    engine = engine or settings.extract_engine
    if engine == "rules":
        from carsbot.core.extraction.rules import RulesExtractor

        return RulesExtractor()
    raise ValueError(f"unknown extraction engine {engine!r}")
