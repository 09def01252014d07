"""«🔎 Мои поиски»: saved searches by a short dialog or in one line (``/alert камри от 2015 ...``).

The dialog asks for make/model, years, maximum price and city, each skippable, and keeps its progress
in the FSM (DynamoDB, TTL'd). Both ways parse with the extraction core's normalisers
(``carsbot.core.alerts``). A user has at most ``max_searches_per_user`` searches (10).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from carsbot.adapters.db.users import UserModel
from carsbot.bot import saved_searches
from carsbot.bot.i18n import N_
from carsbot.bot.keyboards import SEARCHES, MenuButton, main_menu
from carsbot.config import Settings
from carsbot.core.alerts import (
    AlertParseError,
    SearchCriteria,
    parse_alert,
    parse_price_max,
    with_year_range,
)
from carsbot.core.extraction.normalize import find_city, find_vehicle
from carsbot.observability import logger

NEW = "search:new"
SKIP = "search:skip"
CANCEL = "search:cancel"
DELETE = "search:del:"  # "search:del:<search_id>"


class NewSearch(StatesGroup):
    car = State()
    years = State()
    price = State()
    city = State()


PROMPTS = {
    NewSearch.car.state: N_("Which make and model? For example: «Toyota Camry» or «solaris»."),
    NewSearch.years.state: N_("Which years? For example: «2015», «from 2015» or «2015-2019»."),
    NewSearch.price.state: N_("Maximum price? For example: «1.5 mln» or «900k»."),
    NewSearch.city.state: N_("Which city?"),
}
ORDER = [NewSearch.car, NewSearch.years, NewSearch.price, NewSearch.city]
PARSE_ERRORS = {
    "empty": N_("I did not understand the search. Example: /alert camry from 2015 up to 1.5 mln Voronezh"),
    "too_long": N_("That is too long for a search. Example: /alert camry from 2015 up to 1.5 mln Voronezh"),
    "nothing_recognised": N_(
        "I did not recognise a make, model, year, price or city. "
        "Example: /alert camry from 2015 up to 1.5 mln Voronezh"
    ),
}


def _step_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=_("Skip"), callback_data=SKIP),
                InlineKeyboardButton(text=_("Cancel"), callback_data=CANCEL),
            ]
        ]
    )


def _list_view(user_id: int, limit: int) -> tuple[str, InlineKeyboardMarkup]:
    items = saved_searches.list_searches(user_id)
    buttons: list[list[InlineKeyboardButton]] = []
    if not items:
        text = _("You have no saved searches. Create one and I will message you about matching cars.")
    else:
        lines = [_("Your searches ({count} of {limit}):").format(count=len(items), limit=limit)]
        for index, item in enumerate(items, 1):
            summary = saved_searches.describe(saved_searches.criteria_of(item))
            lines.append(f"{index}. {summary}")
            buttons.append(
                [
                    InlineKeyboardButton(
                        text=_("🗑 Delete {n}").format(n=index), callback_data=f"{DELETE}{item.search_id}"
                    )
                ]
            )
        text = "\n".join(lines)
    if len(items) < limit:
        buttons.append([InlineKeyboardButton(text=_("➕ New search"), callback_data=NEW)])
    return text, InlineKeyboardMarkup(inline_keyboard=buttons)


async def _save(
    message: Message, user: UserModel, criteria: SearchCriteria, settings: Settings, now: datetime
) -> None:
    try:
        saved_searches.create(int(user.user_id), criteria, limit=settings.max_searches_per_user, now=now)
    except saved_searches.SearchLimitReached:
        await message.answer(
            _("You already have {limit} searches, the maximum. Delete one to add another.").format(
                limit=settings.max_searches_per_user
            ),
            reply_markup=main_menu(),
        )
        return
    logger.info("saved search created", extra={"user_id": user.user_id, "match_key": criteria.match_key})
    await message.answer(
        _("✅ Search saved: {summary}. I will message you when a matching car is published.").format(
            summary=saved_searches.describe(criteria)
        ),
        reply_markup=main_menu(),
    )


def _criteria(data: dict[str, Any]) -> SearchCriteria:
    return SearchCriteria(**data.get("criteria", {}))


async def _advance(
    message: Message,
    state: FSMContext,
    criteria: SearchCriteria,
    user: UserModel,
    settings: Settings,
    now: datetime,
) -> None:
    current = await state.get_state()
    index = next((i for i, s in enumerate(ORDER) if s.state == current), -1)
    if index + 1 >= len(ORDER):
        await state.clear()
        if criteria.empty:
            await message.answer(_("The search is empty: nothing saved."), reply_markup=main_menu())
            return
        await _save(message, user, criteria, settings, now)
        return
    following = ORDER[index + 1]
    await state.set_state(following)
    await state.update_data(criteria=asdict(criteria))
    await message.answer(_(PROMPTS[str(following.state)]), reply_markup=_step_keyboard())


def _parse_step(step: str | None, text: str, criteria: SearchCriteria) -> SearchCriteria:
    if step == NewSearch.car.state:
        vehicle = find_vehicle(text)
        if not vehicle.brand:
            raise AlertParseError("bad_car")
        return replace(criteria, brand=vehicle.brand, model=vehicle.model)
    if step == NewSearch.years.state:
        return with_year_range(criteria, text)
    if step == NewSearch.price.state:
        return replace(criteria, price_max=parse_price_max(text))
    city = find_city(text) or find_city(f"г. {text}")
    if not city:
        raise AlertParseError("bad_city")
    return replace(criteria, city=city)


STEP_ERRORS = {
    "bad_car": N_("I did not recognise the make. Write it like «Toyota Camry» or «camry», or tap «Skip»."),
    "bad_year": N_(
        "I did not understand the years. Write «2015», «from 2015» or «2015-2019», or tap «Skip»."
    ),
    "bad_price": N_("I did not understand the price. Write «1.5 mln» or «900k», or tap «Skip»."),
    "bad_city": N_("I do not know this city. Write it like «Voronezh», or tap «Skip»."),
}


def router() -> Router:
    r = Router(name="searches")
    r.message.filter(F.chat.type == "private")

    @r.message(Command("searches"))
    @r.message(MenuButton(SEARCHES))
    async def show(message: Message, user_record: UserModel | None, settings: Settings) -> None:
        if user_record is None:
            return
        text, keyboard = _list_view(int(user_record.user_id), settings.max_searches_per_user)
        await message.answer(text, reply_markup=keyboard)

    @r.message(Command("alert"))
    async def one_line(
        message: Message,
        command: CommandObject,
        user_record: UserModel | None,
        settings: Settings,
        clock: Callable[[], datetime],
    ) -> None:
        if user_record is None:
            return
        try:
            criteria = parse_alert(command.args or "")
        except AlertParseError as exc:
            await message.answer(_(PARSE_ERRORS.get(exc.reason, PARSE_ERRORS["nothing_recognised"])))
            return
        await _save(message, user_record, criteria, settings, clock())

    @r.callback_query(F.data == NEW)
    async def new(query: CallbackQuery, state: FSMContext) -> None:
        await query.answer()
        await state.set_state(NewSearch.car)
        await state.set_data({"criteria": {}})
        if query.message is not None:
            await query.message.answer(_(PROMPTS[NewSearch.car.state]), reply_markup=_step_keyboard())

    @r.callback_query(F.data == CANCEL)
    async def cancel(query: CallbackQuery, state: FSMContext) -> None:
        await state.clear()
        await query.answer()
        if query.message is not None:
            await query.message.answer(_("Cancelled."), reply_markup=main_menu())

    @r.callback_query(F.data == SKIP, StateFilter(NewSearch))
    async def skip(
        query: CallbackQuery,
        state: FSMContext,
        user_record: UserModel | None,
        settings: Settings,
        clock: Callable[[], datetime],
    ) -> None:
        await query.answer()
        if query.message is None or user_record is None or not isinstance(query.message, Message):
            return
        await _advance(
            query.message, state, _criteria(await state.get_data()), user_record, settings, clock()
        )

    @r.message(StateFilter(NewSearch), F.text)
    async def answer_step(
        message: Message,
        state: FSMContext,
        user_record: UserModel | None,
        settings: Settings,
        clock: Callable[[], datetime],
    ) -> None:
        if user_record is None:
            return
        text = (message.text or "").strip()
        if text.startswith("/"):
            await state.clear()
            await message.answer(_("The new search was cancelled."), reply_markup=main_menu())
            return
        criteria = _criteria(await state.get_data())
        try:
            criteria = _parse_step(await state.get_state(), text[:300], criteria)
        except AlertParseError as exc:
            await message.answer(
                _(STEP_ERRORS.get(exc.reason, STEP_ERRORS["bad_car"])), reply_markup=_step_keyboard()
            )
            return
        await _advance(message, state, criteria, user_record, settings, clock())

    @r.callback_query(F.data.startswith(DELETE))
    async def delete(
        query: CallbackQuery, user_record: UserModel | None, settings: Settings, clock: Callable[[], datetime]
    ) -> None:
        if user_record is None:
            await query.answer()
            return
        search_id = (query.data or "")[len(DELETE) :]
        deleted = saved_searches.delete(int(user_record.user_id), search_id, now=clock())
        await query.answer(_("Search deleted.") if deleted else _("This search no longer exists."))
        if query.message is not None:
            text, keyboard = _list_view(int(user_record.user_id), settings.max_searches_per_user)
            await query.message.answer(text, reply_markup=keyboard)

    return r
