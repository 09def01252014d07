"""The bot's side of a listing card: the rendered texts (``carsbot.core.cards``) in the user's language,
and the buttons ("Написать", "📞 Контакты")."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from carsbot.core import cards
from carsbot.core.cards import CardListing, write_url

CONTACT_CALLBACK = "c:"  # "c:<listing_id>": open the contact card (checks the subscription each time)

__all__ = ["CONTACT_CALLBACK", "CardListing", "card_keyboard", "card_text", "contacts_button", "paywall_text"]


def teaser_text(listing: CardListing) -> str:
    return cards.teaser_text(listing, _)


def paywall_text(listing: CardListing | None) -> str:
    return cards.paywall_text(listing, _)


def withdrawn_text(listing: CardListing) -> str:
    return cards.withdrawn_text(listing, _)


def card_text(listing: CardListing, news_channel: str) -> str:
    return cards.card_text(listing, news_channel, _)


def card_keyboard(listing: CardListing) -> InlineKeyboardMarkup | None:
    url = write_url(listing)
    if url is None:
        return None
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=_("✍️ Write"), url=url)]])


def contacts_button(listing_id: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_("📞 Contacts"), callback_data=f"{CONTACT_CALLBACK}{listing_id}")
