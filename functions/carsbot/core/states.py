"""The named states of the things carsbot stores, and the transitions between them.

Values are the strings stored in DynamoDB (``StrEnum``: a member equals its string, so stored items,
sheets and older code keep working). The storage side of each transition — the conditional write that
makes it safe under concurrent deliveries — is a named method of the repositories in
``carsbot.adapters.db`` (``listings.ListingsRepository``, ``posts.PostsRepository``).

Listing (one car, however many channels posted it)::

    pending ──claim──▶ publishing ──sent──▶ published ──withdraw──▶ removed | sold
       ▲                  │  │
       └──release (not sent)  └──outcome unknown / stale claim──▶ publish_unknown (never re-sent)
    pending ──lost the fingerprint race──▶ duplicate
    pending | publishing | publish_unknown ──withdraw──▶ removed | sold

Post (every source post)::

    received ──▶ listing | rejected | duplicate      listing ──deleted / sold──▶ removed
    rejected ──edited into a sale──▶ listing          received ──deleted──▶ removed
"""

from __future__ import annotations

from enum import StrEnum


class ListingStatus(StrEnum):
    PENDING = "pending"  # extracted, waiting for the publisher
    PUBLISHING = "publishing"  # claimed by one publish attempt (publish_claimed_at says when)
    PUBLISHED = "published"  # in the news channel (published_message_ids)
    PUBLISH_UNKNOWN = "publish_unknown"  # an attempt may or may not have posted it: never re-sent
    REMOVED = "removed"  # deleted at the source (or withdrawn by an admin)
    SOLD = "sold"  # the source post says it is sold
    DUPLICATE = "duplicate"  # lost the fingerprint race to another listing of the same car
    AWAITING_MODERATION = "moderation"  # moderation mode: waits for an admin in the sheet (carsbot.sheets)
    REJECTED = "rejected"  # an admin rejected it in moderation


# The seller withdrew it: the published post (if any) is marked "sold / removed".
WITHDRAWN_LISTING = frozenset({ListingStatus.REMOVED, ListingStatus.SOLD})
# On its way to or in the channel: counts for market estimates, and an edit re-renders or re-queues it.
ACTIVE_LISTING = frozenset({ListingStatus.PENDING, ListingStatus.PUBLISHING, ListingStatus.PUBLISHED})
# A post may exist (or be about to) in the channel: a withdrawal must queue a "remove".
MAYBE_POSTED_LISTING = frozenset(
    {ListingStatus.PUBLISHING, ListingStatus.PUBLISHED, ListingStatus.PUBLISH_UNKNOWN}
)


class PostStatus(StrEnum):
    RECEIVED = "received"  # stored, not yet decided
    LISTING = "listing"  # became a listing (listing_id)
    REJECTED = "rejected"  # not a sale, or filtered out (reason)
    DUPLICATE = "duplicate"  # the same car as an existing listing (listing_id = the original)
    REMOVED = "removed"  # deleted at the source, or its listing was withdrawn


# Decided: a redelivery of the same post changes nothing.
FINAL_POST = frozenset({PostStatus.LISTING, PostStatus.REJECTED, PostStatus.DUPLICATE, PostStatus.REMOVED})
# An edit is classified again from scratch (it may have become a sale).
RECLASSIFIABLE_POST = frozenset({PostStatus.RECEIVED, PostStatus.REJECTED})


class ChannelStatus(StrEnum):
    """A source channel as the admins set it (the channels registry and the monitor obey it)."""

    ACTIVE = "active"
    PAUSED = "paused"
    REMOVED = "removed"


class MonitorState(StrEnum):
    """The Telethon monitor's phase (in its heartbeat file and logs)."""

    CREATED = "created"
    STANDBY = "standby"  # waiting for the lease (another task holds it)
    WAITING_SESSION = "waiting-session"  # holds the lease, no usable session secret yet
    CONNECTING = "connecting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
