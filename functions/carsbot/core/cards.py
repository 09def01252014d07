"""What the bot shows of a listing: the contact card (subscribers) and the teaser (everyone else). Pure.

The teaser is built from structured fields only (make, model, year, price, mileage, city) — never from
free text, so no seller contact and no digit of a phone can reach a non-subscriber. The card adds the
seller's @username as a link, each phone in ``<code>`` (one tap copies it in Telegram), a link to our
channel post and to the original (and the bot adds a "Написать" button). Every source string is
HTML-escaped. Texts come from the catalogue through ``_`` (the caller's gettext: aiogram's in the bot,
``carsbot.core.i18n.translator`` in the alerts fan-out).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from carsbot.core.formatting import format_mileage, format_rub

Translate = Callable[[str], str]
_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
_PHONE = re.compile(r"^\+\d{7,15}$")
WITHDRAWN = ("removed", "sold")


@dataclass(frozen=True)
class CardListing:
    """The listing fields the bot shows (read from ``ListingModel``)."""

    listing_id: str
    status: str
    brand: str | None
    model: str | None
    year: int | None
    price: int | None
    mileage: int | None
    city: str | None
    phones: tuple[str, ...]
    usernames: tuple[str, ...]
    source_link: str | None
    published_message_ids: tuple[int, ...]

    @classmethod
    def of(cls, item: Any) -> CardListing:
        def num(value: Any) -> int | None:
            return int(value) if value is not None else None

        return cls(
            listing_id=str(item.listing_id),
            status=str(item.status or "pending"),
            brand=item.brand,
            model=item.model,
            year=num(item.year),
            price=num(item.price),
            mileage=num(item.mileage),
            city=item.city,
            phones=tuple(str(p) for p in item.phones or ()),
            usernames=tuple(str(u) for u in item.usernames or ()),
            source_link=item.source_link,
            published_message_ids=tuple(sorted(int(i) for i in item.published_message_ids or ())),
        )

    @property
    def withdrawn(self) -> bool:
        return self.status in WITHDRAWN

    def title(self, _: Translate) -> str:
        name = " ".join(part for part in (self.brand, self.model) if part)
        return name or _("Car")


def channel_post_link(news_channel: str, message_ids: tuple[int, ...]) -> str | None:
    """``https://t.me/<channel>/<id>`` (or ``t.me/c/<id>/<id>`` for a numeric channel id)."""
    if not message_ids:
        return None
    first = message_ids[0]
    channel = news_channel.strip()
    if channel.startswith("@"):
        return f"https://t.me/{channel[1:]}/{first}"
    if channel.startswith("-100") and channel[4:].isdigit():
        return f"https://t.me/c/{channel[4:]}/{first}"
    return None


def _summary_lines(listing: CardListing, _: Translate) -> list[str]:
    e = html.escape
    title = f"🚗 <b>{e(listing.title(_))}</b>"
    if listing.year:
        title += f", {listing.year}"
    lines = [title]
    details = []
    if listing.price:
        details.append(f"💰 <b>{e(format_rub(listing.price))}</b>")
    if listing.mileage is not None:
        details.append(f"🛣 {e(format_mileage(listing.mileage))}")
    if listing.city:
        details.append(f"📍 {e(listing.city)}")
    if details:
        lines.append(" · ".join(details))
    return lines


def teaser_text(listing: CardListing, _: Translate) -> str:
    """A short description of the car for non-subscribers and alerts: no contacts, no free text."""
    return "\n".join(_summary_lines(listing, _))


def paywall_text(listing: CardListing | None, _: Translate) -> str:
    head = [teaser_text(listing, _), ""] if listing is not None else []
    return "\n".join(
        [*head, _("🔒 The seller's contacts are available to subscribers."), _("Choose a plan:")]
    )


def withdrawn_text(listing: CardListing, _: Translate) -> str:
    return "\n".join([teaser_text(listing, _), "", _("❌ This car has been sold or withdrawn from sale.")])


def card_text(listing: CardListing, news_channel: str, _: Translate) -> str:
    e = html.escape
    lines = _summary_lines(listing, _)
    lines.append("")
    usernames = [u for u in listing.usernames if _USERNAME.match(u)]
    for name in usernames:
        lines.append(_("👤 Seller: {link}").format(link=f'<a href="https://t.me/{name}">@{e(name)}</a>'))
    for phone in listing.phones:
        lines.append(_("📞 Phone: {phone}").format(phone=f"<code>{e(phone)}</code>"))
    if not usernames and not listing.phones:
        lines.append(_("The seller left no contacts in the ad: see the original post."))
    links = []
    ours = channel_post_link(news_channel, listing.published_message_ids)
    if ours:
        links.append(f'<a href="{e(ours, quote=True)}">{e(_("Our post"))}</a>')
    if listing.source_link and listing.source_link.startswith("https://"):
        links.append(f'<a href="{e(listing.source_link, quote=True)}">{e(_("Original post"))}</a>')
    if links:
        lines += ["", "🔗 " + " · ".join(links)]
    return "\n".join(lines)


def write_url(listing: CardListing) -> str | None:
    """Where "Написать" leads: the seller's Telegram, else a chat by phone number."""
    for name in listing.usernames:
        if _USERNAME.match(name):
            return f"https://t.me/{name}"
    for phone in listing.phones:
        if _PHONE.match(phone):
            return f"https://t.me/{phone}"
    return None
