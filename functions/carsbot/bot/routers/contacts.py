"""The "📞 Контакты" button wherever the bot shows a listing (alerts, cards): the same checks as the deep
link, at the time of the press."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import gettext as _

from carsbot.adapters.db.users import UserModel
from carsbot.bot.cards import CONTACT_CALLBACK
from carsbot.bot.contact_flow import open_contacts
from carsbot.config import Settings
from carsbot.core.formatting import parse_deep_link_payload


def router() -> Router:
    r = Router(name="contacts")

    @r.callback_query(F.data.startswith(CONTACT_CALLBACK))
    async def contacts(
        query: CallbackQuery,
        bot: Bot,
        user_record: UserModel | None,
        settings: Settings,
        clock: Callable[[], datetime],
    ) -> None:
        listing_id = parse_deep_link_payload("l_" + (query.data or "")[len(CONTACT_CALLBACK) :])
        if listing_id is None or query.message is None:
            await query.answer(_("This button is out of date."), show_alert=False)
            return
        await query.answer()
        await open_contacts(
            bot, query.message.chat.id, user_record, listing_id, settings=settings, clock=clock
        )

    return r
