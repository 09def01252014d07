"""The extractor interface shared by the rules engine, the LLM engine and their combination."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from carsbot.core.contracts import ListingFields


@dataclass
class ExtractionResult:
    """What one extraction produced, and what it cost."""

    fields: ListingFields
    engine: str  # "rules" | "llm" | "rules-fallback"
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    prefiltered: bool = False  # rejected by the rules prefilter before any LLM call
    notes: list[str] = field(default_factory=list)  # e.g. "dropped phone not in text", "llm failed: 500"
    # field -> the rule that produced it and its words, e.g. {"price": "price:keyword «цена 1.2 млн»"}
    # (rules engine; ``carsbot eval --show-errors`` prints it beside each miss)
    trace: dict[str, str] = field(default_factory=dict)


class Extractor(Protocol):
    name: str

    def extract(self, text: str, *, deadline: float | None = None) -> ExtractionResult:
        """Extract one post. ``deadline`` (a ``time.monotonic()`` value, e.g. the Lambda invocation's end
        minus a margin) bounds any network call; engines without one ignore it."""
        ...
