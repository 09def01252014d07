"""The orders and payments models match the tables template.yaml creates (keys, index keys, projections)."""

from __future__ import annotations

from typing import Any

from carsbot.adapters.aws import client
from carsbot.adapters.db.orders import OrderModel, PaymentModel
from carsbot.config import get_settings
from carsbot_dev.local.stack import LocalStack


def _schema(keys: list[dict[str, str]]) -> dict[str, str]:
    return {k["AttributeName"]: k["KeyType"] for k in keys}


def _model_indexes(model: Any) -> dict[str, dict[str, str]]:
    found = {}
    for index in model._indexes.values():
        keys = {}
        for name, attribute in index.Meta.attributes.items():
            if attribute.is_hash_key:
                keys[name] = "HASH"
            if attribute.is_range_key:
                keys[name] = "RANGE"
        found[index.Meta.index_name] = keys
    return found


def test_orders_payments_models_match_template(aws: LocalStack) -> None:
    settings = get_settings()
    for model, table in [(OrderModel, settings.orders_table), (PaymentModel, settings.payments_table)]:
        assert model.Meta.table_name == table
        described = client("dynamodb").describe_table(TableName=table)["Table"]
        assert _schema(described["KeySchema"]) == {model._hash_keyname: "HASH"}
        declared = {
            i["IndexName"]: _schema(i["KeySchema"]) for i in described.get("GlobalSecondaryIndexes", [])
        }
        assert _model_indexes(model) == declared, table
        projections = {i["Projection"]["ProjectionType"] for i in described.get("GlobalSecondaryIndexes", [])}
        assert projections == {"ALL"}
