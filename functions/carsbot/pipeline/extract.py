"""The extract use-case: one queued post -> a listing (or a recorded rejection / duplicate) -> publish queue.

Called by functions/extract/app.py once per SQS record, behind powertools idempotency keyed on the
post's business id. Every step is safe to repeat: the post row is created conditionally, the listing is
created conditionally, fingerprints are claimed conditionally, and publishing is at-most-once downstream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pynamodb.exceptions import DoesNotExist, PutError

from carsbot.adapters import queues
from carsbot.adapters.db import DedupModel, ListingModel, PostModel
from carsbot.adapters.db.conditions import is_conditional_failure
from carsbot.config import Settings
from carsbot.core import dedup, pricing
from carsbot.core.contracts import ListingFields, ListingMessage, PostKind, QueuedPost, listing_id_of
from carsbot.core.extraction.base import ExtractionResult, Extractor
from carsbot.core.filters import FilterRules, fields_rejection, keyword_rejection
from carsbot.observability import add_metric, logger

MAX_STORED_TEXT = 20_000  # characters of source text kept on the post row
DEDUP_TTL_DAYS = 30
FINAL_POST_STATES = {"listing", "rejected", "duplicate", "removed"}
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
        return {k: v for k, v in self.__dict__.items() if v is not None}


def brand_model_key(brand: str | None, model: str | None) -> str | None:
    return f"{brand}|{model}".lower() if brand and model else None


class ExtractService:
    def __init__(
        self,
        settings: Settings,
        extractor: Extractor,
        send: Callable[[str, ListingMessage], str] | None = None,
    ) -> None:
        self.settings = settings
        self.extractor = extractor
        self.send = send or queues.send
        self.filters = FilterRules(
            include_keywords=tuple(settings.include_keywords),
            exclude_keywords=tuple(settings.exclude_keywords),
            min_price=settings.min_price,
            max_price=settings.max_price,
            min_confidence=settings.min_confidence,
        )

    # ------------------------------------------------------------------ entry point
    def process(self, post: QueuedPost) -> Outcome:
        if post.kind is PostKind.DELETE:
            return self._delete(post)
        if post.kind is PostKind.EDIT:
            return self._edit(post)
        return self._new(post)

    # ------------------------------------------------------------------ new posts
    def _new(self, post: QueuedPost) -> Outcome:
        row = PostModel(
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
        try:
            row.save(condition=PostModel.post_id.does_not_exist())
        except PutError as exc:
            if not is_conditional_failure(exc):
                raise
            row = PostModel.get(post.post_id)
            if row.status in FINAL_POST_STATES:
                logger.info("post already processed", extra={"post_id": post.post_id, "status": row.status})
                return Outcome(post.post_id, row.status, row.listing_id, row.reason, row.engine)
        return self._classify_and_store(post, row)

    def _classify_and_store(self, post: QueuedPost, row: PostModel) -> Outcome:
        keyword_reason = keyword_rejection(post.text, self.filters)
        if keyword_reason is not None:  # decided by the text alone: no extraction (and no LLM call)
            return self._reject(row, keyword_reason, "filter")
        result = self.extractor.extract(post.text)
        fields = result.fields
        reason = None if fields.is_car_sale else (fields.reason or "not_car_sale")
        if reason is None:
            reason = fields_rejection(fields, self.filters)
        if reason is not None:
            return self._reject(row, reason, result.engine)

        listing_id = listing_id_of(post.post_id)
        prints = dedup.fingerprints(fields, post.text)
        original = self._find_duplicate(prints, fields.price, listing_id)
        if original is not None:
            return self._mark_duplicate(row, original, result.engine)

        listing = self._build_listing(post, listing_id, result)
        try:
            listing.save(condition=ListingModel.listing_id.does_not_exist())
        except PutError as exc:
            if not is_conditional_failure(exc):
                raise
            listing = ListingModel.get(listing_id)  # an earlier attempt created it
        claimed_by_other = self._claim_fingerprints(prints, listing_id, fields.price)
        if claimed_by_other is not None:  # lost a race with a concurrent copy of the same car
            listing.update(actions=[ListingModel.status.set("duplicate")])
            return self._mark_duplicate(row, claimed_by_other, result.engine)

        if listing.status == "pending":
            self.send(
                self.settings.publish_queue_url, ListingMessage(listing_id=listing_id, post_id=post.post_id)
            )
        row.update(
            actions=[
                PostModel.status.set("listing"),
                PostModel.listing_id.set(listing_id),
                PostModel.engine.set(result.engine),
                PostModel.updated_at.set(datetime.now(UTC)),
            ]
        )
        add_metric("Listings")
        logger.info(
            "listing created",
            extra={"post_id": post.post_id, "listing_id": listing_id, "engine": result.engine},
        )
        return Outcome(post.post_id, "listing", listing_id, None, result.engine)

    def _reject(self, row: PostModel, reason: str, engine: str) -> Outcome:
        row.update(
            actions=[
                PostModel.status.set("rejected"),
                PostModel.reason.set(reason),
                PostModel.engine.set(engine),
                PostModel.updated_at.set(datetime.now(UTC)),
            ]
        )
        add_metric("Rejected")
        add_metric(f"Rejected_{reason.split(':', 1)[0]}")
        logger.info("post rejected", extra={"post_id": row.post_id, "reason": reason})
        return Outcome(row.post_id, "rejected", None, reason, engine)

    # ------------------------------------------------------------------ duplicates
    def _find_duplicate(self, prints: list[str], price: int | None, own_id: str) -> str | None:
        keys = [slot for fingerprint in prints for slot in dedup.fingerprint_slots(fingerprint)]
        owners = {item.fingerprint: item for item in DedupModel.batch_get(keys)} if keys else {}
        for key in keys:  # in order: a fingerprint's first slot before its later ones
            item = owners.get(key)
            if item is not None and item.listing_id != own_id and _same_car(key, price, item):
                return item.listing_id
        return None

    def _claim_fingerprints(self, prints: list[str], listing_id: str, price: int | None) -> str | None:
        """Claim each fingerprint for ``listing_id``; the id of an existing listing of the same car, if any.

        A contact+car fingerprint has several slots: a dealer may sell two cars of the same model and
        year at clearly different prices, and a re-post of the second car must still find it.
        """
        expires = datetime.fromtimestamp(datetime.now(UTC).timestamp() + DEDUP_TTL_DAYS * 86400, UTC)
        for fingerprint in prints:
            for slot in dedup.fingerprint_slots(fingerprint):
                item = DedupModel(slot, listing_id=listing_id, price=price)
                item.expires_at = expires
                try:
                    item.save(condition=DedupModel.fingerprint.does_not_exist())
                    break
                except PutError as exc:
                    if not is_conditional_failure(exc):
                        raise
                try:
                    owner = DedupModel.get(slot, consistent_read=True)
                except DoesNotExist:  # expired and deleted in between: try the slot again next time
                    continue
                if owner.listing_id == listing_id:
                    break  # claimed by an earlier attempt of this post
                if _same_car(slot, price, owner):
                    return owner.listing_id
            else:
                logger.warning("every dedup slot of a fingerprint is taken", extra={"listing_id": listing_id})
        return None

    def _mark_duplicate(self, row: PostModel, original_id: str, engine: str) -> Outcome:
        row.update(
            actions=[
                PostModel.status.set("duplicate"),
                PostModel.listing_id.set(original_id),
                PostModel.reason.set("duplicate"),
                PostModel.engine.set(engine),
                PostModel.updated_at.set(datetime.now(UTC)),
            ]
        )
        try:
            ListingModel(original_id).update(actions=[ListingModel.duplicate_post_ids.add({row.post_id})])
        except Exception:  # the original's bookkeeping is best effort; the duplicate is recorded on the post
            logger.warning("could not record duplicate on listing", extra={"listing_id": original_id})
        add_metric("Duplicates")
        logger.info("duplicate post", extra={"post_id": row.post_id, "listing_id": original_id})
        return Outcome(row.post_id, "duplicate", original_id, "duplicate", engine)

    # ------------------------------------------------------------------ listing construction
    def _comparable_prices(self, fields: ListingFields, exclude: str) -> list[int]:
        key = brand_model_key(fields.brand, fields.model)
        if not key or not fields.year:
            return []
        low, high = pricing.comparable_years(fields.year)
        prices = []
        for item in ListingModel.by_model.query(key, ListingModel.year.between(low, high), limit=200):
            if (
                item.listing_id != exclude
                and item.price
                and item.status in {"pending", "publishing", "published"}
            ):
                prices.append(int(item.price))
        return prices

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
    def _edit(self, post: QueuedPost) -> Outcome:
        try:
            row = PostModel.get(post.post_id)
        except DoesNotExist:  # the original never reached us: treat the edited post as new
            return self._new(post)
        row.update(
            actions=[
                PostModel.text.set(post.text[:MAX_STORED_TEXT]),
                PostModel.edit_date.set(post.edit_date or post.date),
                PostModel.updated_at.set(datetime.now(UTC)),
            ]
        )
        if row.status in {"rejected", "received"}:  # maybe a sale now: classify again from scratch
            row.refresh()
            return self._classify_and_store(post, row)
        if row.status != "listing" or not row.listing_id:
            return Outcome(post.post_id, "ignored", row.listing_id, f"edit of {row.status} post")
        listing = ListingModel.get(row.listing_id)
        result = self.extractor.extract(post.text)
        if not result.fields.is_car_sale:  # e.g. edited to "ПРОДАНО"
            return self._withdraw(row, listing, "sold")
        fields = result.fields
        score = pricing.deal_score(
            fields.price, fields.market_price, self._comparable_prices(fields, listing.listing_id)
        )
        # Update only what the edit changes: never overwrite the publish state written concurrently.
        self._apply_fields(listing, fields, score)
        listing.fields_json = fields.model_dump(mode="json")
        listing.engine = result.engine
        listing.updated_at = datetime.now(UTC)
        listing.update(
            actions=[
                getattr(ListingModel, name).set(getattr(listing, name))
                if getattr(listing, name) not in (None, [])
                else getattr(ListingModel, name).remove()
                for name in (*EDITABLE_FIELDS, "fields_json", "engine", "updated_at")
            ]
        )
        if listing.status in {"published", "pending", "publishing"}:
            action: Literal["publish", "update"] = "update" if listing.status == "published" else "publish"
            self.send(
                self.settings.publish_queue_url,
                ListingMessage(action=action, listing_id=listing.listing_id, post_id=post.post_id),
            )
        add_metric("ListingUpdates")
        return Outcome(post.post_id, "updated", listing.listing_id, None, result.engine)

    def _delete(self, post: QueuedPost) -> Outcome:
        try:
            row = PostModel.get(post.post_id)
        except DoesNotExist:
            return Outcome(post.post_id, "ignored", None, "deletion of unknown post")
        if row.status == "listing" and row.listing_id:
            try:
                listing = ListingModel.get(row.listing_id)
            except DoesNotExist:
                listing = None
            if listing is not None:
                return self._withdraw(row, listing, "removed")
        row.update(actions=[PostModel.status.set("removed"), PostModel.updated_at.set(datetime.now(UTC))])
        return Outcome(post.post_id, "removed", row.listing_id, "deleted")

    def _withdraw(self, row: PostModel, listing: ListingModel, status: str) -> Outcome:
        previous = listing.status
        listing.update(
            actions=[ListingModel.status.set(status), ListingModel.updated_at.set(datetime.now(UTC))]
        )
        row.update(actions=[PostModel.status.set("removed"), PostModel.updated_at.set(datetime.now(UTC))])
        if previous in {"published", "publishing", "publish_unknown"}:
            self.send(
                self.settings.publish_queue_url,
                ListingMessage(action="remove", listing_id=listing.listing_id, post_id=row.post_id),
            )
        add_metric("ListingsWithdrawn")
        return Outcome(row.post_id, "removed", listing.listing_id, status)


def _same_car(key: str, price: int | None, owner: DedupModel) -> bool:
    """Whether the listing owning fingerprint slot ``key`` is the car priced ``price``."""
    return key.startswith("text#") or dedup.prices_match(price, _int(owner.price))


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None
