"""Payment notices to users, through the bot's rate-limited fan-out (the alerts queue).

Every notice is a ``NotifyMessage`` with a ``dedupe_key`` that names the event (``paid:<payment id>``,
``reminder:<user>:<period>:d3``...), so however often a notification or a job repeats, the alerts
function sends it at most once. The sender is injectable (``Outbox``); the default puts the messages on
``CARSBOT_NOTIFY_QUEUE_URL``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from carsbot.config import Settings
from carsbot.core import payment_texts as texts
from carsbot.core.contracts import NotifyButton, NotifyMessage
from carsbot.core.payments import period_tag

# The bot's callback data that opens the plans menu (carsbot.bot.routers.subscription.RENEW_CALLBACK).
PLANS_CALLBACK = "renew"


class Outbox(Protocol):
    def send(self, messages: Sequence[NotifyMessage]) -> None: ...


class QueueOutbox:
    """``NotifyMessage``s onto the alerts queue through the bot's outbox (``carsbot.adapters.notify``);
    raises when SQS did not take one, so nothing is dropped silently."""

    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def send(self, messages: Sequence[NotifyMessage]) -> None:
        from carsbot.adapters.notify import enqueue

        enqueue(messages, queue_url=self.queue_url)


def default_outbox(settings: Settings) -> Outbox:
    return QueueOutbox(settings.notify_queue_url)


def _renew_buttons() -> list[list[NotifyButton]]:
    return [[NotifyButton(text=texts.BUTTON_RENEW, callback_data=PLANS_CALLBACK)]]


def credited(
    user_id: int, payment_id: str, plan_title: str, end: datetime, *, renewal: bool
) -> NotifyMessage:
    return NotifyMessage(
        chat_id=user_id,
        text=texts.credited(plan_title, end, renewal=renewal),
        dedupe_key=f"paid:{payment_id}",
        category="notice",
    )


def canceled(user_id: int, order_id: str, plan_title: str) -> NotifyMessage:
    return NotifyMessage(
        chat_id=user_id,
        text=texts.canceled(plan_title),
        buttons=_renew_buttons(),
        dedupe_key=f"canceled:{order_id}",
        category="notice",
    )


def renewal_failed(user_id: int, order_id: str, end: datetime) -> NotifyMessage:
    return NotifyMessage(
        chat_id=user_id,
        text=texts.renewal_failed(end),
        buttons=_renew_buttons(),
        dedupe_key=f"renewal-failed:{order_id}",
        category="reminder",
    )


def refunded(
    user_id: int, refund_id: str, amount: Decimal, currency: str, end: datetime | None
) -> NotifyMessage:
    return NotifyMessage(
        chat_id=user_id,
        text=texts.refunded(amount, currency, end),
        dedupe_key=f"refund:{refund_id}",
        category="notice",
    )


def reminder_key(user_id: int, end: datetime, kind: str) -> str:
    return f"reminder:{user_id}:{period_tag(end)}:{kind}"


def reminder(user_id: int, end: datetime, kind: str, days: int, *, auto_renew: bool) -> NotifyMessage:
    return NotifyMessage(
        chat_id=user_id,
        text=texts.reminder(days, end, auto_renew=auto_renew),
        buttons=[] if auto_renew else _renew_buttons(),
        dedupe_key=reminder_key(user_id, end, kind),
        category="reminder",
    )


def expired(user_id: int, end: datetime) -> NotifyMessage:
    return NotifyMessage(
        chat_id=user_id,
        text=texts.expired(end),
        buttons=_renew_buttons(),
        dedupe_key=reminder_key(user_id, end, "expired"),
        category="reminder",
    )
