"""The publish use-case: a ``ListingMessage`` -> a post in the news channel (or an edit of it).

At most once (docs/publishing.md): a listing is *claimed* with a conditional update
(``pending -> publishing``) before anything is sent, so duplicate deliveries and concurrent
invocations skip it. A definite failure (Telegram refused or never received the request) releases the
claim and raises, so the queue retries; success stores the message ids and ``published``. When the
outcome is unknown (a timeout after the request was written, or a crash that left a stale claim) the
listing becomes ``publish_unknown`` and is *not* re-sent: a missing post is preferable to a
duplicate in a public channel, and the state is logged and counted for operators.

The channel's rate limit (``publish_rate_per_minute``, an album counting as N messages) is shared by
every invocation through a sliding log in the state table (``carsbot.adapters.ratelimit``). Storage
transitions are the named methods of ``ListingsRepository``; states are ``carsbot.core.states``.

Errors that fail the record are raised, not logged: the handler logs each failed record once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from carsbot.adapters.db.listings import ListingsRepository, status_of
from carsbot.adapters.db.models import ListingModel
from carsbot.adapters.media import MediaItem
from carsbot.adapters.ratelimit import RateLimitExceeded, SlidingWindowLimiter, Window
from carsbot.adapters.telegram_bot import (
    OutcomeUnknownError,
    PermanentTelegramError,
    RetryableTelegramError,
    SentPost,
)
from carsbot.config import Settings, get_settings
from carsbot.core.contracts import ListingMessage
from carsbot.core.formatting import CAPTION_LIMIT, TEXT_LIMIT, ListingView, render_post
from carsbot.core.states import WITHDRAWN_LISTING, ListingStatus
from carsbot.observability import add_metric, logger

if TYPE_CHECKING:
    from carsbot.adapters.telegram_bot import ChannelBot

Result = Literal["published", "updated", "removed", "skipped", "unknown"]

# A "publishing" claim older than this is a crashed attempt (the function timeout is 60 s; the queue's
# visibility timeout, after which the same message comes back, is 360 s).
CLAIM_STALE_AFTER = timedelta(seconds=300)
WITHDRAWN = WITHDRAWN_LISTING  # the older name


class PublishError(Exception):
    """Publishing a listing failed; the record must fail (and be retried / dead-lettered)."""


class RetryablePublishError(PublishError):
    """Transient: the queue should deliver the message again (``retry_after`` when known)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitedError(RetryablePublishError):
    """The channel's posting window is full for longer than this invocation may wait."""


class PermanentPublishError(PublishError):
    """Retrying will not help (chat not found, no rights, a rejected post); ends in the DLQ."""


class ListingNotFoundError(PublishError):
    """The message names a listing that does not exist."""


@dataclass
class PublishOutcome:
    listing_id: str
    action: str
    result: Result
    message_ids: list[int] = field(default_factory=list)
    reason: str | None = None


def listing_view(listing: ListingModel) -> ListingView:
    """The formatter's view of a stored listing (contacts only for scrubbing, never rendered)."""
    return ListingView(
        listing_id=listing.listing_id,
        brand=listing.brand,
        model=listing.model,
        year=_int(listing.year),
        price=_int(listing.price),
        market_price=_int(listing.market_price),
        market_estimate=_int(listing.market_estimate),
        saving=_int(listing.saving),
        below_market=bool(listing.below_market),
        mileage=_int(listing.mileage),
        engine_volume=float(listing.engine_volume) if listing.engine_volume else None,
        transmission=listing.transmission,
        drive=listing.drive,
        owners_count=_int(listing.owners_count),
        city=listing.city,
        fuel=listing.fuel,
        autoteka=listing.autoteka,
        equipment=tuple(_strs(listing.equipment)),
        description=listing.description,
        seller_phones=tuple(_strs(listing.phones)),
        seller_usernames=tuple(_strs(listing.usernames)),
    )


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


def _ints(values: Any) -> list[int]:
    return [int(v) for v in values or ()]


def _strs(values: Any) -> list[str]:
    return [str(v) for v in values or ()]


# ---------------------------------------------------------------------- the publisher


class Publisher:
    """Handles publish / update / remove messages for one invocation (one bot session)."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        bot_factory: Callable[[], ChannelBot] | None = None,
        media_loader: Callable[[str, list[str]], list[MediaItem]] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        time_budget: float | None = None,
        max_rate_wait: float = 25.0,
        claim_stale_after: timedelta = CLAIM_STALE_AFTER,
        listings: ListingsRepository | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.listings = listings or ListingsRepository()
        self._bot_factory = bot_factory
        self._bot: ChannelBot | None = None
        self._media_loader = media_loader
        self._clock = clock
        self._sleep = sleep
        self._deadline = clock() + time_budget if time_budget is not None else None
        self.max_rate_wait = max_rate_wait
        self.claim_stale_after = claim_stale_after
        self.channel = self.settings.news_channel_id
        window = Window(self.channel, max(1, self.settings.publish_rate_per_minute), 60.0)
        self.limiter = SlidingWindowLimiter(window, clock=clock, sleep=sleep)
        self._blocked_until = 0.0  # after a long 429 / full window: fail the rest of the batch fast

    # ------------------------------------------------------------------ resources

    @property
    def bot(self) -> ChannelBot:
        if self._bot is None:
            if self._bot_factory is not None:
                self._bot = self._bot_factory()
            else:
                from carsbot.adapters.telegram_bot import ChannelBot

                self._bot = ChannelBot.from_settings(self.settings, sleep=self._sleep)
        return self._bot

    def close(self) -> None:
        if self._bot is not None:
            self._bot.close()
            self._bot = None

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _max_wait(self) -> float:
        if self._deadline is None:
            return self.max_rate_wait
        return max(0.0, min(self.max_rate_wait, self._deadline - self._clock()))

    def _reserve(self, n: int) -> None:
        now = self._clock()
        if now < self._blocked_until:
            raise RateLimitedError("channel is rate limited", retry_after=self._blocked_until - now)
        try:
            self.limiter.acquire(n, max_wait=self._max_wait())
        except RateLimitExceeded as exc:
            self._blocked_until = self._clock() + (exc.retry_after or 1)
            add_metric("PublishRateLimited")
            raise RateLimitedError(
                f"channel {self.channel} is at its limit of {self.settings.publish_rate_per_minute} "
                "messages a minute",
                retry_after=exc.retry_after,
            ) from exc

    def _on_retry_after(self, exc: RetryableTelegramError) -> None:
        if exc.retry_after:
            self._blocked_until = max(self._blocked_until, self._clock() + exc.retry_after)

    # ------------------------------------------------------------------ entry point

    def handle(self, message: ListingMessage) -> PublishOutcome:
        listing = self.listings.find(message.listing_id)
        if listing is None:
            raise ListingNotFoundError(f"listing {message.listing_id} does not exist")
        if message.action == "publish":
            return self.publish(listing)
        if message.action == "update":
            return self.update(listing)
        return self.remove(listing)

    # ------------------------------------------------------------------ publish

    def _claim_is_stale(self, listing: ListingModel) -> bool:
        claimed = listing.publish_claimed_at
        return claimed is None or self._now() - claimed > self.claim_stale_after

    def publish(self, listing: ListingModel) -> PublishOutcome:
        lid = listing.listing_id
        status = status_of(listing)
        if status == ListingStatus.PUBLISHING:
            if self._claim_is_stale(listing):
                return self._mark_unknown(listing, "stale publishing claim (an earlier attempt crashed)")
            return self._skip(listing, "publish", "claimed by another invocation")
        if status != ListingStatus.PENDING:
            return self._skip(listing, "publish", f"status is {status}")
        if not self.listings.claim_for_publish(listing, self._now()):
            return self._skip(listing, "publish", "lost the claim to a concurrent delivery")

        try:
            sent = self._send_new(listing)
        except OutcomeUnknownError as exc:
            return self._mark_unknown(listing, str(exc))
        except RetryableTelegramError as exc:
            self._release(listing, str(exc))
            self._on_retry_after(exc)
            add_metric("PublishRetried")
            raise RetryablePublishError(f"listing {lid}: {exc}", retry_after=exc.retry_after) from exc
        except PermanentTelegramError as exc:
            self._release(listing, str(exc))
            add_metric("PublishFailed")
            raise PermanentPublishError(f"listing {lid}: {exc}") from exc
        except BaseException:
            # Anything before Telegram accepted the post (rate limit window, S3, rendering): not sent.
            self._release(listing, None)
            raise
        return self._record_published(listing, sent)

    def _send_new(self, listing: ListingModel) -> SentPost:
        view = listing_view(listing)
        bot_username = self.settings.bot_username
        media = self._load_media(listing)
        if media:
            self._reserve(len(media))
            caption = render_post(view, bot_username, CAPTION_LIMIT)
            try:
                return self.bot.send_media(self.channel, caption, media)
            except PermanentTelegramError as exc:
                if exc.chat_level:
                    raise
                # The media itself was refused (format, size...): publish the post as text instead.
                logger.warning(
                    "media rejected, publishing as text",
                    extra={"listing_id": listing.listing_id, "error": exc.description},
                )
                add_metric("PublishMediaFallback")
        self._reserve(1)
        return self.bot.send_text(self.channel, render_post(view, bot_username, TEXT_LIMIT))

    def _load_media(self, listing: ListingModel) -> list[MediaItem]:
        keys = _strs(listing.media_keys)[:10]
        bucket = self.settings.media_bucket
        if not keys or not bucket:
            return []
        if self._media_loader is not None:
            return self._media_loader(bucket, keys)
        from carsbot.adapters.media import load_media

        return load_media(bucket, keys)

    def _release(self, listing: ListingModel, error: str | None) -> None:
        """Give the claim back (nothing was posted) so a retry may publish."""
        self.listings.release_claim(listing, self._now(), error)

    def _record_published(self, listing: ListingModel, sent: SentPost) -> PublishOutcome:
        now = self._now()
        lid = listing.listing_id
        # False: withdrawn (sold/deleted at the source) while we were sending; the ids are kept, the post
        # is marked below.
        withdrawn = not self.listings.mark_published(listing, sent.message_ids, now)
        withdrawn = withdrawn and status_of(listing) in WITHDRAWN_LISTING
        add_metric("ListingsPublished")
        if listing.created_at is not None:  # dashboard + PublishLatencyAlarm (p95): listing created -> posted
            add_metric("PublishLatency", max(0.0, (now - listing.created_at).total_seconds()), "Seconds")
        if len(sent.message_ids) > 1:
            add_metric("PublishedAlbumItems", len(sent.message_ids))
        logger.info(
            "listing published",
            extra={"listing_id": lid, "message_ids": sent.message_ids, "kind": sent.kind},
        )
        if listing.channel_id is not None:
            self.listings.count_channel_post(int(listing.channel_id), now)
        if withdrawn:
            try:
                self.remove(listing)
            except PublishError as exc:  # the "remove" message queued by the withdrawal retries it
                logger.warning(
                    "could not mark the withdrawn listing yet", extra={"listing_id": lid, "error": str(exc)}
                )
        return PublishOutcome(lid, "publish", "published", list(sent.message_ids))

    def _mark_unknown(self, listing: ListingModel, reason: str) -> PublishOutcome:
        self.listings.mark_publish_unknown(listing, reason, self._now())
        add_metric("PublishOutcomeUnknown")
        logger.error(
            "publish outcome unknown; not re-sending (at-most-once)",
            extra={"listing_id": listing.listing_id, "reason": reason},
        )
        return PublishOutcome(listing.listing_id, "publish", "unknown", reason=reason)

    def _skip(self, listing: ListingModel, action: str, reason: str) -> PublishOutcome:
        add_metric("PublishSkipped")
        logger.info(
            "listing skipped", extra={"listing_id": listing.listing_id, "action": action, "reason": reason}
        )
        return PublishOutcome(
            listing.listing_id, action, "skipped", _ints(listing.published_message_ids), reason
        )

    # ------------------------------------------------------------------ update / remove

    def _edit(self, listing: ListingModel, *, removed: bool) -> None:
        """Re-render the published post (caption for media posts, text otherwise)."""
        ids = _ints(listing.published_message_ids)
        view = listing_view(listing)
        first = min(ids)
        caption = render_post(view, self.settings.bot_username, CAPTION_LIMIT, removed=removed)
        text = render_post(view, self.settings.bot_username, TEXT_LIMIT, removed=removed)
        media_first = len(ids) > 1 or bool(listing.media_keys)
        self._reserve(1)
        try:
            try:
                if media_first:
                    self.bot.edit_caption(self.channel, first, caption)
                else:
                    self.bot.edit_text(self.channel, first, text)
            except PermanentTelegramError as exc:
                if not exc.kind_mismatch:
                    raise
                if media_first:
                    self.bot.edit_text(self.channel, first, text)
                else:
                    self.bot.edit_caption(self.channel, first, caption)
        except RetryableTelegramError as exc:  # edits are idempotent: an unknown outcome is retried too
            self._on_retry_after(exc)
            raise RetryablePublishError(f"listing {listing.listing_id}: {exc}", exc.retry_after) from exc
        except PermanentTelegramError as exc:
            add_metric("PublishEditFailed")
            raise PermanentPublishError(f"listing {listing.listing_id}: editing the post: {exc}") from exc

    def update(self, listing: ListingModel) -> PublishOutcome:
        status = status_of(listing)
        ids = _ints(listing.published_message_ids)
        if status in WITHDRAWN_LISTING:
            return self._skip(listing, "update", f"status is {status}")
        if ids:
            self._edit(listing, removed=False)
            self.listings.touch(listing, self._now())
            add_metric("ListingsUpdated")
            return PublishOutcome(listing.listing_id, "update", "updated", ids)
        if status == ListingStatus.PUBLISHING and not self._claim_is_stale(listing):
            # The post is being sent right now, maybe with the old data: come back after it.
            raise RetryablePublishError(f"listing {listing.listing_id} is being published; update later")
        return self._skip(listing, "update", f"nothing published (status {status})")

    def remove(self, listing: ListingModel) -> PublishOutcome:
        status = status_of(listing)
        ids = _ints(listing.published_message_ids)
        final = status if status in WITHDRAWN_LISTING else ListingStatus.REMOVED
        if ids:
            self._edit(listing, removed=True)
        elif status == ListingStatus.PUBLISHING and not self._claim_is_stale(listing):
            raise RetryablePublishError(f"listing {listing.listing_id} is being published; remove later")
        if status != final:
            self.listings.withdraw(listing, final, self._now())
        add_metric("ListingsRemoved")
        logger.info("listing withdrawn", extra={"listing_id": listing.listing_id, "message_ids": ids})
        return PublishOutcome(listing.listing_id, "remove", "removed", ids)
