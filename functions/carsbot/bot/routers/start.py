"""/start (welcome, main menu, deep links), /help, and the bot being blocked or unblocked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.filters import ChatMemberUpdatedFilter, Command, CommandObject, CommandStart
from aiogram.filters.chat_member_updated import KICKED, MEMBER
from aiogram.types import ChatMemberUpdated, Message
from aiogram.utils.i18n import gettext as _

from carsbot.adapters.db.users import UserModel
from carsbot.bot import accounts
from carsbot.bot.contact_flow import open_contacts
from carsbot.bot.keyboards import HELP, MenuButton, main_menu
from carsbot.config import Settings
from carsbot.core.formatting import parse_deep_link_payload
from carsbot.observability import logger


def help_text() -> str:
    return "\n".join(
        [
            _("I help you find used cars and reach their sellers."),
            "",
            _("• Every post in our channel has a «📞 Seller contacts» link: it opens the card here."),
            _("• «🔎 My searches»: saved searches; I message you when a matching car is published."),
            _("• «💳 Plans» and «👤 My subscription»: contacts are available to subscribers."),
            "",
            _("A search in one line: /alert camry from 2015 up to 1.5 mln Voronezh"),
        ]
    )


def router() -> Router:
    r = Router(name="start")
    r.message.filter(F.chat.type == "private")

    @r.message(CommandStart(deep_link=True))
    async def deep_link(
        message: Message,
        command: CommandObject,
        bot: Bot,
        user_record: UserModel | None,
        settings: Settings,
        clock: Callable[[], datetime],
    ) -> None:
        listing_id = parse_deep_link_payload(command.args or "")
        if listing_id is None:
            await message.answer(
                _("This link is not valid. Open a listing from our channel, or use the menu."),
                reply_markup=main_menu(),
            )
            return
        await open_contacts(bot, message.chat.id, user_record, listing_id, settings=settings, clock=clock)

    @r.message(CommandStart())
    async def start(message: Message) -> None:
        name = message.from_user.first_name if message.from_user else ""
        await message.answer(
            _("Hello, {name}! 🚗").format(name=name or _("friend")) + "\n\n" + help_text(),
            reply_markup=main_menu(),
        )

    @r.message(Command("help"))
    @r.message(MenuButton(HELP))
    async def help_(message: Message) -> None:
        await message.answer(help_text(), reply_markup=main_menu())

    @r.my_chat_member(ChatMemberUpdatedFilter(member_status_changed=KICKED))
    async def blocked(event: ChatMemberUpdated, clock: Callable[[], datetime]) -> None:
        accounts.set_blocked(event.from_user.id, True, clock())
        logger.info("user blocked the bot", extra={"user_id": event.from_user.id})

    @r.my_chat_member(ChatMemberUpdatedFilter(member_status_changed=MEMBER))
    async def unblocked(event: ChatMemberUpdated, clock: Callable[[], datetime]) -> None:
        accounts.set_blocked(event.from_user.id, False, clock())
        logger.info("user unblocked the bot", extra={"user_id": event.from_user.id})

    return r
