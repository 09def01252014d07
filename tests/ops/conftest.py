"""Ops fixtures: an operator's shell (no CARSBOT_* variables, only AWS credentials and an endpoint)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from carsbot.ops import stage
from carsbot_dev.local.stack import LocalStack, reset_sdk_caches


@pytest.fixture
def operator_env(aws: LocalStack) -> Iterator[LocalStack]:
    """The local stack, seen from a shell that knows nothing of it but the stage (``local``).

    Everything the CLI puts into ``os.environ`` while resolving a stage is undone afterwards.
    """
    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith("CARSBOT_")]:
        del os.environ[key]
    stage.forget_stage()
    reset_sdk_caches()
    try:
        yield aws
    finally:
        os.environ.clear()
        os.environ.update(saved)
        stage.forget_stage()
        reset_sdk_caches()
