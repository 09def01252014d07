"""«👤 Моя подписка»: status, end date, days left, auto-renewal on/off, renew."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from carsbot.adapters.db.users import UserModel
from carsbot.bot.keyboards import SUBSCRIPTION, MenuButton, plans_keyboard
from carsbot.config import Settings
from carsbot.core.entitlements import MOSCOW
from carsbot.core.subscriptions import days_left, is_active
from carsbot.observability import logger

AUTO_RENEW_CALLBACK = "autorenew:"  # "autorenew:on" | "autorenew:off"
RENEW_CALLBACK = "renew"


def subscription_text(user: UserModel | None, now: datetime) -> str:
    end = user.subscription_end if user is not None else None
    if not is_active(end, now):
        if end is not None:
            ended = end.astimezone(MOSCOW).strftime("%d.%m.%Y")
            return _("Your subscription ended on {date}. Renew it to see sellers' contacts.").format(
                date=ended
            )
        return _("You have no subscription yet. With one you see sellers' contacts and get alerts.")
    assert end is not None and user is not None
    left = days_left(end, now)
    lines = [
        _("✅ Subscription is active until {date} (Moscow time).").format(
            date=end.astimezone(MOSCOW).strftime("%d.%m.%Y %H:%M")
        ),
        ngettext("{n} day left.", "{n} days left.", left).format(n=left),
        _("Auto-renewal: on.") if user.auto_renew else _("Auto-renewal: off."),
    ]
    return "\n".join(lines)


def subscription_keyboard(user: UserModel | None, now: datetime) -> InlineKeyboardMarkup:
    buttons = [[InlineKeyboardButton(text=_("🔄 Renew"), callback_data=RENEW_CALLBACK)]]
    if user is not None and is_active(user.subscription_end, now):
        toggle = (
            InlineKeyboardButton(text=_("Turn auto-renewal off"), callback_data=f"{AUTO_RENEW_CALLBACK}off")
            if user.auto_renew
            else InlineKeyboardButton(
                text=_("Turn auto-renewal on"), callback_data=f"{AUTO_RENEW_CALLBACK}on"
            )
        )
        buttons.append([toggle])
    return InlineKeyboardMarkup(inline_keyboard=buttons)


def router() -> Router:
    r = Router(name="subscription")

    @r.message(Command("subscription"))
    @r.message(MenuButton(SUBSCRIPTION))
    async def show(message: Message, user_record: UserModel | None, clock: Callable[[], datetime]) -> None:
        now = clock()
        await message.answer(
            subscription_text(user_record, now), reply_markup=subscription_keyboard(user_record, now)
        )

    @r.callback_query(F.data == RENEW_CALLBACK)
    async def renew(query: CallbackQuery, settings: Settings) -> None:
        await query.answer()
        if query.message is not None:
            await query.message.answer(_("Choose a plan:"), reply_markup=plans_keyboard(settings.plans))

    @r.callback_query(F.data.startswith(AUTO_RENEW_CALLBACK))
    async def auto_renew(
        query: CallbackQuery, user_record: UserModel | None, clock: Callable[[], datetime]
    ) -> None:
        wanted = (query.data or "").endswith(":on")
        if user_record is None:
            await query.answer()
            return
        now = clock()
        user_record.update(actions=[UserModel.auto_renew.set(wanted), UserModel.updated_at.set(now)])
        logger.info("auto-renewal switched", extra={"user_id": user_record.user_id, "on": wanted})
        await query.answer(_("Auto-renewal is on.") if wanted else _("Auto-renewal is off."))
        if query.message is not None:
            await query.message.answer(
                subscription_text(user_record, now), reply_markup=subscription_keyboard(user_record, now)
            )

    return r
