"""The extract use-case: one queued post -> a listing (or a recorded rejection / duplicate) -> publish queue.

Called by functions/extract/app.py once per SQS record, behind powertools idempotency keyed on the
post's business id. Every step is safe to repeat: the post row is created conditionally, the listing is
created conditionally, fingerprints are claimed conditionally, and publishing is at-most-once downstream.

Duplicates are caught twice: a lookup of the fingerprints' owners before a listing is built (the cheap
path: a re-post in another channel leaves no listing row), and the conditional claim of each
fingerprint after it is stored (what decides between two copies processed at the same time: the loser's
listing is marked ``duplicate`` and never queued). States and transitions: ``carsbot.core.states``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from carsbot.adapters import moderation, queues
from carsbot.adapters.db import ListingModel, PostModel
from carsbot.adapters.db.fingerprints import FingerprintsRepository, SlotOwner
from carsbot.adapters.db.listings import ListingsRepository
from carsbot.adapters.db.posts import PostsRepository
from carsbot.adapters.filters_source import FiltersSource
from carsbot.config import Settings
from carsbot.core import dedup, pricing
from carsbot.core.contracts import ListingFields, ListingMessage, PostKind, QueuedPost, listing_id_of
from carsbot.core.extraction.base import ExtractionResult, Extractor
from carsbot.core.filters import fields_rejection, keyword_rejection
from carsbot.core.states import (
    ACTIVE_LISTING,
    FINAL_POST,
    MAYBE_POSTED_LISTING,
    RECLASSIFIABLE_POST,
    ListingStatus,
    PostStatus,
)
from carsbot.observability import add_metric, logger

MAX_STORED_TEXT = 20_000  # characters of source text kept on the post row
DEDUP_TTL_DAYS = 30
FINAL_POST_STATES = FINAL_POST  # the older name
SCALAR_FIELDS = (
    "brand", "model", "year", "price", "market_price", "mileage", "engine_volume", "transmission",
    "drive", "owners_count", "city", "fuel", "autoteka", "description",
)  # fmt: skip
EDITABLE_FIELDS = (
    *SCALAR_FIELDS, "equipment", "phones", "usernames", "brand_model", "market_estimate", "market_source",
    "saving", "below_market",
)  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    post_id: str
    status: str  # listing | rejected | duplicate | removed | updated | ignored
    listing_id: str | None = None
    reason: str | None = None
    engine: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: (str(v) if k == "status" else v) for k, v in self.__dict__.items() if v is not None}


def brand_model_key(brand: str | None, model: str | None) -> str | None:
    return f"{brand}|{model}".lower() if brand and model else None


def _now() -> datetime:
    return datetime.now(UTC)


class ExtractService:
    """The use-case. Storage goes through the repositories (injectable: tests interleave deliveries)."""

    def __init__(
        self,
        settings: Settings,
        extractor: Extractor,
        send: Callable[[str, ListingMessage], str] | None = None,
        *,
        posts: PostsRepository | None = None,
        listings: ListingsRepository | None = None,
        fingerprints: FingerprintsRepository | None = None,
    ) -> None:
        self.settings = settings
        self.extractor = extractor
        self.send = send or queues.send
        self.posts = posts or PostsRepository()
        self.listings = listings or ListingsRepository()
        self.fingerprints = fingerprints or FingerprintsRepository()
        # Filters and moderation mode as the admins set them in the sheet (cached 60 s; docs/sheets.md).
        self.filters_source = FiltersSource(settings)

    # ------------------------------------------------------------------ entry point
    def process(self, post: QueuedPost, *, deadline: float | None = None) -> Outcome:
        """Handle one queued post. ``deadline`` (``time.monotonic()``) bounds the extractor's LLM call."""
        if post.kind is PostKind.DELETE:
            return self._delete(post)
        if post.kind is PostKind.EDIT:
            return self._edit(post, deadline)
        return self._new(post, deadline)

    def _queue(self, action: Literal["publish", "update", "remove"], listing_id: str, post_id: str) -> None:
        message = ListingMessage(action=action, listing_id=listing_id, post_id=post_id)
        self.send(self.settings.publish_queue_url, message)

    # ------------------------------------------------------------------ new posts
    def _new(self, post: QueuedPost, deadline: float | None) -> Outcome:
        row, created = self.posts.create(
            PostModel(
                post.post_id,
                channel_id=post.channel_id,
                message_id=post.message_id,
                message_ids=post.message_ids,
                grouped_id=post.grouped_id,
                text=post.text[:MAX_STORED_TEXT],
                link=post.original_link(),
                media_keys=[m.key for m in post.media],
                date=post.date,
                edit_date=post.edit_date,
            )
        )
        if not created and row.status in FINAL_POST:
            logger.info("post already processed", extra={"post_id": post.post_id, "status": row.status})
            return Outcome(post.post_id, row.status, row.listing_id, row.reason, row.engine)
        return self._classify_and_store(post, row, deadline)

    def _classify_and_store(self, post: QueuedPost, row: PostModel, deadline: float | None) -> Outcome:
        rules = self.filters_source.rules(post.channel_id)
        keyword_reason = keyword_rejection(post.text, rules)
        if keyword_reason is not None:  # decided by the text alone: no extraction (and no LLM call)
            return self._reject(row, keyword_reason, "filter")
        result = self.extractor.extract(post.text, deadline=deadline)
        fields = result.fields
        reason = None if fields.is_car_sale else (fields.reason or "not_car_sale")
        if reason is None:
            reason = fields_rejection(fields, rules)
        if reason is not None:
            return self._reject(row, reason, result.engine)

        listing_id = listing_id_of(post.post_id)
        prints = dedup.fingerprints(fields, post.text)
        original = self._find_duplicate(prints, fields.price, listing_id)
        if original is not None:
            return self._mark_duplicate(row, original, result.engine)

        listing = self.listings.create(self._build_listing(post, listing_id, result))
        claimed_by_other = self._claim_fingerprints(prints, listing_id, fields.price)
        if claimed_by_other is not None:  # lost a race with a concurrent copy of the same car
            self.listings.mark_duplicate(listing)
            return self._mark_duplicate(row, claimed_by_other, result.engine)

        if listing.status == ListingStatus.PENDING:
            if self.filters_source.moderation():  # waits in the sheet's Очередь until an admin approves
                moderation.hold(listing)
            else:
                self._queue("publish", listing_id, post.post_id)
        self.posts.mark_listing(row, listing_id, result.engine)
        add_metric("Listings")
        logger.info(
            "listing created",
            extra={"post_id": post.post_id, "listing_id": listing_id, "engine": result.engine},
        )
        return Outcome(post.post_id, PostStatus.LISTING, listing_id, None, result.engine)

    def _reject(self, row: PostModel, reason: str, engine: str) -> Outcome:
        self.posts.mark_rejected(row, reason, engine)
        add_metric("Rejected")
        add_metric(f"Rejected_{reason.split(':', 1)[0]}")
        logger.info("post rejected", extra={"post_id": row.post_id, "reason": reason})
        return Outcome(row.post_id, PostStatus.REJECTED, None, reason, engine)

    # ------------------------------------------------------------------ duplicates
    def _find_duplicate(self, prints: list[str], price: int | None, own_id: str) -> str | None:
        slots = [slot for fingerprint in prints for slot in dedup.fingerprint_slots(fingerprint)]
        owners = self.fingerprints.owners(slots)
        for slot in slots:  # in order: a fingerprint's first slot before its later ones
            owner = owners.get(slot)
            if owner is not None and owner.listing_id != own_id and _same_car(slot, price, owner):
                return owner.listing_id
        return None

    def _claim_fingerprints(self, prints: list[str], listing_id: str, price: int | None) -> str | None:
        """Claim each fingerprint for ``listing_id``; the id of an existing listing of the same car, if any.

        A contact+car fingerprint has several slots: a dealer may sell two cars of the same model and
        year at clearly different prices, and a re-post of the second car must still find it.
        """
        expires = _now() + timedelta(days=DEDUP_TTL_DAYS)
        for fingerprint in prints:
            for slot in dedup.fingerprint_slots(fingerprint):
                claim = self.fingerprints.claim(slot, listing_id, price, expires)
                if claim.result == "claimed":
                    break
                if claim.owner is not None and _same_car(slot, price, claim.owner):
                    return claim.owner.listing_id
            else:
                logger.warning("every dedup slot of a fingerprint is taken", extra={"listing_id": listing_id})
        return None

    def _mark_duplicate(self, row: PostModel, original_id: str, engine: str) -> Outcome:
        self.posts.mark_duplicate(row, original_id, engine)
        try:
            self.listings.add_duplicate_post(original_id, row.post_id)
        except Exception:  # the original's bookkeeping is best effort; the duplicate is recorded on the post
            logger.warning("could not record duplicate on listing", extra={"listing_id": original_id})
        add_metric("Duplicates")
        logger.info("duplicate post", extra={"post_id": row.post_id, "listing_id": original_id})
        return Outcome(row.post_id, PostStatus.DUPLICATE, original_id, "duplicate", engine)

    # ------------------------------------------------------------------ listing construction
    def _comparable_prices(self, fields: ListingFields, exclude: str) -> list[int]:
        key = brand_model_key(fields.brand, fields.model)
        if not key or not fields.year:
            return []
        return self.listings.comparable_prices(key, pricing.comparable_years(fields.year), exclude=exclude)

    def _build_listing(self, post: QueuedPost, listing_id: str, result: ExtractionResult) -> ListingModel:
        fields = result.fields
        score = pricing.deal_score(
            fields.price, fields.market_price, self._comparable_prices(fields, listing_id)
        )
        listing = ListingModel(
            listing_id,
            post_id=post.post_id,
            channel_id=post.channel_id,
            engine=result.engine,
            source_link=post.original_link(),
            channel_title=post.channel_title,
            media_keys=[m.key for m in post.media],
            fields_json=fields.model_dump(mode="json"),
        )
        self._apply_fields(listing, fields, score)
        return listing

    @staticmethod
    def _apply_fields(listing: ListingModel, fields: ListingFields, score: pricing.DealScore) -> None:
        for name in SCALAR_FIELDS:
            setattr(listing, name, getattr(fields, name))
        listing.equipment = list(fields.equipment)  # type: ignore[arg-type]  # pynamodb's list typing
        listing.phones = list(fields.phones)  # type: ignore[arg-type]  # pynamodb's list typing
        listing.usernames = list(fields.usernames)  # type: ignore[arg-type]  # pynamodb's list typing
        listing.brand_model = brand_model_key(fields.brand, fields.model)
        listing.market_estimate = score.market_estimate
        listing.market_source = score.source
        listing.saving = score.saving
        listing.below_market = score.below_market

    # ------------------------------------------------------------------ edits and deletions
    def _edit(self, post: QueuedPost, deadline: float | None) -> Outcome:
        row = self.posts.find(post.post_id)
        if row is None:  # the original never reached us: treat the edited post as new
            return self._new(post, deadline)
        self.posts.record_edit(row, post.text[:MAX_STORED_TEXT], post.edit_date or post.date)
        if row.status in RECLASSIFIABLE_POST:  # maybe a sale now: classify again from scratch
            row.refresh()
            return self._classify_and_store(post, row, deadline)
        if row.status != PostStatus.LISTING or not row.listing_id:
            return Outcome(post.post_id, "ignored", row.listing_id, f"edit of {row.status} post")
        listing = ListingModel.get(row.listing_id)
        result = self.extractor.extract(post.text, deadline=deadline)
        if not result.fields.is_car_sale:  # e.g. edited to "ПРОДАНО"
            return self._withdraw(row, listing, ListingStatus.SOLD)
        fields = result.fields
        score = pricing.deal_score(
            fields.price, fields.market_price, self._comparable_prices(fields, listing.listing_id)
        )
        # Update only what the edit changes: never overwrite the publish state written concurrently.
        self._apply_fields(listing, fields, score)
        listing.fields_json = fields.model_dump(mode="json")
        listing.engine = result.engine
        listing.updated_at = _now()
        self.listings.save_fields(listing, (*EDITABLE_FIELDS, "fields_json", "engine", "updated_at"))
        if listing.status in ACTIVE_LISTING:
            published = listing.status == ListingStatus.PUBLISHED
            self._queue("update" if published else "publish", listing.listing_id, post.post_id)
        add_metric("ListingUpdates")
        return Outcome(post.post_id, "updated", listing.listing_id, None, result.engine)

    def _delete(self, post: QueuedPost) -> Outcome:
        row = self.posts.find(post.post_id)
        if row is None:
            return Outcome(post.post_id, "ignored", None, "deletion of unknown post")
        if row.status == PostStatus.LISTING and row.listing_id:
            listing = self.listings.find(row.listing_id, consistent=False)
            if listing is not None:
                return self._withdraw(row, listing, ListingStatus.REMOVED)
        self.posts.mark_removed(row)
        return Outcome(post.post_id, PostStatus.REMOVED, row.listing_id, "deleted")

    def _withdraw(self, row: PostModel, listing: ListingModel, status: ListingStatus) -> Outcome:
        previous = listing.status
        self.listings.withdraw(listing, status, _now())
        self.posts.mark_removed(row)
        if previous in MAYBE_POSTED_LISTING:
            self._queue("remove", listing.listing_id, row.post_id)
        add_metric("ListingsWithdrawn")
        return Outcome(row.post_id, PostStatus.REMOVED, listing.listing_id, status)


def _same_car(slot: str, price: int | None, owner: SlotOwner) -> bool:
    """Whether the listing owning fingerprint ``slot`` is the car priced ``price``."""
    return slot.startswith("text#") or dedup.prices_match(price, owner.price)
