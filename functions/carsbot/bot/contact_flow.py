"""Opening a listing in the bot: the contact card, the paywall, or a polite refusal.

The same path serves the deep link ``/start l_<listing>`` and every "📞 Контакты" button, and checks
the subscription at the moment of the request (an old card's button pressed after the subscription
ended shows the paywall). A new card is counted before it is sent and the count taken back if Telegram
refuses it, so parallel requests never pass the daily cap and only sent cards count. The reads are one
request (``contact_log.lookup``: the listing, its hidden flag, the request row, today's counter), the count
one transaction (``contact_log.reserve``, new cards only).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from aiogram import Bot
from aiogram.utils.i18n import gettext as _

from carsbot.adapters.db.models import ListingModel
from carsbot.adapters.db.users import UserModel
from carsbot.bot import contact_log
from carsbot.bot.cards import CardListing, card_keyboard, card_text, paywall_text, withdrawn_text
from carsbot.bot.keyboards import plans_keyboard
from carsbot.config import Settings
from carsbot.core.entitlements import ContactAccess
from carsbot.observability import add_metric, logger

RESERVE_ATTEMPTS = 3  # a lost race is decided again; three losses in a row are refused, never shown free
VISIBLE_STATUSES = ("published", "publishing", "publish_unknown", "pending", "removed", "sold")


def visible(item: ListingModel | None, hidden: bool) -> CardListing | None:
    """The listing as the bot may show it; ``None`` when unknown, a duplicate or hidden by an admin."""
    if item is None or hidden or (item.status or "pending") not in VISIBLE_STATUSES:
        return None
    return CardListing.of(item)


def load_listing(listing_id: str) -> CardListing | None:
    """``visible`` for a listing read now (with its hidden flag, in one request)."""
    seen = contact_log.lookup(None, listing_id, datetime.now(UTC))
    return visible(seen.listing, seen.hidden)


async def open_contacts(
    bot: Bot,
    chat_id: int,
    user: UserModel | None,
    listing_id: str,
    *,
    settings: Settings,
    clock: Callable[[], datetime],
) -> ContactAccess | None:
    """Answer a contacts request in ``chat_id``; returns the decision (``None``: no such listing)."""
    now = clock()
    seen = contact_log.lookup(user, listing_id, now)
    listing = visible(seen.listing, seen.hidden)
    if listing is None:
        await bot.send_message(chat_id, _("This listing was not found. It may have been removed."))
        return None
    if listing.withdrawn:
        await bot.send_message(chat_id, withdrawn_text(listing))
        return None
    cap = settings.contact_daily_cap
    decision = contact_log.decide(user, seen, now, cap)
    counted = False
    for _attempt in range(RESERVE_ATTEMPTS):
        if decision is not ContactAccess.GRANTED or user is None:
            break
        counted = contact_log.reserve(int(user.user_id), listing_id, now, cap)
        if counted:
            break
        # A parallel request opened this card or took the last of today's allowance: decide again on
        # what is stored now (consistent reads).
        decision = contact_log.decide(user, contact_log.lookup(user, listing_id, now), now, cap)
    if decision is ContactAccess.GRANTED and not counted:  # contended on every attempt: refuse, never
        decision = ContactAccess.DAILY_CAP  # show a card that was not counted
    if decision is ContactAccess.PAYWALL:
        plans = list(settings.plans)
        await bot.send_message(chat_id, paywall_text(listing), reply_markup=plans_keyboard(plans))
        add_metric("ContactPaywallShown")
        return decision
    if decision is ContactAccess.DAILY_CAP:
        add_metric("ContactDailyCapReached")
        logger.warning("contact daily cap reached", extra={"user_id": chat_id, "cap": cap})
        await bot.send_message(
            chat_id,
            _(
                "You have opened {cap} contact cards today, the daily limit. "
                "New cards will open tomorrow; cards you have already opened stay available."
            ).format(cap=cap),
        )
        return decision
    try:
        await bot.send_message(
            chat_id, card_text(listing, settings.news_channel_id), reply_markup=card_keyboard(listing)
        )
    except BaseException:
        if counted and user is not None:
            contact_log.release(int(user.user_id), listing_id, now)
        raise
    if counted:
        add_metric("ContactRequests")
    logger.info("contact card sent", extra={"user_id": chat_id, "listing_id": listing_id, "how": decision})
    return decision
