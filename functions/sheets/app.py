"""Sheets function: one sync of the admin console every minute (EventBridge Scheduler).

Thin: binds the tables, opens the spreadsheet once per container (the service account's token is
refreshed by google-auth) and runs one sync. A Google failure (down, 429 after the bounded retries, the
sheet shared read-only) is reported — ``SheetsSyncFailed`` metric, a Логи event — and the next minute's
sync catches up; anything else raises (the function's Errors alarm).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from carsbot.adapters.db import bound_settings
from carsbot.adapters.sheets import SheetsError, SheetsGateway, open_gateway
from carsbot.observability import add_metric, logger, metrics, tracer
from carsbot.sheets.sync import run_sync

settings = bound_settings()  # the tables bound once per container, as in every function
_gateway: SheetsGateway | None = None


def gateway() -> SheetsGateway:
    global _gateway
    if _gateway is None:
        _gateway = open_gateway(settings)
    return _gateway


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        sheets = gateway()
    except SheetsError as exc:  # not configured yet (no spreadsheet id or key): nothing to sync
        add_metric("SheetsSyncFailed")
        logger.warning("sheets console not configured", extra={"reason": exc.reason, "error": str(exc)})
        return {"ok": False, "problems": [str(exc)]}
    result = run_sync(settings, sheets)
    logger.info("sheets sync", extra={k: v for k, v in result.as_dict().items() if k != "problems"})
    return {"ok": not result.problems, **result.as_dict()}
