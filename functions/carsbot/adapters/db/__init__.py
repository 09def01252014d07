"""DynamoDB data layer (pynamodb). Table names come from settings; see docs/data-model.md."""

from __future__ import annotations

from carsbot.adapters.db.binding import bind_tables, bound_settings
from carsbot.adapters.db.models import (
    ChannelModel,
    DedupModel,
    ListingModel,
    PostModel,
    StateModel,
)

__all__ = [
    "ChannelModel",
    "DedupModel",
    "ListingModel",
    "PostModel",
    "StateModel",
    "bind_tables",
    "bound_settings",
]
