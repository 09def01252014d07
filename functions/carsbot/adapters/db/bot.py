"""The bot's other tables: saved searches, contact requests, and small TTL'd bot state.

* searches (``SearchesTable``) — hash ``user_id``, range ``search_id``: a user's saved searches (list,
  delete, at most 10). GSI ``by-match`` (``match_key``, ``match_sort``; all attributes): matching a new
  listing queries only the buckets it can be in (``"toyota|camry"``, ``"toyota|*"``, ``"*|воронеж"``,
  ``"*"``) and, within each, only the searches whose lowest year it reaches (``match_sort`` starts with
  it), never the whole table (``carsbot.core.searches``, ``carsbot.alerts.matching``).
* contact requests (``ContactRequestsTable``) — hash ``user_id``, range ``listing_id``: one row per
  (user, listing), written with ``attribute_not_exists`` only after the card was sent. GSI ``by-day``
  (``day``, ``requested_at``; keys only) for the admin statistics.
* bot state (``BotStateTable``) — hash ``pk``, TTL ``expires_at``: FSM state of multi-step dialogs
  (``fsm#...``), webhook update dedupe (``update#<update_id>``), per-user daily contact counters
  (``contacts#<user>#<day>``) and alert dedupe claims (``notify#<dedupe key>``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.attributes import (
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import DoesNotExist
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from carsbot.adapters.db.base import NowAttribute
from carsbot.core.search_keys import city_key, match_key, match_sort
from carsbot.core.searches import SearchCriteria


class MatchIndex(GlobalSecondaryIndex["SavedSearchModel"]):
    class Meta:
        index_name = "by-match"
        projection = AllProjection()

    match_key = UnicodeAttribute(hash_key=True)
    match_sort = UnicodeAttribute(range_key=True)


class SavedSearchModel(Model):
    """A saved search: every criterion optional (``None`` = any)."""

    class Meta:
        table_name = "carsbot-searches"

    user_id = NumberAttribute(hash_key=True)
    search_id = UnicodeAttribute(range_key=True)
    match_key = UnicodeAttribute()  # "toyota|camry" | "toyota|*" | "*|воронеж" | "*"
    match_sort = UnicodeAttribute()  # "<year_from or 0000>#<user_id>#<search_id>" (unique in a bucket)
    city_key = UnicodeAttribute(null=True)  # the city as matching compares it (the index filter's)
    brand = UnicodeAttribute(null=True)
    model = UnicodeAttribute(null=True)
    year_from = NumberAttribute(null=True)
    year_to = NumberAttribute(null=True)
    price_max = NumberAttribute(null=True)
    city = UnicodeAttribute(null=True)
    created_at = NowAttribute()

    by_match = MatchIndex()

    @classmethod
    def of(
        cls, user_id: int, search_id: str, criteria: SearchCriteria, created_at: datetime | None = None
    ) -> SavedSearchModel:
        """The item of a search, with its index keys derived from the criteria."""
        item = cls(
            user_id,
            search_id,
            match_key=match_key(criteria.brand, criteria.model, criteria.city),
            match_sort=match_sort(criteria.year_from, user_id, search_id),
            city_key=city_key(criteria.city),
            brand=criteria.brand,
            model=criteria.model,
            year_from=criteria.year_from,
            year_to=criteria.year_to,
            price_max=criteria.price_max,
            city=criteria.city,
        )
        if created_at is not None:
            item.created_at = created_at
        return item

    def criteria(self) -> SearchCriteria:
        def num(value: Any) -> int | None:
            return int(value) if value is not None else None

        return SearchCriteria(
            brand=self.brand,
            model=self.model,
            year_from=num(self.year_from),
            year_to=num(self.year_to),
            price_max=num(self.price_max),
            city=self.city,
        )


class ContactDayIndex(GlobalSecondaryIndex["ContactRequestModel"]):
    class Meta:
        index_name = "by-day"
        projection = KeysOnlyProjection()

    day = UnicodeAttribute(hash_key=True)
    requested_at = UTCDateTimeAttribute(range_key=True)


class ContactRequestModel(Model):
    """One contact card sent: a user opened a listing's seller contacts (logged once per pair)."""

    class Meta:
        table_name = "carsbot-contact-requests"

    user_id = NumberAttribute(hash_key=True)
    listing_id = UnicodeAttribute(range_key=True)
    day = UnicodeAttribute()  # "YYYY-MM-DD" (UTC) of the first request
    requested_at = UTCDateTimeAttribute()

    by_day = ContactDayIndex()


class BotStateModel(Model):
    """Small keyed, TTL'd state of the bot and the alert fan-out."""

    class Meta:
        table_name = "carsbot-bot-state"

    pk = UnicodeAttribute(hash_key=True)
    state = UnicodeAttribute(null=True)  # FSM state name
    data = JSONAttribute(null=True)  # FSM data
    counter = NumberAttribute(default=0)
    updated_at = NowAttribute()
    expires_at = TTLAttribute(null=True)


# ----------------------------------------------------------------------------- listings hidden by an admin


def hidden_key(listing_id: str) -> str:
    """The bot-state key whose presence means an admin hid the listing."""
    return f"listing-hidden#{listing_id}"


def is_listing_hidden(listing_id: str) -> bool:
    """Whether an admin hid this listing from the bot (``/listing <id> hide``): no card, no alerts."""
    try:
        BotStateModel.get(hidden_key(listing_id), consistent_read=True)
    except DoesNotExist:
        return False
    return True


def set_listing_hidden(listing_id: str, hidden: bool, *, by: int) -> None:
    if hidden:
        BotStateModel(hidden_key(listing_id), data={"by": by}).save()
    else:
        BotStateModel(hidden_key(listing_id)).delete()
