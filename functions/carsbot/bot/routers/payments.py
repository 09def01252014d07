"""Payments in the bot: Telegram Stars checkout, admin refunds, the 54-FZ receipt contact.

* ``pre_checkout_query`` — answered only after the order behind the invoice is re-validated (pending,
  this user's, not stale, same price); Telegram gives the bot 10 seconds.
* ``successful_payment`` — credited once per ``telegram_payment_charge_id``; the user gets the new end.
* ``/refund <payment id>`` (admins) — shows what would be refunded and asks to confirm; the confirm
  button calls the provider (YooKassa refund API or ``refundStarPayment``) and takes the days back.
* Receipt contact — when 54-FZ receipts are on and the user has given neither e-mail nor phone, a plan
  button asks for one first (once), then offers the payment. This router sits before ``plans`` so it sees
  those taps; with receipts off its filter never matches.

The work is done by the payment port injected as ``payment_port`` (``carsbot.payments.checkout
.PaymentService``); its extra methods are described by ``PaymentsBackend``. With another port (a test
fake) these handlers stay silent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, Filter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, PreCheckoutQuery

from carsbot.adapters.db.users import UserModel
from carsbot.bot.keyboards import PLAN_CALLBACK
from carsbot.config import Settings
from carsbot.core import payment_texts as texts
from carsbot.core.payments import PaymentOffer, PaymentUnavailable
from carsbot.core.subscriptions import Plan
from carsbot.observability import add_metric, logger

REFUND_CALLBACK = "refund:"  # "refund:yes:<payment id>" | "refund:no"


@runtime_checkable
class PaymentsBackend(Protocol):
    async def offer(self, user_id: int, plan: Plan) -> PaymentOffer: ...
    async def pre_checkout(self, user_id: int, payload: str, currency: str, total: int) -> str | None: ...
    async def credit_stars(
        self, user_id: int, payload: str, charge_id: str, currency: str, total: int
    ) -> Any: ...
    async def refund_preview(self, payment_id: str) -> Any: ...
    async def refund(
        self, payment_id: str, stars_refunder: Callable[[int, str], Awaitable[object]]
    ) -> Any: ...
    async def save_receipt_contact(self, user_id: int, text: str) -> bool: ...
    def needs_receipt_contact(self, user: UserModel | None) -> bool: ...


class ReceiptContact(StatesGroup):
    waiting = State()


class NeedsReceiptContact(Filter):
    async def __call__(
        self, query: CallbackQuery, payment_port: object = None, user_record: Any = None, **_: Any
    ) -> bool:
        return isinstance(payment_port, PaymentsBackend) and payment_port.needs_receipt_contact(user_record)


def _backend(payment_port: object) -> PaymentsBackend | None:
    return payment_port if isinstance(payment_port, PaymentsBackend) else None


async def _send_offer(bot: Bot, chat_id: int, offer: PaymentOffer, plan: Plan) -> None:
    from aiogram.types import LabeledPrice

    if offer.kind == "stars_invoice":
        await bot.send_invoice(
            chat_id,
            title=offer.title,
            description=offer.description,
            payload=offer.payload,
            currency="XTR",
            prices=[LabeledPrice(label=plan.title, amount=offer.stars)],
        )
        return
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=texts.BUTTON_PAY, url=str(offer.url))]]
    )
    await bot.send_message(chat_id, texts.RECEIPT_SAVED, reply_markup=keyboard)


def router() -> Router:
    r = Router(name="payments")

    # ------------------------------------------------------------------ Telegram Stars
    @r.pre_checkout_query()
    async def pre_checkout(query: PreCheckoutQuery, payment_port: object = None) -> None:
        backend = _backend(payment_port)
        if backend is None:
            await query.answer(ok=False, error_message=texts.UNAVAILABLE)
            return
        try:
            problem = await backend.pre_checkout(
                query.from_user.id, query.invoice_payload, query.currency, query.total_amount
            )
        except Exception:
            logger.exception("stars pre-checkout failed", extra={"user_id": query.from_user.id})
            problem = texts.UNAVAILABLE
        if problem is None:
            await query.answer(ok=True)
        else:
            await query.answer(ok=False, error_message=problem)

    @r.message(F.successful_payment)
    async def successful_payment(message: Message, payment_port: object = None) -> None:
        paid = message.successful_payment
        backend = _backend(payment_port)
        if paid is None or backend is None or message.from_user is None:
            return
        result = await backend.credit_stars(
            message.from_user.id,
            paid.invoice_payload,
            paid.telegram_payment_charge_id,
            paid.currency,
            paid.total_amount,
        )
        if result.credited and result.new_end is not None:  # a repeated charge id is credited once, told once
            await message.answer(texts.credited(result.plan_title, result.new_end))

    # ------------------------------------------------------------------ admin refunds
    @r.message(Command("refund"))
    async def refund_command(
        message: Message, command: CommandObject, is_admin: bool = False, payment_port: object = None
    ) -> None:
        backend = _backend(payment_port)
        if not is_admin or backend is None:
            return
        payment_id = (command.args or "").strip()
        if not payment_id or len(payment_id) > 120:
            await message.answer(texts.REFUND_USAGE)
            return
        found = await backend.refund_preview(payment_id)
        if found is None:
            await message.answer(texts.REFUND_NOT_FOUND)
            return
        # The order id (32 hex) fits Telegram's 64-byte callback data; a Stars charge id may not.
        confirm = InlineKeyboardButton(
            text=texts.BUTTON_CONFIRM_REFUND, callback_data=f"{REFUND_CALLBACK}yes:{found.order_id}"
        )
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    confirm,
                    InlineKeyboardButton(text=texts.BUTTON_CANCEL, callback_data=f"{REFUND_CALLBACK}no"),
                ]
            ]
        )
        await message.answer(
            texts.refund_confirm(
                found.payment_id, found.amount, found.currency, found.user_id, found.new_end
            ),
            reply_markup=keyboard,
        )

    @r.callback_query(F.data.startswith(REFUND_CALLBACK))
    async def refund_confirmed(
        query: CallbackQuery, bot: Bot, is_admin: bool = False, payment_port: object = None
    ) -> None:
        backend = _backend(payment_port)
        data = query.data or ""
        if not is_admin or backend is None or not data.startswith(f"{REFUND_CALLBACK}yes:"):
            await query.answer()
            if query.message is not None and data == f"{REFUND_CALLBACK}no":
                await query.message.answer(texts.BUTTON_CANCEL)
            return
        payment_id = data.removeprefix(f"{REFUND_CALLBACK}yes:")  # the order id (refund_preview resolves it)

        async def refund_stars(user_id: int, charge_id: str) -> object:
            return await bot.refund_star_payment(user_id=user_id, telegram_payment_charge_id=charge_id)

        try:
            outcome = await backend.refund(payment_id, refund_stars)
        except LookupError:
            await query.answer(texts.REFUND_ALREADY, show_alert=True)
            return
        except Exception:
            logger.exception("admin refund failed", extra={"payment_id": payment_id})
            add_metric("RefundFailed")
            await query.answer(texts.REFUND_FAILED, show_alert=True)
            return
        await query.answer()
        if query.message is not None:
            text = (
                texts.refund_requested(payment_id)
                if outcome.pending
                else texts.refund_done(payment_id, outcome.new_end)
            )
            await query.message.answer(text)

    # ------------------------------------------------------------------ 54-FZ receipt contact
    @r.callback_query(F.data.startswith(PLAN_CALLBACK), NeedsReceiptContact())
    async def ask_receipt_contact(query: CallbackQuery, state: FSMContext) -> None:
        await state.set_state(ReceiptContact.waiting)
        await state.update_data(plan=(query.data or "")[len(PLAN_CALLBACK) :])
        await query.answer()
        if query.message is not None:
            await query.message.answer(texts.RECEIPT_ASK)

    @r.message(ReceiptContact.waiting, F.text)
    async def receipt_contact(
        message: Message, state: FSMContext, bot: Bot, settings: Settings, payment_port: object = None
    ) -> None:
        backend = _backend(payment_port)
        if backend is None or message.from_user is None:
            await state.clear()
            return
        if not await backend.save_receipt_contact(message.from_user.id, message.text or ""):
            await message.answer(texts.RECEIPT_BAD)
            return
        plan = settings.plan(str((await state.get_data()).get("plan", "")))
        await state.clear()
        if plan is None:
            return
        try:
            offer = await backend.offer(message.from_user.id, plan)
        except PaymentUnavailable:
            await message.answer(texts.UNAVAILABLE)
            return
        await _send_offer(bot, message.chat.id, offer, plan)

    return r
