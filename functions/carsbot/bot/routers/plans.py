"""«💳 Тарифы»: the plans from configuration, and the plan buttons that start a payment.

A plan button asks the payment port (``carsbot.payments``, injected as ``payment_port``) for an offer:
a YooKassa URL ("Оплатить" button) or a Telegram Stars invoice (``sendInvoice`` in XTR). When the
provider is unavailable the user is told to try later; the port creates nothing half-way.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, LabeledPrice, Message
from aiogram.utils.i18n import gettext as _

from carsbot.bot.keyboards import PLAN_CALLBACK, PLANS, MenuButton, plan_label, plans_keyboard, rows
from carsbot.bot.ports import PaymentPort, PaymentUnavailable
from carsbot.config import Settings
from carsbot.observability import add_metric, logger


def plans_text(settings: Settings) -> str:
    lines = [_("💳 Plans"), ""]
    lines += [f"• {plan_label(plan)}" for plan in settings.plans]
    lines += ["", _("Buying while subscribed adds the days to the end of your current subscription.")]
    return "\n".join(lines)


def router() -> Router:
    r = Router(name="plans")

    @r.message(Command("plans"))
    @r.message(MenuButton(PLANS))
    async def show_plans(message: Message, settings: Settings) -> None:
        await message.answer(plans_text(settings), reply_markup=plans_keyboard(settings.plans))

    @r.callback_query(F.data.startswith(PLAN_CALLBACK))
    async def buy(
        query: CallbackQuery, bot: Bot, settings: Settings, payment_port: PaymentPort | None
    ) -> None:
        plan = settings.plan((query.data or "")[len(PLAN_CALLBACK) :])
        if plan is None or query.message is None:
            await query.answer(_("This plan is no longer offered."), show_alert=True)
            return
        chat_id = query.message.chat.id
        if payment_port is None:
            await query.answer(
                _("Payments are temporarily unavailable. Please try again later."), show_alert=True
            )
            return
        try:
            offer = await payment_port.offer(query.from_user.id, plan)
        except PaymentUnavailable:
            add_metric("PaymentOfferUnavailable")
            logger.warning(
                "payment offer unavailable", extra={"user_id": query.from_user.id, "plan": plan.code}
            )
            await query.answer(
                _("Payments are temporarily unavailable. Please try again later."), show_alert=True
            )
            return
        await query.answer()
        if offer.kind == "stars_invoice":
            await bot.send_invoice(
                chat_id,
                title=offer.title or plan_label(plan),
                description=offer.description or plan_label(plan),
                payload=offer.payload or offer.order_id,
                currency="XTR",
                prices=[LabeledPrice(label=plan.title, amount=offer.stars or plan.stars)],
            )
        else:
            await bot.send_message(
                chat_id,
                _(
                    "Plan «{title}»: {price}. Tap the button to pay; the subscription starts right after."
                ).format(title=plan.title, price=plan_label(plan)),
                reply_markup=rows(InlineKeyboardButton(text=_("Pay"), url=str(offer.url))),
            )
        logger.info(
            "payment offered", extra={"user_id": query.from_user.id, "plan": plan.code, "kind": offer.kind}
        )

    return r
