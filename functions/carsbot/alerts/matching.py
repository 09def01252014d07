"""Which saved searches a listing matches, reading only the true candidates (never a scan).

Searches are indexed by ``searches.by-match`` (keys from ``carsbot.core.search_keys``): a bucket
(``"toyota|camry"``, ``"toyota|*"``, ``"*|воронеж"``, ``"*"``) and, inside it, a sort key that starts
with the search's lowest year. A listing makes at most four queries, one per bucket it can be in, run
concurrently (one round trip of latency):

* key condition: the bucket, and ``match_sort`` below the listing's year bound — DynamoDB *reads* only
  the searches whose bucket fits and whose lowest year the listing reaches;
* filter: the highest year, the maximum price and (brand buckets) the city — it *returns* only the
  searches that fit on those too.

What comes back is checked once more with ``core.alerts.matches`` (the one definition of a match), so the
index can only ever narrow, never widen, what is alerted. The owners are then filtered to active,
not-blocked subscribers with one batch read per 100.

``SearchIndex`` is the seam: ``DynamoSearchIndex`` here, an in-memory one in the benchmark (the same
buckets, bounds and filter) to time the pure part.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from carsbot.adapters.db.bot import SavedSearchModel
from carsbot.adapters.db.users import UserModel
from carsbot.core.search_keys import ANY, city_key, listing_match_keys, year_sort_bound
from carsbot.core.searches import ListingFacts, SearchCriteria, matches
from carsbot.core.subscriptions import is_active


@dataclass(frozen=True)
class BucketRead:
    """One bucket's query: the searches it returned (owner, criteria) and how many it read."""

    searches: list[tuple[int, SearchCriteria]]
    read: int


class SearchIndex(Protocol):
    concurrent: bool  # queries may run in parallel threads (network-bound)

    def prepare(self) -> None:
        """Called on the calling thread before concurrent queries."""

    def query(self, bucket: str, facts: ListingFacts) -> BucketRead: ...


@dataclass
class MatchResult:
    queries: int = 0  # index queries made (one per bucket)
    read: int = 0  # searches the index read: bucket and lowest year fit ("touched")
    returned: int = 0  # of those, searches the index's filter let through
    matched: int = 0  # of those, searches whose criteria the listing meets
    users: list[int] = field(default_factory=list)  # distinct owners of matching searches, in order

    @property
    def touched(self) -> int:
        return self.read


def facts_of(listing: Any) -> ListingFacts:
    return ListingFacts(
        brand=listing.brand,
        model=listing.model,
        year=int(listing.year) if listing.year is not None else None,
        price=int(listing.price) if listing.price is not None else None,
        city=listing.city,
    )


def index_filter(bucket: str, facts: ListingFacts) -> Any:
    """The server-side filter of a bucket's query: highest year, maximum price, city (brand buckets)."""
    s = SavedSearchModel
    year_to = s.year_to.does_not_exist()
    if facts.year is not None:
        year_to = year_to | (s.year_to >= facts.year)
    price = s.price_max.does_not_exist()
    if facts.price is not None:
        price = price | (s.price_max >= facts.price)
    conditions = [year_to, price]
    if not bucket.startswith(ANY):  # "*|city" holds one city and "*" none; a brand's bucket holds any
        city = city_key(facts.city)
        conditions.append(
            s.city_key.does_not_exist() | (s.city_key == city) if city else s.city_key.does_not_exist()
        )
    return functools.reduce(operator.and_, conditions)


class DynamoSearchIndex:
    """The ``by-match`` GSI: one Query per bucket (paginated by pynamodb), read counts from DynamoDB."""

    concurrent = True

    def query(self, bucket: str, facts: ListingFacts) -> BucketRead:
        found = SavedSearchModel.by_match.query(
            bucket,
            SavedSearchModel.match_sort < year_sort_bound(facts.year),
            filter_condition=index_filter(bucket, facts),
        )
        searches = [(int(item.user_id), item.criteria()) for item in found]
        return BucketRead(searches, found.page_iter.total_scanned_count)

    def prepare(self) -> None:
        """Create the model's client here before queries run on other threads (botocore sessions are
        not thread-safe; clients are)."""
        _ = SavedSearchModel._get_connection().connection.client


_pool: ThreadPoolExecutor | None = None


def _queries(index: SearchIndex, buckets: Sequence[str], facts: ListingFacts) -> list[BucketRead]:
    global _pool
    if len(buckets) == 1 or not index.concurrent:
        return [index.query(bucket, facts) for bucket in buckets]
    index.prepare()
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="match")
    return list(_pool.map(lambda bucket: index.query(bucket, facts), buckets))


def match_listing(facts: ListingFacts, index: SearchIndex | None = None) -> MatchResult:
    buckets = listing_match_keys(facts.brand, facts.model, facts.city)
    result = MatchResult(queries=len(buckets))
    seen: set[int] = set()
    for bucket in _queries(index or DynamoSearchIndex(), buckets, facts):
        result.read += bucket.read
        for owner, criteria in bucket.searches:
            result.returned += 1
            if not matches(criteria, facts):
                continue
            result.matched += 1
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
