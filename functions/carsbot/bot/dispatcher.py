"""The one Dispatcher of the bot, built once per process (Lambda init, ``demo --serve``, ``bot poll``).

Routers come from ``ROUTER_FACTORIES`` in order — the first router whose filters match an update
handles it, so ``admin`` (filtered to admins) comes first and ``fallback`` (anything else) last. Each
factory builds a fresh Router, so a process (or a test) may build several dispatchers.

Workflow data every handler can ask for by name: ``settings``, ``payment_port`` (``PaymentPort`` or
``None``), ``clock`` (``() -> datetime``, UTC), ``outbox`` (``enqueue(list[NotifyMessage]) -> int``),
``revenue`` (``(since, until) -> RUB`` or ``None``); per update ``user_record`` (``UserModel`` or
``None``) and ``is_admin``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiogram import Dispatcher, Router
from aiogram.fsm.storage.base import BaseStorage

from carsbot.bot.i18n import build_i18n, locale_middleware
from carsbot.bot.middlewares import AdminMiddleware, UserRecordMiddleware
from carsbot.bot.ports import PaymentPort
from carsbot.bot.routers import admin, contacts, fallback, payments, plans, searches, start, subscription
from carsbot.config import Settings, get_settings
from carsbot.core.contracts import NotifyMessage

RouterFactory = Callable[[], Router]

ROUTER_FACTORIES: list[RouterFactory] = [
    admin.router,
    start.router,
    contacts.router,
    payments.router,  # before plans: it asks for the 54-FZ receipt contact before a plan is paid
    plans.router,
    subscription.router,
    searches.router,
    fallback.router,
]

# Update kinds the bot handles (``allowed_updates`` of setWebhook / getUpdates).
ALLOWED_UPDATES = [
    "message",
    "edited_message",
    "callback_query",
    "my_chat_member",
    "pre_checkout_query",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


def _default_outbox(messages: Sequence[NotifyMessage]) -> int:
    from carsbot.adapters.notify import enqueue

    return enqueue(messages)


def build_dispatcher(
    settings: Settings | None = None,
    *,
    payment_port: PaymentPort | None = None,
    storage: BaseStorage | None = None,
    clock: Callable[[], datetime] = utcnow,
    outbox: Callable[[Sequence[NotifyMessage]], int] | None = None,
    revenue: Callable[[datetime, datetime], int | None] | None = None,
    routers: Sequence[RouterFactory] | None = None,
) -> Dispatcher:
    from carsbot.bot.storage import DynamoDBStorage

    settings = settings or get_settings()
    dp = Dispatcher(storage=storage or DynamoDBStorage())
    workflow: dict[str, Any] = {
        "settings": settings,
        "payment_port": payment_port,
        "clock": clock,
        "outbox": outbox or _default_outbox,
        "revenue": revenue,
    }
    dp.workflow_data.update(workflow)
    dp.update.outer_middleware(locale_middleware(build_i18n()))
    dp.update.outer_middleware(UserRecordMiddleware())
    dp.update.outer_middleware(AdminMiddleware(set(settings.admin_ids)))
    for factory in routers or ROUTER_FACTORIES:
        dp.include_router(factory())
    return dp
