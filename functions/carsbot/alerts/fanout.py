"""An ``AlertJob`` (a listing was published) -> one ``NotifyMessage`` per matching subscriber, queued.

The notice is the card's teaser (structured fields only: no contact, no phone digit) and a
"📞 Контакты" button that opens the contact card in the bot, with the subscription checked again at
the press. Its ``dedupe_key`` is ``alert:<user>:<listing>``: a user with several matching searches, or a
job delivered twice, still gets one DM per listing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from carsbot.adapters.db.batch import Key, get_items
from carsbot.adapters.db.bot import BotStateModel, hidden_key
from carsbot.adapters.db.models import ListingModel
from carsbot.alerts.matching import active_recipients, facts_of, match_listing
from carsbot.core.cards import CardListing, teaser_text
from carsbot.core.contracts import AlertJob, NotifyButton, NotifyMessage
from carsbot.core.i18n import translator
from carsbot.observability import add_metric, logger

CONTACT_CALLBACK = "c:"  # the bot's contacts button (carsbot.bot.cards.CONTACT_CALLBACK)

Outbox = Callable[[Sequence[NotifyMessage]], int]


@dataclass
class ExpandResult:
    listing_id: str
    touched: int = 0
    matched: int = 0
    queued: int = 0
    skipped: str | None = None


def alert_message(listing: CardListing, user_id: int, language: str | None) -> NotifyMessage:
    _ = translator((language or "").split("-")[0].lower() or "ru").gettext
    text = _("🔔 A new car matches your saved search:") + "\n\n" + teaser_text(listing, _)
    button = NotifyButton(text=_("📞 Contacts"), callback_data=f"{CONTACT_CALLBACK}{listing.listing_id}")
    return NotifyMessage(
        chat_id=user_id,
        text=text,
        buttons=[[button]],
        dedupe_key=f"alert:{user_id}:{listing.listing_id}",
        category="alert",
    )


def expand(job: AlertJob, *, now: datetime, outbox: Outbox) -> ExpandResult:
    result = ExpandResult(job.listing_id)
    listing_key, hidden_flag = (
        Key(ListingModel, job.listing_id),
        Key(BotStateModel, hidden_key(job.listing_id)),
    )
    found = get_items([listing_key, hidden_flag])  # the listing and its hidden flag: one request
    item = cast(ListingModel | None, found.get(listing_key))
    if item is None:
        result.skipped = "unknown listing"
        return result
    if item.status != "published" or hidden_flag in found:
        result.skipped = f"status {item.status}" if item.status != "published" else "hidden"
        return result
    facts = facts_of(item)
    matched = match_listing(facts)
    result.touched, result.matched = matched.read, matched.matched
    recipients = active_recipients(matched.users, now)
    listing = CardListing.of(item)
    messages = [alert_message(listing, int(user.user_id), user.language) for user in recipients]
    result.queued = outbox(messages) if messages else 0
    add_metric("AlertSearchesTouched", result.touched)
    add_metric("AlertsQueued", result.queued)
    logger.info(
        "alert job expanded",
        extra={
            "listing_id": job.listing_id,
            "touched": result.touched,
            "matched": result.matched,
            "queued": result.queued,
        },
    )
    return result
