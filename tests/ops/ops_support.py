"""Helpers for the ops tests: an operator's shell, the template's alarms in moto."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from carsbot.ops import stage
from carsbot_dev.local.stack import LocalStack, reset_sdk_caches


@contextmanager
def operator_shell() -> Iterator[None]:
    """A shell that knows nothing of the stack but its stage; what the CLI sets in it is undone after."""
    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith("CARSBOT_")]:
        del os.environ[key]
    stage.forget_stage()
    reset_sdk_caches()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        stage.forget_stage()
        reset_sdk_caches()


def create_template_alarms(stack: LocalStack) -> dict[str, str]:
    """The template's alarms in moto (its CloudFormation skips them), named as CloudFormation names them.

    Returns logical id -> alarm name (``<stack>-<LogicalId>-<suffix>``).
    """
    from carsbot.adapters.aws import client

    cloudwatch = client("cloudwatch")
    names = {}
    for logical_id, resource in stack.template["Resources"].items():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        name = f"{stack.stack_name}-{logical_id}-LOCAL01"
        request = {
            "AlarmName": name,
            "AlarmDescription": str(props.get("AlarmDescription", "")),
            "EvaluationPeriods": int(props.get("EvaluationPeriods", 1)),
            "Threshold": float(props.get("Threshold", 0)),
            "ComparisonOperator": props["ComparisonOperator"],
        }
        if "MetricName" in props:
            request.update(
                MetricName=props["MetricName"],
                Namespace=props["Namespace"],
                Statistic=props.get("Statistic", "Sum"),
                Period=int(props.get("Period", 60)),
            )
        else:  # metric math: moto needs only a metric to hold the state
            request.update(MetricName="Local", Namespace="carsbot/local", Statistic="Sum", Period=60)
        cloudwatch.put_metric_alarm(**request)
        names[logical_id] = name
    return names
