"""The bot's other tables: saved searches, contact requests, and small TTL'd bot state.

* searches (``SearchesTable``) — hash ``user_id``, range ``search_id``: a user's saved searches (list,
  delete, at most 10). GSI ``by-match-key`` (``match_key``, ``owner_key``; all attributes): matching a
  new listing queries only the buckets its brand/model can be in (``"toyota|camry"``, ``"toyota|*"``,
  ``"*"``), never the whole table (``carsbot.core.alerts.listing_match_keys``).
* contact requests (``ContactRequestsTable``) — hash ``user_id``, range ``listing_id``: one row per
  (user, listing), written with ``attribute_not_exists`` only after the card was sent. GSI ``by-day``
  (``day``, ``requested_at``; keys only) for the admin statistics.
* bot state (``BotStateTable``) — hash ``pk``, TTL ``expires_at``: FSM state of multi-step dialogs
  (``fsm#...``), webhook update dedupe (``update#<update_id>``), per-user daily contact counters
  (``contacts#<user>#<day>``) and alert dedupe claims (``notify#<dedupe key>``).
"""

from __future__ import annotations

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


class MatchKeyIndex(GlobalSecondaryIndex["SavedSearchModel"]):
    class Meta:
        index_name = "by-match-key"
        projection = AllProjection()

    match_key = UnicodeAttribute(hash_key=True)
    owner_key = UnicodeAttribute(range_key=True)


class SavedSearchModel(Model):
    """A saved search: every criterion optional (``None`` = any)."""

    class Meta:
        table_name = "carsbot-searches"

    user_id = NumberAttribute(hash_key=True)
    search_id = UnicodeAttribute(range_key=True)
    match_key = UnicodeAttribute()  # "toyota|camry" | "toyota|*" | "*"
    owner_key = UnicodeAttribute()  # "<user_id>#<search_id>" (unique range key in the index)
    brand = UnicodeAttribute(null=True)
    model = UnicodeAttribute(null=True)
    year_from = NumberAttribute(null=True)
    year_to = NumberAttribute(null=True)
    price_max = NumberAttribute(null=True)
    city = UnicodeAttribute(null=True)
    created_at = NowAttribute()

    by_match_key = MatchKeyIndex()


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
