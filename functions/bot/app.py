"""Bot webhook function: API Gateway HTTP API ``POST /telegram`` -> the aiogram Dispatcher.

Thin: everything is in ``carsbot.bot`` (``webhook.BotRuntime``: secret-token check, ``update_id``
dedupe, ``feed_update``; ``dispatcher.build_dispatcher``: routers, middlewares, i18n). SnapStart: the
module level imports aiogram and builds the Dispatcher with its routers, so the snapshot holds them;
the after-restore hook drops HTTP clients and cached secrets, and the Bot (with its HTTP session) is
created on the first request after restore, with the token read then.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from carsbot.adapters.db import bind_tables
from carsbot.bot.dispatcher import build_dispatcher
from carsbot.bot.ports import PaymentPort
from carsbot.bot.webhook import BotRuntime
from carsbot.config import Settings, get_settings
from carsbot.observability import logger, metrics


def payment_port(settings: Settings) -> PaymentPort | None:
    """The payment provider behind the plan buttons (YooKassa or Stars, ``carsbot.payments``)."""
    from carsbot.payments.checkout import PaymentService

    return PaymentService(settings)


def _dispatcher(settings: Settings) -> Any:
    from carsbot.payments.refunds import revenue

    bind_tables(settings)
    return build_dispatcher(settings, payment_port=payment_port(settings), revenue=revenue)


runtime = BotRuntime(_dispatcher)

try:  # the Lambda runtime's SnapStart hooks (absent elsewhere)
    from snapshot_restore_py import register_after_restore  # type: ignore[import-not-found]

    register_after_restore(runtime.after_restore)
except ImportError:  # pragma: no cover - outside Lambda
    pass


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings()
    if settings is not runtime.settings:  # only when settings were reset (tests, the local server)
        runtime.rebuild(settings)
    return runtime.handle_event(event)
