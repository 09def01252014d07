"""boto3 clients. Endpoints come from botocore itself (``AWS_ENDPOINT_URL``), never from app code."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "eu-central-1"


@lru_cache(maxsize=16)
def client(service: str) -> Any:
    """A cached boto3 client (one per service per process; reset with ``client.cache_clear()``)."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 5, "mode": "adaptive"}, connect_timeout=5, read_timeout=30)
    return boto3.session.Session().client(service, region_name=region(), config=config)  # type: ignore[call-overload]
