"""What the bot needs from the outside that another part of the system provides.

``PaymentPort`` — the payment provider behind the plan buttons (YooKassa or Telegram Stars; implemented
in ``carsbot.payments``). The dispatcher receives it as workflow data (``payment_port``), so the Lambda
entry point wires the real one and tests pass an in-memory fake. The types are defined in
``carsbot.core.payments`` (the bot and ``carsbot.payments`` are independent application parts that both
use them) and re-exported here under the same names.
"""

from __future__ import annotations

from carsbot.core.payments import PaymentOffer, PaymentPort, PaymentUnavailable

__all__ = ["PaymentOffer", "PaymentPort", "PaymentUnavailable"]
