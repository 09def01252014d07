"""Saved searches as the domain sees them: the criteria, the listing facts they are matched against, and
the match itself. Pure and light — the storage layer imports it without the one-line alert parser
(``carsbot.core.alerts``, which needs the extraction normalisers).
"""

from __future__ import annotations

from dataclasses import dataclass

from carsbot.core.search_keys import match_key, match_sort, norm

__all__ = ["ListingFacts", "SearchCriteria", "matches"]


@dataclass(frozen=True)
class SearchCriteria:
    """What a saved search asks for; ``None`` means "any"."""

    brand: str | None = None
    model: str | None = None
    year_from: int | None = None
    year_to: int | None = None
    price_max: int | None = None
    city: str | None = None

    def __post_init__(self) -> None:
        if self.model and not self.brand:
            raise ValueError("a model needs its brand")
        if self.year_from and self.year_to and self.year_from > self.year_to:
            raise ValueError("year_from is after year_to")
        if self.price_max is not None and self.price_max <= 0:
            raise ValueError("price_max must be positive")

    @property
    def empty(self) -> bool:
        return not any((self.brand, self.model, self.year_from, self.year_to, self.price_max, self.city))

    @property
    def match_key(self) -> str:
        return match_key(self.brand, self.model, self.city)

    def match_sort(self, user_id: int, search_id: str) -> str:
        return match_sort(self.year_from, user_id, search_id)


@dataclass(frozen=True)
class ListingFacts:
    """What matching needs from a listing."""

    brand: str | None
    model: str | None
    year: int | None
    price: int | None
    city: str | None


def matches(criteria: SearchCriteria, listing: ListingFacts) -> bool:
    """Whether ``listing`` satisfies every stated criterion (an unknown listing value never matches)."""
    if criteria.brand and norm(criteria.brand) != norm(listing.brand):
        return False
    if criteria.model and norm(criteria.model) != norm(listing.model):
        return False
    if criteria.year_from or criteria.year_to:
        if listing.year is None:
            return False
        if criteria.year_from and listing.year < criteria.year_from:
            return False
        if criteria.year_to and listing.year > criteria.year_to:
            return False
    if criteria.price_max is not None and (listing.price is None or listing.price > criteria.price_max):
        return False
    return not (criteria.city and norm(criteria.city) != norm(listing.city))
