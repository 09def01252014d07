"""The listings table's transitions, by name (the states and the diagram: ``carsbot.core.states``).

Each transition is one DynamoDB update, conditional where two deliveries or two functions may race:
the publish claim (``pending -> publishing``) decides which attempt may send, and every later step of
that attempt only applies while the claim is still its own (``status = publishing``). Methods take the
time of the change (``now``) from the caller, so a use-case with an injected clock stays consistent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from carsbot.adapters.db.base import day_of
from carsbot.adapters.db.conditions import is_conditional_failure
from carsbot.adapters.db.models import ChannelModel, ListingModel
from carsbot.core.states import ACTIVE_LISTING, WITHDRAWN_LISTING, ListingStatus
from carsbot.observability import logger

MAX_ERROR_CHARS = 1000
COMPARABLES_LIMIT = 200


def status_of(listing: ListingModel) -> ListingStatus:
    return ListingStatus(listing.status or ListingStatus.PENDING)


class ListingsRepository:
    """Named reads and writes of ``ListingModel`` items."""

    # ------------------------------------------------------------------ reads

    def find(self, listing_id: str, *, consistent: bool = True) -> ListingModel | None:
        try:
            return ListingModel.get(listing_id, consistent_read=consistent)
        except DoesNotExist:
            return None

    def comparable_prices(self, brand_model: str, years: tuple[int, int], *, exclude: str) -> list[int]:
        """Asking prices of active listings of the same model within ``years`` (for the market estimate)."""
        low, high = years
        return [
            int(item.price)
            for item in ListingModel.by_model.query(
                brand_model, ListingModel.year.between(low, high), limit=COMPARABLES_LIMIT
            )
            if item.listing_id != exclude and item.price and item.status in ACTIVE_LISTING
        ]

    # ------------------------------------------------------------------ extract side

    def create(self, listing: ListingModel) -> ListingModel:
        """Store a new listing; when an earlier attempt already created it, the stored one is returned."""
        try:
            listing.save(condition=ListingModel.listing_id.does_not_exist())
        except PutError as exc:
            if not is_conditional_failure(exc):
                raise
            return ListingModel.get(listing.listing_id, consistent_read=True)
        return listing

    def mark_duplicate(self, listing: ListingModel) -> None:
        """The listing lost the fingerprint race to another listing of the same car (never published)."""
        listing.update(actions=[ListingModel.status.set(ListingStatus.DUPLICATE)])

    def add_duplicate_post(self, original_id: str, post_id: str) -> None:
        """Remember on the original that ``post_id`` is a copy of it (bookkeeping for admins)."""
        ListingModel(original_id).update(actions=[ListingModel.duplicate_post_ids.add({post_id})])

    def save_fields(self, listing: ListingModel, names: Iterable[str]) -> None:
        """Write only the attributes ``names`` (an edit must not overwrite a concurrent publish state)."""
        listing.update(
            actions=[
                getattr(ListingModel, name).set(getattr(listing, name))
                if getattr(listing, name) not in (None, [])
                else getattr(ListingModel, name).remove()
                for name in names
            ]
        )

    def withdraw(self, listing: ListingModel, status: ListingStatus, now: datetime) -> None:
        """Sold or removed at the source (whatever the publish state: the publisher edits the post)."""
        if status not in WITHDRAWN_LISTING:
            raise ValueError(f"{status} is not a withdrawal")
        listing.update(actions=[ListingModel.status.set(status), ListingModel.updated_at.set(now)])

    def touch(self, listing: ListingModel, now: datetime) -> None:
        listing.update(actions=[ListingModel.updated_at.set(now)])

    # ------------------------------------------------------------------ publish side

    def claim_for_publish(self, listing: ListingModel, now: datetime) -> bool:
        """``pending -> publishing``; False when another delivery claimed (or withdrew) it first."""
        try:
            listing.update(
                actions=[
                    ListingModel.status.set(ListingStatus.PUBLISHING),
                    ListingModel.publish_claimed_at.set(now),
                    ListingModel.updated_at.set(now),
                ],
                condition=ListingModel.status == ListingStatus.PENDING,
            )
        except UpdateError as exc:
            if not is_conditional_failure(exc):
                raise
            return False
        return True

    def release_claim(self, listing: ListingModel, now: datetime, error: str | None = None) -> None:
        """``publishing -> pending``: nothing was posted, a retry may publish (no-op if no longer ours)."""
        actions: list[Any] = [
            ListingModel.status.set(ListingStatus.PENDING),
            ListingModel.publish_claimed_at.remove(),
            ListingModel.updated_at.set(now),
        ]
        if error:
            actions.append(ListingModel.publish_error.set(error[:MAX_ERROR_CHARS]))
        try:
            listing.update(actions=actions, condition=ListingModel.status == ListingStatus.PUBLISHING)
        except UpdateError as exc:
            if not is_conditional_failure(exc):
                raise

    def mark_published(self, listing: ListingModel, message_ids: Sequence[int], now: datetime) -> bool:
        """``publishing -> published`` with the message ids; False when it was withdrawn while sending.

        A withdrawn listing keeps its withdrawal status but gets the ids (so its post can be marked), and
        ``listing`` is refreshed to what is stored.
        """
        stored: list[Any] = [
            ListingModel.published_message_ids.set(cast(Any, list(message_ids))),
            ListingModel.published_at.set(now),
            ListingModel.published_day.set(day_of(now)),  # the by-published-day index
            ListingModel.publish_error.remove(),
            ListingModel.updated_at.set(now),
        ]
        try:
            listing.update(
                actions=[*stored, ListingModel.status.set(ListingStatus.PUBLISHED)],
                condition=ListingModel.status == ListingStatus.PUBLISHING,
            )
        except UpdateError as exc:
            if not is_conditional_failure(exc):
                raise
            listing.update(actions=stored)
            listing.refresh(consistent_read=True)
            return False
        return True

    def mark_publish_unknown(self, listing: ListingModel, reason: str, now: datetime) -> None:
        """``publishing -> publish_unknown``: it may be in the channel; never re-sent (at-most-once)."""
        try:
            listing.update(
                actions=[
                    ListingModel.status.set(ListingStatus.PUBLISH_UNKNOWN),
                    ListingModel.publish_error.set(reason[:MAX_ERROR_CHARS]),
                    ListingModel.updated_at.set(now),
                ],
                condition=ListingModel.status == ListingStatus.PUBLISHING,
            )
        except UpdateError as exc:
            if not is_conditional_failure(exc):
                raise

    def count_channel_post(self, channel_id: int, now: datetime) -> None:
        """The source channel's ``published_count`` / ``last_post_at`` (for the admin sheet); best effort."""
        try:
            for row in ChannelModel.by_channel_id.query(int(channel_id)):
                ChannelModel(row.ref).update(
                    actions=[ChannelModel.published_count.add(1), ChannelModel.last_post_at.set(now)],
                    condition=ChannelModel.ref.exists(),
                )
        except Exception:
            logger.warning("could not update channel stats", extra={"channel_id": channel_id}, exc_info=True)
