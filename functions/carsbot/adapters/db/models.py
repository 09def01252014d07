"""pynamodb models. Key schemas and indexes mirror template.yaml (a test checks they agree).

Access patterns (docs/data-model.md):
* channels — by ref (``@name`` / ``+HASH``); by numeric channel id (GSI ``by-channel-id``) for events.
* posts — by post id ``channel_id:message_id`` (state of every source post, rejected ones included);
  by UTC day of arrival (GSI ``by-received-day``: ``received_day`` + ``received_at``) for daily figures.
* listings — by listing id (deep links, publishing); comparables by ``brand_model`` + ``year`` (GSI
  ``by-model``) for the market estimate; by UTC day of creation and of publication (GSIs
  ``by-created-day``, ``by-published-day``) for daily figures.
* dedup — by fingerprint (conditional put: the first listing owns it; TTL ``expires_at``).
* state — small singleton items by key: the monitor lease, rate-limit windows, circuit breakers, and
  every channel's count of posts received (``posts-seen#<channel id>``).

The day attributes (``received_day``, ``created_day``, ``published_day``: "2025-01-31", UTC) are stamped
from their timestamps whenever an item is saved (``_stamp_days``) and set beside ``published_at`` by the
publish transition, so the daily indexes hold every item without each writer remembering them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from carsbot.adapters.db.base import NowAttribute, day_of


def _stamp_days(item: Model, pairs: tuple[tuple[str, str], ...]) -> None:
    """Set each day attribute of ``pairs`` (day name, timestamp name) from its timestamp when it has one."""
    for day_name, at_name in pairs:
        at: datetime | None = getattr(item, at_name)
        if at is not None:
            setattr(item, day_name, day_of(at))


class ChannelIdIndex(GlobalSecondaryIndex["ChannelModel"]):
    class Meta:
        index_name = "by-channel-id"
        projection = KeysOnlyProjection()

    channel_id = NumberAttribute(hash_key=True)


class ChannelModel(Model):
    """A source channel. ``ref`` is the normalised reference an admin gave (``@name`` or ``+HASH``)."""

    class Meta:
        table_name = "carsbot-channels"

    ref = UnicodeAttribute(hash_key=True)
    link = UnicodeAttribute(null=True)  # as the admin typed it
    status = UnicodeAttribute(default="active")  # active | paused | removed
    channel_id = NumberAttribute(null=True)
    access_hash = NumberAttribute(null=True)
    username = UnicodeAttribute(null=True)
    title = UnicodeAttribute(null=True)
    last_message_id = NumberAttribute(default=0)  # checkpoint: highest id safely queued
    join_error = UnicodeAttribute(null=True)
    seller_phone = UnicodeAttribute(null=True)
    seller_username = UnicodeAttribute(null=True)
    published_count = NumberAttribute(default=0)
    last_post_at = UTCDateTimeAttribute(null=True)
    added_at = NowAttribute()
    updated_at = NowAttribute()

    by_channel_id = ChannelIdIndex()


class PostsByDayIndex(GlobalSecondaryIndex["PostModel"]):
    class Meta:
        index_name = "by-received-day"
        projection = IncludeProjection(["status", "channel_id"])

    received_day = UnicodeAttribute(hash_key=True)
    received_at = UTCDateTimeAttribute(range_key=True)


class PostModel(Model):
    """Every source post and what became of it."""

    class Meta:
        table_name = "carsbot-posts"

    post_id = UnicodeAttribute(hash_key=True)  # channel_id:message_id
    channel_id = NumberAttribute()
    message_id = NumberAttribute()
    message_ids = ListAttribute(of=NumberAttribute, default=list)
    grouped_id = NumberAttribute(null=True)
    # received | listing | rejected | duplicate | removed
    status = UnicodeAttribute(default="received")
    reason = UnicodeAttribute(null=True)
    listing_id = UnicodeAttribute(null=True)
    engine = UnicodeAttribute(null=True)
    text = UnicodeAttribute(null=True)
    text_hash = UnicodeAttribute(null=True)
    link = UnicodeAttribute(null=True)
    media_keys = ListAttribute(of=UnicodeAttribute, default=list)
    date = UTCDateTimeAttribute()
    edit_date = UTCDateTimeAttribute(null=True)
    received_at = NowAttribute()
    received_day = UnicodeAttribute(null=True)  # UTC day of received_at (GSI by-received-day)
    updated_at = NowAttribute()

    by_received_day = PostsByDayIndex()

    def save(self, *args: Any, **kwargs: Any) -> Any:
        _stamp_days(self, (("received_day", "received_at"),))
        return super().save(*args, **kwargs)


class ModelYearIndex(GlobalSecondaryIndex["ListingModel"]):
    class Meta:
        index_name = "by-model"
        projection = AllProjection()

    brand_model = UnicodeAttribute(hash_key=True)
    year = NumberAttribute(range_key=True)


class ListingsByCreatedDayIndex(GlobalSecondaryIndex["ListingModel"]):
    class Meta:
        index_name = "by-created-day"
        projection = IncludeProjection(["brand", "model", "price", "status"])

    created_day = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class ListingsByPublishedDayIndex(GlobalSecondaryIndex["ListingModel"]):
    class Meta:
        index_name = "by-published-day"
        projection = KeysOnlyProjection()

    published_day = UnicodeAttribute(hash_key=True)
    published_at = UTCDateTimeAttribute(range_key=True)


class ListingModel(Model):
    """A car listing (one per car, however many channels posted it)."""

    class Meta:
        table_name = "carsbot-listings"

    listing_id = UnicodeAttribute(hash_key=True)
    post_id = UnicodeAttribute()
    channel_id = NumberAttribute()
    # pending | publishing | published | removed | sold | publish_unknown
    status = UnicodeAttribute(default="pending")
    engine = UnicodeAttribute(default="rules")
    brand = UnicodeAttribute(null=True)
    model = UnicodeAttribute(null=True)
    brand_model = UnicodeAttribute(null=True)  # "toyota|camry", GSI hash (absent when unknown)
    year = NumberAttribute(null=True)
    price = NumberAttribute(null=True)
    market_price = NumberAttribute(null=True)
    market_estimate = NumberAttribute(null=True)
    market_source = UnicodeAttribute(null=True)  # stated | comparables
    saving = NumberAttribute(null=True)
    below_market = BooleanAttribute(default=False)
    mileage = NumberAttribute(null=True)
    engine_volume = NumberAttribute(null=True)
    transmission = UnicodeAttribute(null=True)
    drive = UnicodeAttribute(null=True)
    owners_count = NumberAttribute(null=True)
    city = UnicodeAttribute(null=True)
    fuel = UnicodeAttribute(null=True)
    autoteka = UnicodeAttribute(null=True)
    equipment = ListAttribute(of=UnicodeAttribute, default=list)
    description = UnicodeAttribute(null=True)
    # Seller contacts: stored for the bot's contact card, never put in a public post.
    phones = ListAttribute(of=UnicodeAttribute, default=list)
    usernames = ListAttribute(of=UnicodeAttribute, default=list)
    source_link = UnicodeAttribute(null=True)
    channel_title = UnicodeAttribute(null=True)
    media_keys = ListAttribute(of=UnicodeAttribute, default=list)
    duplicate_post_ids = UnicodeSetAttribute(null=True)
    fields_json = JSONAttribute(null=True)  # the full extractor output, for audits
    published_message_ids = ListAttribute(of=NumberAttribute, default=list)
    published_at = UTCDateTimeAttribute(null=True)
    publish_claimed_at = UTCDateTimeAttribute(null=True)
    publish_error = UnicodeAttribute(null=True)
    created_at = NowAttribute()
    created_day = UnicodeAttribute(null=True)  # UTC day of created_at (GSI by-created-day)
    published_day = UnicodeAttribute(null=True)  # UTC day of published_at (GSI by-published-day)
    updated_at = NowAttribute()

    by_model = ModelYearIndex()
    by_created_day = ListingsByCreatedDayIndex()
    by_published_day = ListingsByPublishedDayIndex()

    def save(self, *args: Any, **kwargs: Any) -> Any:
        _stamp_days(self, (("created_day", "created_at"), ("published_day", "published_at")))
        return super().save(*args, **kwargs)


class DedupModel(Model):
    """A fingerprint of a car (contact+model+year, or normalised text) owned by the first listing."""

    class Meta:
        table_name = "carsbot-dedup"

    fingerprint = UnicodeAttribute(hash_key=True)
    listing_id = UnicodeAttribute()
    price = NumberAttribute(null=True)
    created_at = NowAttribute()
    expires_at = TTLAttribute(null=True)


class StateModel(Model):
    """Small keyed state items: the monitor lease, rate-limit windows, circuit breakers."""

    class Meta:
        table_name = "carsbot-state"

    pk = UnicodeAttribute(hash_key=True)
    owner = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)
    counter = NumberAttribute(default=0)
    data = JSONAttribute(null=True)
    updated_at = NowAttribute()
    expires_at = TTLAttribute(null=True)
