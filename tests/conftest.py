"""Shared fixtures: a moto server holding the resources of template.yaml, created once per session.

* ``aws_stack`` (session): moto server + every resource of template.yaml (samtranslator + moto
  CloudFormation, plus the secrets and TTL settings moto skips); the process environment points boto3 and
  pynamodb at it and carries the functions' resolved ``CARSBOT_*`` variables.
* ``aws`` (function): the same stack with every table, queue and bucket emptied and SDK caches reset.
* ``runner``: a ``LocalLambdaRunner`` that invokes the functions with Lambda-shaped SQS events.
* ``bot_api_standin`` (module): the local Bot API server; ``bot_api``: the same, emptied, with the functions'
  settings pointing at it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from carsbot_dev.local.botapi_standin import BotApiStandin
from carsbot_dev.local.stack import LocalStack, local_aws, reset_sdk_caches

TEST_BOT_TOKEN = "123456:TEST-token"  # a fake token with the right shape, never a real one

# Quiet, deterministic powertools outside Lambda (no EMF dumps, no X-Ray).
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")


@pytest.fixture(scope="session")
def aws_stack() -> Iterator[LocalStack]:
    secrets = {"BotTokenSecret": f'{{"token": "{TEST_BOT_TOKEN}"}}'}
    with local_aws(secret_values=secrets, extra_env={"POWERTOOLS_LOG_LEVEL": "WARNING"}) as stack:
        yield stack


@pytest.fixture
def aws(aws_stack: LocalStack) -> Iterator[LocalStack]:
    reset_sdk_caches()
    aws_stack.clear_data()
    yield aws_stack
    reset_sdk_caches()


@pytest.fixture
def runner(aws: LocalStack):  # type: ignore[no-untyped-def]
    from carsbot_dev.local.runner import LocalLambdaRunner

    return LocalLambdaRunner(aws)


@pytest.fixture(scope="module")
def bot_api_standin() -> Iterator[BotApiStandin]:
    with BotApiStandin(bot_username="carsbot_demo_bot") as standin:
        yield standin


@pytest.fixture
def bot_api(
    aws: LocalStack, bot_api_standin: BotApiStandin, monkeypatch: pytest.MonkeyPatch
) -> Iterator[BotApiStandin]:
    from carsbot.config import reset_settings

    bot_api_standin.reset()
    monkeypatch.setenv("CARSBOT_BOT_API_BASE", bot_api_standin.base_url)
    reset_settings()
    yield bot_api_standin
    reset_settings()
