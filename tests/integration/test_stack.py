"""The local stack is built from template.yaml itself: names, keys, indexes, TTL, queues, mappings."""

from __future__ import annotations

from carsbot.adapters.aws import client
from carsbot.adapters.db import ChannelModel, DedupModel, ListingModel, PostModel, StateModel
from carsbot.config import get_settings
from carsbot_dev.local.stack import LocalStack


def _key_schema(table: str) -> dict[str, str]:
    desc = client("dynamodb").describe_table(TableName=table)["Table"]
    return {k["AttributeName"]: k["KeyType"] for k in desc["KeySchema"]}


def test_pynamodb_models_match_template_tables(aws: LocalStack) -> None:
    settings = get_settings()
    for model, table in [
        (ChannelModel, settings.channels_table),
        (PostModel, settings.posts_table),
        (ListingModel, settings.listings_table),
        (DedupModel, settings.dedup_table),
        (StateModel, settings.state_table),
    ]:
        assert model.Meta.table_name == table
        hash_key = model._hash_keyname
        assert _key_schema(table) == {hash_key: "HASH"}, table
        desc = client("dynamodb").describe_table(TableName=table)["Table"]
        declared = {i["IndexName"] for i in desc.get("GlobalSecondaryIndexes", [])}
        assert {idx.Meta.index_name for idx in model._indexes.values()} == declared, table


def test_ttl_and_queues_come_from_template(aws: LocalStack) -> None:
    ddb = client("dynamodb")
    ttl = ddb.describe_time_to_live(TableName=get_settings().dedup_table)["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "ENABLED" and ttl["AttributeName"] == "expires_at"
    attrs = client("sqs").get_queue_attributes(
        QueueUrl=get_settings().posts_queue_url, AttributeNames=["All"]
    )
    assert int(attrs["Attributes"]["VisibilityTimeout"]) >= 6 * aws.functions["ExtractFunction"].timeout
    assert '"maxReceiveCount": 5' in attrs["Attributes"]["RedrivePolicy"]


def test_functions_and_mappings(aws: LocalStack) -> None:
    assert aws.functions["ExtractFunction"].handler == "extract.app.handler"
    assert aws.functions["PublishFunction"].handler == "publish.app.handler"
    fed = {m.function: m for m in aws.mappings}
    assert fed["ExtractFunction"].queue_url == get_settings().posts_queue_url
    assert fed["PublishFunction"].queue_url == get_settings().publish_queue_url
    assert all(m.report_batch_item_failures for m in aws.mappings)


def test_secrets_created_and_referenced(aws: LocalStack) -> None:
    from carsbot.adapters.secrets import get_secret

    settings = get_settings()
    assert settings.bot_token_secret == aws.secrets["BotTokenSecret"]
    assert get_secret(settings.bot_token_secret).field("token") == "123456:TEST-token"
