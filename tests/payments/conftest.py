"""Payments fixtures: the local stack (moto server from template.yaml), a YooKassa stand-in the real
``yookassa`` SDK talks to over HTTP, and ``PayKit`` (payments_harness.py) pointed at both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from payments_harness import TEST_NETWORK, PayKit

from carsbot_dev.local.moto_isolation import serialize_dynamodb
from carsbot_dev.local.stack import LocalStack, apply_environment, reset_sdk_caches, restore_environment
from carsbot_dev.local.yookassa_standin import YooKassaStandin


@pytest.fixture
def yookassa() -> Iterator[YooKassaStandin]:
    with YooKassaStandin(redelivery_delays=()) as standin:
        yield standin


@pytest.fixture
def pay(aws: LocalStack, yookassa: YooKassaStandin) -> Iterator[PayKit]:
    from carsbot.adapters.aws import client

    serialize_dynamodb()
    client("secretsmanager").put_secret_value(
        SecretId=aws.secrets["YooKassaSecret"],
        SecretString=json.dumps({"shop_id": yookassa.shop_id, "secret_key": yookassa.secret_key}),
    )
    previous = apply_environment(
        {
            "CARSBOT_YOOKASSA_API_URL": yookassa.api_url,
            "CARSBOT_YOOKASSA_TRUSTED_NETWORKS": TEST_NETWORK,
            "CARSBOT_YOOKASSA_TIMEOUT": "5",
        }
    )
    reset_sdk_caches()
    try:
        yield PayKit(aws, yookassa)
    finally:
        restore_environment(previous)
        reset_sdk_caches()
