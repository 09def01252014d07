"""Recognising a failed DynamoDB condition (the one helper for pynamodb and boto3 errors).

A conditional write that loses is how this system says "someone else got there first": the publish
claim, a fingerprint owned by another listing, the monitor lease, a rate-limit slot, a payment credited
once. Callers catch the library's error and ask :func:`is_conditional_failure` whether it was that
(expected, handled) or anything else (re-raised).
"""

from __future__ import annotations

from typing import Any

CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"
TRANSACTION_CANCELED = "TransactionCanceledException"


def _reason_codes(exc: BaseException) -> list[str]:
    """The per-item cancellation reason codes of a cancelled transaction (pynamodb or boto3)."""
    reasons = getattr(exc, "cancellation_reasons", None)
    if reasons:
        return [str(getattr(reason, "code", "") or "") for reason in reasons if reason is not None]
    response: Any = getattr(exc, "response", None)
    if isinstance(response, dict):
        return [str(item.get("Code") or "") for item in response.get("CancellationReasons") or []]
    return []


def error_code(exc: BaseException) -> str | None:
    """The DynamoDB error code carried by a pynamodb exception or a botocore ``ClientError``."""
    code = getattr(exc, "cause_response_code", None)  # pynamodb's PynamoDBException
    if code:
        return str(code)
    response: Any = getattr(exc, "response", None)  # botocore's ClientError
    if isinstance(response, dict):
        found = response.get("Error", {}).get("Code")
        return str(found) if found else None
    return None


def is_conditional_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says a condition expression did not hold (and nothing was written).

    True for a single conditional write (``ConditionalCheckFailedException``) and for a transaction
    cancelled because one of its conditions failed; False for throttling, validation errors and a
    transaction cancelled for another reason (e.g. a conflicting concurrent transaction).
    """
    code = error_code(exc)
    if code == CONDITIONAL_CHECK_FAILED:
        return True
    if code == TRANSACTION_CANCELED:
        return "ConditionalCheckFailed" in _reason_codes(exc)
    return False
