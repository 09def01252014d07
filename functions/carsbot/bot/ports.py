"""What the bot needs from the outside that another part of the system provides.

``PaymentPort`` — the payment provider behind the plan buttons (YooKassa or Telegram Stars; implemented
in ``carsbot.payments``). The dispatcher receives it as workflow data (``payment_port``), so the Lambda
entry point wires the real one and tests pass an in-memory fake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from carsbot.core.subscriptions import Plan


@dataclass(frozen=True)
class PaymentOffer:
    """How the user pays for a plan: a URL button ("Оплатить") or a Stars invoice (``sendInvoice``, XTR)."""

    kind: Literal["url", "stars_invoice"]
    order_id: str
    url: str | None = None  # YooKassa confirmation URL -> "Оплатить" URL button
    title: str = ""  # Stars invoice fields
    description: str = ""
    payload: str = ""  # the order id for Stars
    stars: int = 0


class PaymentUnavailable(Exception):
    """The provider or its API is down: the user is told to try later; nothing is half-created."""


class PaymentPort(Protocol):
    async def offer(self, user_id: int, plan: Plan) -> PaymentOffer: ...
