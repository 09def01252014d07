"""The dedup table: fingerprint slots, each owned by the first listing that claimed it (TTL'd).

``owners`` is the cheap lookup before a listing is built; ``claim`` is the conditional write that
decides between concurrent copies of the same car (which fingerprints a car has, and its slots, is
pure domain: ``carsbot.core.dedup``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pynamodb.exceptions import DoesNotExist, PutError

from carsbot.adapters.db.conditions import is_conditional_failure
from carsbot.adapters.db.models import DedupModel


@dataclass(frozen=True)
class SlotOwner:
    listing_id: str
    price: int | None


@dataclass(frozen=True)
class Claim:
    """``claimed``: the slot is ours now (or already was); ``taken``: ``owner`` has it; ``vanished``: it
    was taken but expired meanwhile (try another slot, or again next time)."""

    result: Literal["claimed", "taken", "vanished"]
    owner: SlotOwner | None = None


def _owner(item: DedupModel) -> SlotOwner:
    return SlotOwner(item.listing_id, int(item.price) if item.price is not None else None)


class FingerprintsRepository:
    """Named reads and writes of ``DedupModel`` items."""

    def owners(self, slots: Sequence[str]) -> dict[str, SlotOwner]:
        """The current owner of each taken slot among ``slots``."""
        if not slots:
            return {}
        return {item.fingerprint: _owner(item) for item in DedupModel.batch_get(list(dict.fromkeys(slots)))}

    def claim(self, slot: str, listing_id: str, price: int | None, expires: datetime) -> Claim:
        """Take ``slot`` for ``listing_id`` unless another listing owns it."""
        item = DedupModel(slot, listing_id=listing_id, price=price)
        item.expires_at = expires
        try:
            item.save(condition=DedupModel.fingerprint.does_not_exist())
            return Claim("claimed")
        except PutError as exc:
            if not is_conditional_failure(exc):
                raise
        try:
            owner = _owner(DedupModel.get(slot, consistent_read=True))
        except DoesNotExist:
            return Claim("vanished")
        if owner.listing_id == listing_id:  # claimed by an earlier attempt of this post
            return Claim("claimed")
        return Claim("taken", owner)
