"""Source channels: link parsing and the channel registry (application layer, shared by every entry point).

The monitor watches what the registry holds; the ``carsbot channels`` commands, the bot's admin commands
and the sheets console change it. Public API::

    from carsbot.channels import ChannelRegistry, parse_channel_ref

    registry = ChannelRegistry()                      # tables bound by carsbot.adapters.db.bind_tables
    record, created = registry.add("t.me/cars_kzn")   # or @name, t.me/+HASH, t.me/joinchat/HASH
    registry.pause("@cars_kzn")                        # by reference or numeric id (1234 / -1001234)
    registry.resume("@cars_kzn", skip_missed=False)
    registry.remove("@cars_kzn")
    registry.list_channels("active")                   # [ChannelRecord, ...] sorted by ref
    parse_channel_ref("https://t.me/Cars_KZN").ref     # "@cars_kzn" (raises InvalidChannelRef)
"""

from __future__ import annotations

from carsbot.channels.refs import ChannelRef, InvalidChannelRef, RefKind, parse_channel_ref, peer_channel_id
from carsbot.channels.registry import (
    FAST_FORWARD,
    ChannelNotFound,
    ChannelRecord,
    ChannelRegistry,
    ChannelStatus,
)

__all__ = [
    "FAST_FORWARD",
    "ChannelNotFound",
    "ChannelRecord",
    "ChannelRef",
    "ChannelRegistry",
    "ChannelStatus",
    "InvalidChannelRef",
    "RefKind",
    "parse_channel_ref",
    "peer_channel_id",
]
