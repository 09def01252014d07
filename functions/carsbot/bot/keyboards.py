"""Keyboards: the persistent main menu, plan buttons, and the menu-button filter.

Menu buttons are matched by their text in the user's language (``MenuButton("...")`` compares with the
translation at the time of the update), so a second language needs no code change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiogram.filters import Filter
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
)
from aiogram.utils.i18n import gettext as _

from carsbot.bot.i18n import N_
from carsbot.core.formatting import format_rub
from carsbot.core.subscriptions import Plan

# msgids of the main menu buttons (translated when shown and when matched)
SEARCHES = N_("🔎 My searches")
PLANS = N_("💳 Plans")
SUBSCRIPTION = N_("👤 My subscription")
HELP = N_("❓ Help")
PLAN_CALLBACK = "plan:"  # "plan:<code>"


def main_menu() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text=_(SEARCHES)), KeyboardButton(text=_(PLANS))],
            [KeyboardButton(text=_(SUBSCRIPTION)), KeyboardButton(text=_(HELP))],
        ],
        resize_keyboard=True,
        is_persistent=True,
    )


class MenuButton(Filter):
    """A message whose text is the (translated) label of a menu button."""

    def __init__(self, msgid: str) -> None:
        self.msgid = msgid

    async def __call__(self, message: Message, **_data: Any) -> bool:
        return bool(message.text) and message.text == _(self.msgid)


def plan_label(plan: Plan) -> str:
    return _("{title} — {price}").format(title=plan.title, price=format_rub(plan.price_rub))


def plans_keyboard(plans: Sequence[Plan]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=plan_label(plan), callback_data=f"{PLAN_CALLBACK}{plan.code}")]
            for plan in plans
        ]
    )


def rows(*buttons: InlineKeyboardButton | None) -> InlineKeyboardMarkup:
    """An inline keyboard with one button a row (``None`` entries skipped)."""
    return InlineKeyboardMarkup(inline_keyboard=[[b] for b in buttons if b is not None])
