"""Secrets Manager access: values fetched at run time, cached per container, never logged.

Backed by powertools parameters (``get_secret`` with a max age), so a rotated secret is picked up after
the cache expires. ``SecretValue`` hides the value from ``repr``/``str`` so it cannot leak into logs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from carsbot.config import get_settings


class SecretMissingError(LookupError):
    """The secret does not exist or has no value yet."""


@dataclass(frozen=True)
class SecretValue:
    """A secret's value. ``repr`` and ``str`` never show it."""

    raw: str = field(repr=False)
    version_id: str | None = None

    def __str__(self) -> str:
        return "SecretValue(***)"

    def json(self) -> dict[str, Any]:
        try:
            data = json.loads(self.raw)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def field(self, *names: str) -> str | None:
        """The first present JSON field of ``names``; a non-JSON secret is returned whole."""
        data = self.json()
        if not data:
            return self.raw.strip() or None
        for name in names:
            value = data.get(name)
            if value not in (None, ""):
                return str(value)
        return None


def _provider() -> Any:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    from carsbot.adapters.aws import client

    return SecretsProvider(boto3_client=client("secretsmanager"))


_PROVIDER: Any = None


def get_secret(name: str, *, max_age: int | None = None, force_fetch: bool = False) -> SecretValue:
    """Fetch ``name`` (ARN or name), cached for ``secrets_cache_seconds``."""
    global _PROVIDER
    if _PROVIDER is None:
        _PROVIDER = _provider()
    age = get_settings().secrets_cache_seconds if max_age is None else max_age
    try:
        value = _PROVIDER.get(name, max_age=age, force_fetch=force_fetch, VersionStage="AWSCURRENT")
    except Exception as exc:  # powertools wraps client errors in GetParameterError
        if "ResourceNotFound" in repr(exc) or "can't find" in str(exc) or "no value" in str(exc).lower():
            raise SecretMissingError(f"secret {name!r} is missing or has no value") from None
        raise
    if isinstance(value, bytes):
        value = value.decode()
    if not value:
        raise SecretMissingError(f"secret {name!r} is empty")
    return SecretValue(str(value))


def reset_secrets_cache() -> None:
    global _PROVIDER
    _PROVIDER = None
