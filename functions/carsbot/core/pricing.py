"""Deal score: the saving ("выгода") against the stated market price or our own market estimate."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from statistics import median

MIN_COMPARABLES = 5  # fewer comparable listings than this give no estimate
BELOW_MARKET_SHARE = 0.03  # a saving of at least 3 % flags the listing as below market


@dataclass(frozen=True)
class DealScore:
    market_estimate: int | None
    source: str | None  # "stated" | "comparables" | None
    saving: int | None
    saving_share: float | None
    below_market: bool
    samples: int = 0


def market_estimate(
    stated_market_price: int | None, comparable_prices: Iterable[int], min_samples: int = MIN_COMPARABLES
) -> tuple[int | None, str | None, int]:
    """The stated market price if present, else the median of comparable prices (with enough samples)."""
    if stated_market_price:
        return stated_market_price, "stated", 0
    prices = [p for p in comparable_prices if p and p > 0]
    if len(prices) < min_samples:
        return None, None, len(prices)
    return int(median(prices)), "comparables", len(prices)


def deal_score(
    price: int | None, stated_market_price: int | None, comparable_prices: Iterable[int]
) -> DealScore:
    estimate, source, samples = market_estimate(stated_market_price, comparable_prices)
    if not price or not estimate:
        return DealScore(estimate, source, None, None, False, samples)
    saving = estimate - price
    share = saving / estimate
    if saving <= 0:
        return DealScore(estimate, source, None, None, False, samples)
    return DealScore(estimate, source, saving, round(share, 4), share >= BELOW_MARKET_SHARE, samples)


def comparable_years(year: int) -> tuple[int, int]:
    return year - 1, year + 1
