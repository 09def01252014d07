"""Configured listing filters (global include/exclude keywords, price range, minimum confidence)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from carsbot.core.contracts import ListingFields


@dataclass(frozen=True)
class FilterRules:
    include_keywords: Sequence[str] = field(default_factory=tuple)
    exclude_keywords: Sequence[str] = field(default_factory=tuple)
    min_price: int | None = None
    max_price: int | None = None
    min_confidence: float = 0.0


def _fold(text: str) -> str:
    return text.lower().replace("ё", "е")


def keyword_rejection(text: str, rules: FilterRules) -> str | None:
    """The keyword filters, which need only the text: applied before extraction (no LLM call is spent)."""
    lowered = _fold(text)
    for word in rules.exclude_keywords:
        if word and _fold(word) in lowered:
            return f"filter:exclude_keyword:{word}"
    if rules.include_keywords and not any(w and _fold(w) in lowered for w in rules.include_keywords):
        return "filter:no_include_keyword"
    return None


def fields_rejection(fields: ListingFields, rules: FilterRules) -> str | None:
    """The filters on extracted fields: price range and minimum confidence."""
    if fields.price is not None:
        if rules.min_price is not None and fields.price < rules.min_price:
            return "filter:price_below_min"
        if rules.max_price is not None and fields.price > rules.max_price:
            return "filter:price_above_max"
    if fields.confidence < rules.min_confidence:
        return "filter:low_confidence"
    return None


def rejection_reason(text: str, fields: ListingFields, rules: FilterRules) -> str | None:
    """Why a car sale is filtered out (``filter:...``), or None when it passes."""
    return keyword_rejection(text, rules) or fields_rejection(fields, rules)
