"""The resources of template.yaml, created in a local moto server.

``template.yaml`` is the single source of truth: it is transformed with samtranslator (exactly as
``sam deploy`` would) and created with moto's CloudFormation, which makes the tables (keys, GSIs), queues
(visibility, redrive), bucket, Lambda function records (handler + resolved environment) and SQS
event-source mappings. What moto's CloudFormation skips is created here from the same template:
Secrets Manager secrets and DynamoDB TTL settings.

Used by the local demo (``carsbot demo``) and by the test suite.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOCAL_REGION = "eu-central-1"
CODE_BUCKET = "carsbot-local-code"
CODE_KEY = "functions.zip"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}  # moto's dummies


def repo_root() -> Path:
    """The checkout root (where template.yaml lives)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "template.yaml").is_file():
            return parent
    raise FileNotFoundError("template.yaml not found above " + str(here))


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    handler: str
    environment: dict[str, str]
    code_dir: Path
    timeout: int


@dataclass(frozen=True)
class QueueMapping:
    """An SQS event-source mapping: which queue feeds which function, in what batch size."""

    function: str  # logical id
    queue_url: str
    queue_arn: str
    batch_size: int
    report_batch_item_failures: bool


@dataclass
class LocalStack:
    endpoint_url: str
    stack_name: str
    template: dict[str, Any]
    resources: dict[str, str]  # logical id -> physical id (name, URL or ARN)
    functions: dict[str, FunctionSpec]
    mappings: list[QueueMapping]
    secrets: dict[str, str] = field(default_factory=dict)  # logical id -> ARN

    def queue_url(self, logical_id: str) -> str:
        return self.resources[logical_id]

    def dlq_of(self, queue_logical_id: str) -> str | None:
        props = self.template["Resources"][queue_logical_id].get("Properties", {})
        target = props.get("RedrivePolicy", {}).get("deadLetterTargetArn", {})
        logical = target.get("Fn::GetAtt", [None])[0] if isinstance(target, dict) else None
        return self.resources.get(logical) if logical else None

    def table_names(self) -> list[str]:
        return [
            self.resources[lid]
            for lid, res in self.template["Resources"].items()
            if res["Type"] == "AWS::DynamoDB::Table"
        ]

    def queue_urls(self) -> list[str]:
        return [
            self.resources[lid]
            for lid, res in self.template["Resources"].items()
            if res["Type"] == "AWS::SQS::Queue"
        ]

    def bucket_names(self) -> list[str]:
        return [
            self.resources[lid]
            for lid, res in self.template["Resources"].items()
            if res["Type"] == "AWS::S3::Bucket"
        ]

    def function_environment(self) -> dict[str, str]:
        """The union of every function's environment (they must agree where they overlap)."""
        merged: dict[str, str] = {}
        for spec in self.functions.values():
            for key, value in spec.environment.items():
                if key in merged and merged[key] != value:
                    raise ValueError(f"functions disagree on {key}: {merged[key]!r} != {value!r}")
                merged[key] = value
        return merged

    def clear_data(self) -> None:
        """Empty every table, queue and bucket (faster than re-creating the stack between tests)."""
        from carsbot.adapters.aws import client

        ddb = client("dynamodb")
        for table in self.table_names():
            keys = [k["AttributeName"] for k in ddb.describe_table(TableName=table)["Table"]["KeySchema"]]
            paginator = ddb.get_paginator("scan")
            for page in paginator.paginate(
                TableName=table,
                ProjectionExpression=", ".join(f"#{i}" for i in range(len(keys))),
                ExpressionAttributeNames={f"#{i}": k for i, k in enumerate(keys)},
            ):
                deletes = [
                    {"DeleteRequest": {"Key": {k: item[k] for k in keys}}} for item in page.get("Items", [])
                ]
                for start in range(0, len(deletes), 25):  # BatchWriteItem: 25 a request
                    pending: dict[str, Any] = {table: deletes[start : start + 25]}
                    while pending:
                        pending = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        sqs = client("sqs")
        for url in self.queue_urls():
            sqs.purge_queue(QueueUrl=url)
        s3 = client("s3")
        for bucket in self.bucket_names():
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for obj in page.get("Contents", []):
                    s3.delete_object(Bucket=bucket, Key=obj["Key"])


def load_template(path: Path | None = None) -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    path = path or repo_root() / "template.yaml"
    return yaml_parse(path.read_text())  # type: ignore[no-any-return]


def transform_template(template: Mapping[str, Any], code_uri: str) -> dict[str, Any]:
    """SAM -> CloudFormation, with every function's CodeUri pointing at ``code_uri`` (an s3:// URI)."""
    from samtranslator.translator.transform import transform

    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # no chatter about its own metrics

    sam = json.loads(json.dumps(template))
    sam.setdefault("Globals", {}).setdefault("Function", {})["CodeUri"] = code_uri
    for resource in sam["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            properties = resource.setdefault("Properties", {})
            properties.pop("CodeUri", None)
            # moto's CloudFormation creates no Lambda versions or aliases (the bot's SnapStart alias):
            # locally every function is invoked unpublished, as `sam local` would.
            properties.pop("AutoPublishAlias", None)
            properties.pop("SnapStart", None)

    class _NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    return transform(sam, {}, _NoManagedPolicies())  # type: ignore[no-any-return]


def _sub(value: Any, params: Mapping[str, str]) -> Any:
    """Resolve the simple intrinsics used in secret names (Fn::Sub with ${Param}/${AWS::...})."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"]
        return re.sub(r"\$\{([^}]+)\}", lambda m: params.get(m.group(1), m.group(0)), text)
    if isinstance(value, dict) and "Ref" in value:
        return params.get(value["Ref"], value["Ref"])
    return value


def _code_zip(code_dir: Path) -> bytes:
    """A small zip standing in for the function package (moto stores it; the runner imports from disk)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(code_dir.glob("*/app.py")):
            archive.write(path, path.relative_to(code_dir).as_posix())
    return buffer.getvalue()


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 (random port); yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # The local server may purge a queue more than once a minute (tests empty queues between cases).
    os.environ["MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR"] = "false"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto keeps its state per process, not per server: start from a clean slate.
    import requests  # moto's own dependency

    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
    try:
        yield endpoint
    finally:
        server.stop()


def point_sdks_at(endpoint_url: str) -> dict[str, str]:
    """Environment that makes boto3/pynamodb talk to the local endpoint with moto's dummy credentials."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_DEFAULT_REGION": LOCAL_REGION,
        "AWS_REGION": LOCAL_REGION,
        **FAKE_CREDENTIALS,
    }


def deploy(
    endpoint_url: str,
    *,
    stack_name: str = "carsbot-local",
    parameters: Mapping[str, str] | None = None,
    secret_values: Mapping[str, str] | None = None,
    template_path: Path | None = None,
) -> LocalStack:
    """Create the template's resources in the moto server at ``endpoint_url``.

    ``secret_values`` maps a secret's logical id (e.g. ``BotTokenSecret``) to the value to store; secrets
    without a value are created empty, as in a fresh deployment.
    """
    import boto3

    logging.getLogger("moto").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Tried to parse AWS::", category=UserWarning)
    session = boto3.session.Session(
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=LOCAL_REGION,
    )

    def aws(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint_url)  # type: ignore[call-overload]

    root = repo_root()
    template = load_template(template_path)
    params = {"Stage": "local", **(parameters or {})}
    code_dir = root / "functions"

    s3 = aws("s3")
    s3.create_bucket(Bucket=CODE_BUCKET, CreateBucketConfiguration={"LocationConstraint": LOCAL_REGION})
    s3.put_object(Bucket=CODE_BUCKET, Key=CODE_KEY, Body=_code_zip(code_dir))
    cfn_template = transform_template(template, f"s3://{CODE_BUCKET}/{CODE_KEY}")

    cloudformation = aws("cloudformation")
    declared = set(template.get("Parameters", {}))
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(cfn_template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items() if k in declared],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    status = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    if status["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"local stack failed: {status['StackStatus']} {status.get('StackStatusReason')}")
    summaries = cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name)
    resources = {
        r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
        for page in summaries
        for r in page["StackResourceSummaries"]
    }

    # Secrets: moto's CloudFormation skips them; create them from the template's own definitions.
    sub_params = {
        **params,
        "AWS::Region": LOCAL_REGION,
        "AWS::AccountId": "123456789012",
        "AWS::StackName": stack_name,
    }
    secretsmanager = aws("secretsmanager")
    secrets: dict[str, str] = {}
    for logical_id, res in template["Resources"].items():
        if res["Type"] != "AWS::SecretsManager::Secret":
            continue
        props = res.get("Properties", {})
        name = _sub(props.get("Name", logical_id), sub_params)
        created = secretsmanager.create_secret(Name=name, Description=str(props.get("Description", "")))
        value = (secret_values or {}).get(logical_id)
        if value:
            secretsmanager.put_secret_value(SecretId=created["ARN"], SecretString=value)
        secrets[logical_id] = created["ARN"]
        resources[logical_id] = created["ARN"]

    # TTL: moto's CloudFormation ignores TimeToLiveSpecification; apply it from the template.
    dynamodb = aws("dynamodb")
    for logical_id, res in template["Resources"].items():
        ttl = (
            res.get("Properties", {}).get("TimeToLiveSpecification")
            if res["Type"] == "AWS::DynamoDB::Table"
            else None
        )
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=resources[logical_id],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )

    # Functions and their SQS event-source mappings, as moto recorded them.
    lambda_client = aws("lambda")
    by_arn: dict[str, str] = {}
    functions: dict[str, FunctionSpec] = {}
    for logical_id, res in cfn_template["Resources"].items():
        if res["Type"] != "AWS::Lambda::Function" or logical_id not in resources:
            continue  # not a function, or one whose Condition is false for these parameters
        conf = lambda_client.get_function_configuration(FunctionName=resources[logical_id])
        env = dict(conf.get("Environment", {}).get("Variables", {}))
        sam_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get(
            "Variables", {}
        ) | template["Resources"][logical_id].get("Properties", {}).get("Environment", {}).get(
            "Variables", {}
        )
        for key, value in sam_env.items():  # refs to resources moto skipped (secrets) -> the created ARNs
            if isinstance(value, dict) and value.get("Ref") in secrets:
                env[key] = secrets[value["Ref"]]
        functions[logical_id] = FunctionSpec(
            logical_id=logical_id,
            name=conf["FunctionName"],
            handler=conf["Handler"],
            environment={k: str(v) for k, v in env.items()},
            code_dir=code_dir,
            timeout=int(conf.get("Timeout", 3)),
        )
        by_arn[conf["FunctionArn"]] = logical_id

    sqs = aws("sqs")
    url_by_arn = {}
    for logical_id, res in template["Resources"].items():
        if res["Type"] == "AWS::SQS::Queue":
            url = sqs.get_queue_url(QueueName=resources[logical_id].rsplit("/", 1)[-1])["QueueUrl"]
            resources[logical_id] = url
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            url_by_arn[arn] = url
    for spec in functions.values():  # env vars that hold queue URLs: use the endpoint form
        for key, value in list(spec.environment.items()):
            for arn, url in url_by_arn.items():
                if value.endswith("/" + arn.rsplit(":", 1)[-1]) and value.startswith("https://sqs."):
                    spec.environment[key] = url
    mappings = [
        QueueMapping(
            function=by_arn[m["FunctionArn"]],
            queue_url=url_by_arn[m["EventSourceArn"]],
            queue_arn=m["EventSourceArn"],
            batch_size=int(m.get("BatchSize", 10)),
            report_batch_item_failures="ReportBatchItemFailures" in m.get("FunctionResponseTypes", []),
        )
        for m in lambda_client.list_event_source_mappings()["EventSourceMappings"]
        if m["EventSourceArn"] in url_by_arn and m["FunctionArn"] in by_arn
    ]
    # The runner is the poller: switch moto's own pollers off (they would try to run the code in Docker
    # and use up receives).
    for m in lambda_client.list_event_source_mappings()["EventSourceMappings"]:
        lambda_client.update_event_source_mapping(UUID=m["UUID"], Enabled=False)
    return LocalStack(
        endpoint_url=endpoint_url,
        stack_name=stack_name,
        template=template,
        resources=resources,
        functions=functions,
        mappings=mappings,
        secrets=secrets,
    )


def apply_environment(env: Mapping[str, str]) -> dict[str, str | None]:
    """Set ``env`` in os.environ; returns the previous values (for restoring)."""
    previous = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    return previous


def restore_environment(previous: Mapping[str, str | None]) -> None:
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def reset_sdk_caches() -> None:
    """Forget cached settings, clients, secrets and table bindings (after the environment changed)."""
    from carsbot.adapters import aws, secrets
    from carsbot.adapters.db import bind_tables
    from carsbot.config import reset_settings

    reset_settings()
    aws.client.cache_clear()
    secrets.reset_secrets_cache()
    bind_tables()


@contextmanager
def local_aws(
    *,
    parameters: Mapping[str, str] | None = None,
    secret_values: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[LocalStack]:
    """A moto server holding the template's resources, with this process pointed at it.

    The process environment gets the SDK endpoint and the functions' resolved ``CARSBOT_*`` variables for
    the duration of the block, exactly as Lambda would give them to the handlers (``extra_env`` last, e.g.
    a quieter log level).
    """
    with moto_server() as endpoint:
        previous = apply_environment(point_sdks_at(endpoint))
        try:
            stack = deploy(endpoint, parameters=parameters, secret_values=secret_values)
            previous.update(apply_environment({**stack.function_environment(), **(extra_env or {})}))
            reset_sdk_caches()
            yield stack
        finally:
            restore_environment(previous)
            reset_sdk_caches()
