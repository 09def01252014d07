"""Moderation mode: listings that wait for an admin's decision instead of being queued for publishing.

The extract function calls ``hold`` for a new listing while moderation is on: the listing's status
becomes ``AWAITING`` (conditional on ``pending``, so a repeated attempt is harmless) and a queue item
``moderation#<listing id>`` appears in the StateTable (small: one item per waiting or recently decided
listing, expiring 30 days after the decision). The sheets sync lists the items (Очередь), and on the
admin's decision moves the listing on (``approve``: back to ``pending`` + the publish queue) or records
the rejection with its reason.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from carsbot.adapters.db.conditions import is_conditional_failure
from carsbot.adapters.db.models import ListingModel, StateModel
from carsbot.core.states import ListingStatus

PREFIX = "moderation#"
AWAITING = ListingStatus.AWAITING_MODERATION.value  # ListingModel.status while an admin decides
REJECTED = ListingStatus.REJECTED.value  # ListingModel.status after an admin rejected it
KEEP_DECIDED = timedelta(days=30)


def hold(listing: ListingModel, now: datetime | None = None) -> bool:
    """Park a ``pending`` listing for moderation; False when it was no longer pending."""
    now = now or datetime.now(UTC)
    item = StateModel(PREFIX + listing.listing_id, owner="PENDING", updated_at=now)
    item.data = {"post_id": listing.post_id, "received_at": now.isoformat()}
    item.save(condition=StateModel.pk.does_not_exist() | (StateModel.owner == "PENDING"))
    try:
        listing.update(
            actions=[ListingModel.status.set(AWAITING), ListingModel.updated_at.set(now)],
            condition=ListingModel.status == "pending",
        )
    except UpdateError as exc:
        if not is_conditional_failure(exc):
            raise
        return False
    return True


def queue_items() -> list[StateModel]:
    """Every waiting or recently decided item (a scan of the small StateTable)."""
    return list(StateModel.scan(StateModel.pk.startswith(PREFIX), consistent_read=True))


def listing_id_of(item: StateModel) -> str:
    return item.pk[len(PREFIX) :]


def decide(item: StateModel, decision: str, result: str, reason: str | None, now: datetime) -> None:
    data: dict[str, Any] = dict(item.data or {})
    data |= {"result": result, "reason": reason, "decided_at": now.isoformat()}
    item.update(
        actions=[
            StateModel.owner.set(decision),
            StateModel.data.set(data),
            StateModel.updated_at.set(now),
            StateModel.expires_at.set(now + KEEP_DECIDED),
        ]
    )


def move_listing(listing_id: str, to_status: str, now: datetime) -> str | None:
    """``AWAITING`` -> ``to_status``; the status found when it was no longer awaiting (None if moved)."""
    listing = ListingModel(listing_id)
    try:
        listing.update(
            actions=[ListingModel.status.set(to_status), ListingModel.updated_at.set(now)],
            condition=ListingModel.status == AWAITING,
        )
    except UpdateError as exc:
        if not is_conditional_failure(exc):
            raise
        try:
            return str(ListingModel.get(listing_id, consistent_read=True).status)
        except ListingModel.DoesNotExist:
            return "missing"
    return None
