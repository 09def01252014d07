"""What payment notices and the payments router say (Russian; HTML parse mode, values escaped). Pure.

Dates are shown in Moscow time (UTC+3, no DST), the time zone of the bot's users.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from html import escape

MSK = timezone(timedelta(hours=3), "МСК")

BUTTON_PAY = "Оплатить"
BUTTON_RENEW = "Продлить подписку"
BUTTON_CONFIRM_REFUND = "Да, вернуть"
BUTTON_CANCEL = "Отмена"


def when(moment: datetime) -> str:
    return moment.astimezone(MSK).strftime("%d.%m.%Y %H:%M") + " (МСК)"


def rub(amount: Decimal | str) -> str:
    value = Decimal(str(amount))
    whole = value == value.to_integral_value()
    return (f"{value:,.0f}" if whole else f"{value:,.2f}").replace(",", " ") + " ₽"


def stars(amount: Decimal | str) -> str:
    return f"{int(Decimal(str(amount)))} ⭐"


def price(amount: Decimal | str, currency: str) -> str:
    return stars(amount) if currency == "XTR" else rub(amount)


def credited(plan_title: str, end: datetime, *, renewal: bool = False) -> str:
    head = "🔁 Подписка продлена автоматически." if renewal else "✅ Оплата получена, спасибо!"
    return f"{head}\nПодписка «{escape(plan_title)}» действует до <b>{when(end)}</b>."


def canceled(plan_title: str) -> str:
    return (
        f"❌ Платёж за подписку «{escape(plan_title)}» не прошёл или был отменён. "
        "Деньги не списаны. Попробуйте ещё раз, когда будет удобно."
    )


def renewal_failed(end: datetime) -> str:
    return (
        "⚠️ Не удалось автоматически продлить подписку: банк отклонил списание.\n"
        f"Подписка действует до <b>{when(end)}</b> — продлите её вручную, чтобы не потерять доступ."
    )


def refunded(amount: Decimal | str, currency: str, end: datetime | None) -> str:
    tail = f"Подписка действует до <b>{when(end)}</b>." if end else "Подписка отключена."
    return f"↩️ Возврат {price(amount, currency)} выполнен. {tail}"


def reminder(days: int, end: datetime, *, auto_renew: bool) -> str:
    left = "1 день" if days == 1 else f"{days} дня" if days in (2, 3, 4) else f"{days} дней"
    text = f"⏳ Подписка заканчивается через {left} — <b>{when(end)}</b>."
    if auto_renew:
        return text + "\nАвтопродление включено: мы спишем оплату с сохранённой карты за день до конца."
    return text + "\nПродлите её, чтобы и дальше видеть контакты продавцов."


def expired(end: datetime) -> str:
    return (
        f"🔒 Подписка закончилась {when(end)}. Контакты продавцов снова скрыты.\n"
        "Продлите подписку, чтобы вернуть доступ."
    )


UNAVAILABLE = "Платёжный сервис сейчас недоступен. Попробуйте, пожалуйста, через пару минут."
STALE_INVOICE = "Этот счёт устарел. Откройте «Подписка» и выберите тариф заново."
ALREADY_PAID = "Этот счёт уже оплачен."
REFUND_USAGE = "Использование: <code>/refund &lt;id платежа&gt;</code>"
REFUND_NOT_FOUND = "Платёж не найден среди зачисленных."
REFUND_ALREADY = "Этот платёж уже полностью возвращён."
REFUND_FAILED = "Провайдер не выполнил возврат. Попробуйте позже."
RECEIPT_ASK = (
    "Для кассового чека (54-ФЗ) пришлите, пожалуйста, e-mail или номер телефона — "
    "спросим один раз и сохраним."
)
RECEIPT_BAD = "Не похоже на e-mail или телефон. Пришлите, например, ivan@example.ru или +79001234567."
RECEIPT_SAVED = "Спасибо, сохранили. Теперь можно оплатить:"


def refund_confirm(payment_id: str, amount: str, currency: str, user_id: int, end: datetime) -> str:
    return (
        f"Вернуть платёж <code>{escape(payment_id)}</code>?\n"
        f"Сумма: {price(amount, currency)}, пользователь <code>{user_id}</code>, "
        f"зачислено до {when(end)}.\nДни подписки будут сняты."
    )


def refund_done(payment_id: str, new_end: datetime | None) -> str:
    tail = f"подписка до {when(new_end)}" if new_end else "подписка отозвана"
    return f"Возврат <code>{escape(payment_id)}</code> выполнен: {tail}."


def refund_requested(payment_id: str) -> str:
    return f"Возврат <code>{escape(payment_id)}</code> запрошен; дни снимем, когда провайдер подтвердит."
