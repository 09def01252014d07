"""AWS failures an operator can fix, told in one line (the CLI prints it and exits 2, no traceback).

boto3 raises botocore errors; pynamodb wraps them (``ScanError(...).cause``); powertools wraps Secrets
Manager errors. :func:`explain` walks the whole chain and recognises missing/expired credentials, no
region, an unreachable endpoint, access denied and resources that do not exist (a wrong stage).
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

CREDENTIALS_HINT = (
    "run `aws configure` or `aws sso login`, or set AWS_PROFILE "
    "(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
)
_REJECTED_CREDENTIALS = {
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "AuthFailure",
    "InvalidAccessKeyId",
}
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
_MISSING = {
    "ResourceNotFoundException",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "NoSuchBucket",
    "NotFound",
    "NotFoundException",
}


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        cause = getattr(current, "cause", None)  # pynamodb keeps the botocore error here
        todo += [cause if isinstance(cause, BaseException) else None, current.__cause__, current.__context__]


def _error_code(exc: BaseException) -> tuple[str, str]:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {}) or {}
        return str(error.get("Code", "")), str(error.get("Message", ""))
    code = getattr(exc, "cause_response_code", None)  # pynamodb
    return (str(code), str(getattr(exc, "cause_response_message", "") or "")) if code else ("", "")


def explain(exc: BaseException) -> str | None:
    """One line naming what is missing and how to set it, or None when ``exc`` is not such a failure."""
    try:
        from botocore import exceptions as boto
    except ImportError:  # pragma: no cover - botocore is a dependency
        return None
    for error in _chain(exc):
        if isinstance(error, boto.NoCredentialsError | boto.PartialCredentialsError):
            return f"no AWS credentials found: {CREDENTIALS_HINT}"
        if isinstance(error, boto.CredentialRetrievalError | boto.TokenRetrievalError):
            return f"AWS credentials could not be loaded ({error}): {CREDENTIALS_HINT}"
        if type(error).__name__ in ("SSOTokenLoadError", "UnauthorizedSSOTokenError"):
            return "the AWS SSO session has expired: run `aws sso login` (or set AWS_PROFILE)"
        if isinstance(error, boto.NoRegionError):
            return "no AWS region: set AWS_REGION (e.g. eu-central-1, the region in samconfig.toml)"
        if isinstance(error, boto.EndpointConnectionError | boto.ConnectTimeoutError):
            endpoint = os.environ.get("AWS_ENDPOINT_URL")
            where = f"the endpoint {endpoint} (AWS_ENDPOINT_URL)" if endpoint else "AWS"
            return f"cannot reach {where}: check the network connection or unset AWS_ENDPOINT_URL"
        code, message = _error_code(error)
        if code in _REJECTED_CREDENTIALS:
            return f"AWS rejected the credentials ({code}): refresh them: {CREDENTIALS_HINT}"
        if code in _DENIED:
            return f"AWS denied access ({code}: {message}): use an operator role that may read the stack"
        if code in _MISSING or type(error).__name__ == "TableDoesNotExist":
            detail = message or str(error)
            return (
                f"a resource of the stage does not exist ({detail}): check --stage / CARSBOT_STAGE "
                "and that the stack is deployed"
            )
    return None
