"""Ops fixtures: an operator's shell (no CARSBOT_* variables, only AWS credentials and an endpoint)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ops_support import operator_shell

from carsbot_dev.local.stack import LocalStack


@pytest.fixture
def operator_env(aws: LocalStack) -> Iterator[LocalStack]:
    """The local stack, seen from an operator's shell (see ``operator_shell``)."""
    with operator_shell():
        yield aws
