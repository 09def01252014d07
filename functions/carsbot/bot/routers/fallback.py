"""The last router: anything no other router took gets a short answer (never a traceback).

Unknown commands (including admin commands sent by non-admins), free text, stickers, media, edited
messages and stale buttons. Updates of other kinds (channel posts, polls, reactions...) have no handler
and are ignored quietly by aiogram.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from carsbot.bot.keyboards import main_menu


def router() -> Router:
    r = Router(name="fallback")

    @r.message(F.chat.type == "private", F.text.startswith("/"))
    async def unknown_command(message: Message) -> None:
        await message.answer(
            _("I do not know this command. Use the menu or /help."), reply_markup=main_menu()
        )

    @r.message(F.chat.type == "private", F.text)
    async def text(message: Message) -> None:
        await message.answer(
            _("I did not understand. Use the menu buttons below, or /help."), reply_markup=main_menu()
        )

    @r.message(F.chat.type == "private")
    async def other(message: Message) -> None:
        await message.answer(
            _("I can only read text and menu buttons. Use the menu or /help."), reply_markup=main_menu()
        )

    @r.edited_message(F.chat.type == "private")
    async def edited(message: Message) -> None:
        await message.answer(_("I do not read edited messages: please send a new one."))

    @r.callback_query()
    async def stale(query: CallbackQuery) -> None:
        await query.answer(_("This button is out of date."))

    return r
