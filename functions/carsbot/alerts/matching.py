"""Which saved searches a listing matches, touching only the candidates (never a scan).

A listing of brand B and model M can only match searches stored under ``"b|m"``, ``"b|*"`` or ``"*"``
(``carsbot.core.alerts.listing_match_keys``), so matching is three index queries on the searches'
``by-match-key`` GSI (all attributes projected) and a criterion-by-criterion check of what they return.
The owners are then filtered to active, not-blocked subscribers with one batch read of their records.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from carsbot.adapters.db.bot import SavedSearchModel
from carsbot.adapters.db.users import UserModel
from carsbot.core.alerts import ListingFacts, SearchCriteria, listing_match_keys, matches
from carsbot.core.subscriptions import is_active


@dataclass
class MatchResult:
    touched: int = 0  # searches read from the index
    matched: int = 0  # of those, searches whose criteria the listing meets
    users: list[int] = field(default_factory=list)  # distinct owners of matching searches, in order


def facts_of(listing: Any) -> ListingFacts:
    return ListingFacts(
        brand=listing.brand,
        model=listing.model,
        year=int(listing.year) if listing.year is not None else None,
        price=int(listing.price) if listing.price is not None else None,
        city=listing.city,
    )


def criteria_of(item: SavedSearchModel) -> SearchCriteria:
    def num(value: Any) -> int | None:
        return int(value) if value is not None else None

    return SearchCriteria(
        brand=item.brand,
        model=item.model,
        year_from=num(item.year_from),
        year_to=num(item.year_to),
        price_max=num(item.price_max),
        city=item.city,
    )


def candidates(facts: ListingFacts) -> Iterable[SavedSearchModel]:
    for key in listing_match_keys(facts.brand, facts.model):
        yield from SavedSearchModel.by_match_key.query(key)


def match_listing(facts: ListingFacts) -> MatchResult:
    result = MatchResult()
    seen: set[int] = set()
    for search in candidates(facts):
        result.touched += 1
        if not matches(criteria_of(search), facts):
            continue
        result.matched += 1
        owner = int(search.user_id)
        if owner not in seen:
            seen.add(owner)
            result.users.append(owner)
    return result


def active_recipients(user_ids: list[int], now: datetime) -> list[UserModel]:
    """The users among ``user_ids`` with an active subscription who have not blocked the bot."""
    found: dict[int, UserModel] = {}
    for start in range(0, len(user_ids), 100):
        for user in UserModel.batch_get(user_ids[start : start + 100]):
            found[int(user.user_id)] = user
    return [
        found[uid]
        for uid in user_ids
        if uid in found and not found[uid].blocked and is_active(found[uid].subscription_end, now)
    ]
