"""A stage's resources: ``--stage NAME`` (or ``CARSBOT_STAGE``) -> its stack -> ``CARSBOT_*`` settings.

Admin and ops commands run on an operator's machine, not inside the stack, so nobody exports the stack's
table, queue and secret names for them. Given a stage, this module

1. finds the stack: the ``stack_name`` of the samconfig.toml environment whose ``parameter_overrides`` say
   ``Stage=<stage>`` (and that environment's region), else ``carsbot-<stage>``; ``CARSBOT_STACK_NAME``
   overrides both;
2. reads the stack with CloudFormation (``describe_stacks``, ``list_stack_resources`` and the deployed,
   processed template) through ``carsbot.adapters.aws.client``;
3. resolves every ``CARSBOT_*`` variable the template gives its functions and the monitor task (``Ref`` to a
   resource -> its physical id, to a secret -> its name, e.g. ``carsbot/dev/telegram-session``; ``Ref``
   to a parameter -> the deployed value; ``Fn::Sub``/``Fn::GetAtt`` for names and ARNs), so the command
   sees exactly the settings the deployed code sees.

Errors are :class:`StageError` with one line that says what is missing and how to fix it.
"""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STAGE_ENV = "CARSBOT_STAGE"
STACK_ENV = "CARSBOT_STACK_NAME"
# An environment that already names the stage's tables (Lambda, ECS, the local runner) is used as it is.
CONFIGURED_MARKER = "CARSBOT_STATE_TABLE"
_UNUSABLE = ("CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_IN_PROGRESS", "DELETE_COMPLETE")
STAGE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,40}$")


class StageError(RuntimeError):
    """The stage's stack could not be found or read; ``str()`` is one line for the operator."""


@dataclass(frozen=True)
class StackResource:
    logical_id: str
    type: str
    physical_id: str


@dataclass
class StackInfo:
    """A deployed stack as the ops commands need it."""

    name: str
    stage: str
    region: str
    account: str
    partition: str
    parameters: dict[str, str]
    outputs: dict[str, str]
    resources: dict[str, StackResource]
    template: dict[str, Any]
    _queue_urls: dict[str, str] = field(default_factory=dict, repr=False)

    def of_type(self, resource_type: str) -> list[StackResource]:
        return [r for r in self.resources.values() if r.type == resource_type]

    def template_resources(self, resource_type: str | None = None) -> dict[str, dict[str, Any]]:
        found = self.template.get("Resources", {})
        return {k: v for k, v in found.items() if resource_type is None or v.get("Type") == resource_type}

    def queue_url(self, logical_id: str) -> str | None:
        """The queue's URL, usable with the current endpoint (a local endpoint rewrites AWS's URL form)."""
        if logical_id in self._queue_urls:
            return self._queue_urls[logical_id]
        resource = self.resources.get(logical_id)
        if resource is None or not resource.physical_id:
            return None
        url = resource.physical_id
        if os.environ.get("AWS_ENDPOINT_URL"):
            from carsbot.adapters.aws import client

            url = str(client("sqs").get_queue_url(QueueName=url.rstrip("/").rsplit("/", 1)[-1])["QueueUrl"])
        self._queue_urls[logical_id] = url
        return url

    def environment(self) -> dict[str, str]:
        """``CARSBOT_*`` variables the template sets for its functions and the monitor (first one wins)."""
        found: dict[str, str] = {}
        for key, raw in _environment_entries(self.template):
            if not key.startswith("CARSBOT_") or key in found:
                continue
            value = _resolve(raw, self)
            if value is not None:
                found[key] = value
        return found


# ------------------------------------------------------------------------------------- stage -> stack


def samconfig_path() -> Path | None:
    """samconfig.toml of the current directory, else of the checkout this package runs from."""
    candidates = [Path.cwd() / "samconfig.toml", Path(__file__).resolve().parents[3] / "samconfig.toml"]
    return next((p for p in candidates if p.is_file()), None)


def _overrides(text: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in shlex.split(text or "") if "=" in item)
    return {key: value for key, value in pairs}


def stack_for_stage(stage: str, config: Path | None = None) -> tuple[str, str | None]:
    """``(stack name, region or None)`` for ``stage``, from samconfig.toml or the template's naming."""
    if os.environ.get(STACK_ENV):
        return os.environ[STACK_ENV], None
    path = config or samconfig_path()
    if path is not None:
        try:
            environments = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError):
            environments = {}
        for section in environments.values():
            if not isinstance(section, dict):
                continue
            deploy = section.get("deploy", {}).get("parameters", {})
            if _overrides(str(deploy.get("parameter_overrides", ""))).get("Stage") == stage:
                stack = section.get("global", {}).get("parameters", {}).get("stack_name")
                return str(stack or f"carsbot-{stage}"), deploy.get("region")
    return f"carsbot-{stage}", None


def known_stages(config: Path | None = None) -> list[str]:
    """Stages named in samconfig.toml (for error messages)."""
    path = config or samconfig_path()
    if path is None:
        return []
    try:
        environments = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return []
    stages = []
    for section in environments.values():
        if isinstance(section, dict):
            overrides = str(section.get("deploy", {}).get("parameters", {}).get("parameter_overrides", ""))
            stage = _overrides(overrides).get("Stage")
            if stage and stage not in stages:
                stages.append(stage)
    return stages


# ------------------------------------------------------------------------------------- reading the stack


def _template_body(body: Any) -> dict[str, Any]:
    if isinstance(body, Mapping):
        return dict(body)
    import json

    try:
        parsed = json.loads(str(body))
    except ValueError as exc:
        raise StageError("the stack's processed template is not JSON; redeploy it with sam deploy") from exc
    return dict(parsed)


def describe_stack(stack_name: str, stage: str | None = None) -> StackInfo:
    """Read ``stack_name`` (outputs, parameters, every resource, the processed template)."""
    from botocore.exceptions import ClientError

    from carsbot.adapters.aws import client, region

    cloudformation = client("cloudformation")
    try:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ValidationError":
            hint = ", ".join(known_stages()) or "dev, prod"
            raise StageError(
                f"no CloudFormation stack {stack_name!r} in {region()}: check --stage (samconfig.toml "
                f"stages: {hint}), AWS_REGION, or deploy it first (sam deploy --config-env <env>)"
            ) from None
        raise
    status = str(stack.get("StackStatus", ""))
    if status in _UNUSABLE:
        raise StageError(f"stack {stack_name!r} is {status}: deploy it again (sam deploy)")
    parameters = {p["ParameterKey"]: str(p.get("ParameterValue", "")) for p in stack.get("Parameters", [])}
    outputs = {o["OutputKey"]: str(o.get("OutputValue", "")) for o in stack.get("Outputs", [])}
    # list_stack_resources pages through every resource (describe_stack_resources stops at 100).
    pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name)
    resources = {
        r["LogicalResourceId"]: StackResource(
            r["LogicalResourceId"], r["ResourceType"], r["PhysicalResourceId"]
        )
        for page in pages
        for r in page["StackResourceSummaries"]
        if r.get("LogicalResourceId") and r.get("PhysicalResourceId")
    }
    body = cloudformation.get_template(StackName=stack_name, TemplateStage="Processed")["TemplateBody"]
    arn = str(stack.get("StackId", "")).split(":")
    return StackInfo(
        name=stack_name,
        stage=stage or parameters.get("Stage", ""),
        region=arn[3] if len(arn) > 4 else region(),
        account=arn[4] if len(arn) > 4 else "",
        partition=arn[1] if len(arn) > 4 else "aws",
        parameters=parameters,
        outputs=outputs,
        resources=resources,
        template=_template_body(body),
    )


# ---------------------------------------------------------------------------------------------- intrinsics


def _environment_entries(template: Mapping[str, Any]) -> list[tuple[str, Any]]:
    entries: list[tuple[str, Any]] = []
    globals_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    entries += list(globals_env.items())
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties", {}) or {}
        if resource.get("Type") in ("AWS::Lambda::Function", "AWS::Serverless::Function"):
            entries += list((props.get("Environment", {}) or {}).get("Variables", {}).items())
        elif resource.get("Type") == "AWS::ECS::TaskDefinition":
            for container in props.get("ContainerDefinitions", []) or []:
                entries += [
                    (e.get("Name", ""), e.get("Value")) for e in container.get("Environment", []) or []
                ]
    return entries


def _pseudo(name: str, info: StackInfo) -> str | None:
    return {
        "AWS::Region": info.region,
        "AWS::AccountId": info.account,
        "AWS::StackName": info.name,
        "AWS::Partition": info.partition,
        "AWS::URLSuffix": "amazonaws.com",
    }.get(name)


def _ref(name: str, info: StackInfo) -> str | None:
    pseudo = _pseudo(name, info)
    if pseudo is not None:
        return pseudo
    if name in info.parameters:
        return info.parameters[name]
    declared = info.template.get("Resources", {}).get(name, {})
    if declared.get("Type") == "AWS::SecretsManager::Secret":  # its name, as ops type it
        secret_name = _resolve(declared.get("Properties", {}).get("Name"), info)
        if secret_name:
            return secret_name
    if declared.get("Type") == "AWS::SQS::Queue":
        return info.queue_url(name)
    resource = info.resources.get(name)
    return resource.physical_id if resource else None


def _get_att(name: str, attribute: str, info: StackInfo) -> str | None:
    resource = info.resources.get(name)
    if resource is None:
        return None
    physical = resource.physical_id
    if resource.type == "AWS::SQS::Queue":
        queue_name = physical.rstrip("/").rsplit("/", 1)[-1]
        return {
            "QueueName": queue_name,
            "QueueUrl": info.queue_url(name),
            "Arn": f"arn:{info.partition}:sqs:{info.region}:{info.account}:{queue_name}",
        }.get(attribute)
    if resource.type == "AWS::DynamoDB::Table" and attribute == "Arn":
        return f"arn:{info.partition}:dynamodb:{info.region}:{info.account}:table/{physical}"
    if resource.type == "AWS::SNS::Topic" and attribute == "TopicName":
        return physical.rsplit(":", 1)[-1]
    if attribute in ("Arn", "TopicArn") and physical.startswith("arn:"):
        return physical
    return None


def _resolve(value: Any, info: StackInfo) -> str | None:
    """A template value -> its deployed string, or None when it cannot be known offline of the resource."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, Mapping) or len(value) != 1:
        return None
    ((function, argument),) = value.items()
    if function == "Ref":
        return _ref(str(argument), info)
    if function == "Fn::GetAtt":
        parts = argument.split(".", 1) if isinstance(argument, str) else list(argument)
        return _get_att(str(parts[0]), str(parts[1]), info) if len(parts) == 2 else None
    if function == "Fn::Sub":
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        missing = False

        def substitute(match: re.Match[str]) -> str:
            nonlocal missing
            key = match.group(1)
            if key in variables:
                resolved = _resolve(variables[key], info)
            elif "." in key and not key.startswith("AWS::"):
                logical, attribute = key.split(".", 1)
                resolved = _get_att(logical, attribute, info)
            else:
                resolved = _ref(key, info)
            missing = missing or resolved is None
            return resolved or ""

        result = re.sub(r"\$\{([^}!]+)\}", substitute, str(text))
        return None if missing else result
    if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
        items = argument[1]
        if isinstance(items, Mapping):  # a list parameter (CommaDelimitedList) or another list intrinsic
            joined = _resolve(items, info)
            items = joined.split(",") if joined is not None else [None]
        parts = [_resolve(item, info) if item is not None else None for item in items]
        return None if any(p is None for p in parts) else str(argument[0]).join(p or "" for p in parts)
    return None


# ---------------------------------------------------------------------------------------------- applying


_current: StackInfo | None = None


def current_stack() -> StackInfo | None:
    """The stack resolved for this process by :func:`apply_stage` (None when none was)."""
    return _current


def _reset_caches() -> None:
    from carsbot.adapters import aws, secrets
    from carsbot.config import reset_settings

    reset_settings()
    aws.client.cache_clear()
    secrets.reset_secrets_cache()


def apply_stage(
    stage: str, *, override: bool = True, environ: MutableMapping[str, str] | None = None
) -> StackInfo:
    """Resolve ``stage`` and put its ``CARSBOT_*`` settings into ``environ`` (default ``os.environ``).

    ``override`` (an explicit ``--stage``): the stack's values replace what the environment had; otherwise
    (``CARSBOT_STAGE`` alone) only missing variables are filled in.
    """
    global _current
    env = os.environ if environ is None else environ
    if not STAGE_NAME.match(stage):
        raise StageError(f"{stage!r} is not a stage name (letters, digits and '-', e.g. dev or prod)")
    stack_name, stack_region = stack_for_stage(stage)
    if stack_region and not (env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")):
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = stack_region
    _reset_caches()
    info = describe_stack(stack_name, stage)
    values = {**info.environment(), STAGE_ENV: stage, STACK_ENV: stack_name}
    for key, value in values.items():
        if override or not env.get(key):
            env[key] = value
    _reset_caches()
    _current = info
    return info


def require_stack() -> StackInfo:
    """The current stage's stack: the one already resolved, else the one ``CARSBOT_STAGE`` names."""
    if _current is not None:
        return _current
    stage = os.environ.get(STAGE_ENV)
    if not stage:
        raise StageError(f"which stage? pass --stage NAME or set {STAGE_ENV} (e.g. dev, prod)")
    return apply_stage(stage, override=False)


def forget_stage() -> None:
    """Drop the resolved stack (tests)."""
    global _current
    _current = None


def split_stage_argument(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """``--stage NAME`` / ``--stage=NAME`` anywhere in ``argv`` -> ``(NAME, argv without it)``."""
    stage: str | None = None
    rest: list[str] = []
    items = list(argv)
    index = 0
    while index < len(items):
        item = items[index]
        if item == "--":
            rest += items[index:]
            break
        if item == "--stage":
            if index + 1 >= len(items) or items[index + 1].startswith("-"):
                raise StageError("--stage needs a stage name, e.g. --stage dev")
            stage = items[index + 1]
            index += 2
            continue
        if item.startswith("--stage="):
            stage = item.split("=", 1)[1]
            if not stage:
                raise StageError("--stage needs a stage name, e.g. --stage=dev")
            index += 1
            continue
        rest.append(item)
        index += 1
    return stage, rest
