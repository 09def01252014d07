"""Every dashboard widget and alarm reads a metric the code really emits (name and ``service`` dimension),
or an AWS metric of a resource the template declares."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from carsbot import observability_names as names
from carsbot_dev.local.stack import load_template

ROOT = Path(__file__).resolve().parents[2]
# The code's ways of emitting a metric: carsbot.observability.add_metric / the pipeline's _metric /
# the LLM engine's emit_metric (name first), the monitor's Telemetry.count(health.CONSTANT).
EMIT = re.compile(r"\b(?:add_metric|_metric|emit_metric)\(\s*(?:name=)?f?\"([A-Za-z_]+)(\{)?")
COUNT = re.compile(r"telemetry\.count\(\s*(?:health\.)?([A-Z_]+)\b")


def emitted() -> set[tuple[str, str]]:
    """(metric name, service) pairs the code emits; a name ending in ``_`` is a prefix (f-string)."""
    from carsbot_monitor import health

    found: set[tuple[str, str]] = set()
    for path in (ROOT / "functions").rglob("*.py"):
        for name, dynamic in EMIT.findall(path.read_text(encoding="utf-8")):
            found.add((name + ("*" if dynamic else ""), names.FUNCTIONS))
    for path in (ROOT / "monitor").rglob("*.py"):
        for constant in COUNT.findall(path.read_text(encoding="utf-8")):
            found.add((getattr(health, constant), names.MONITOR))
    return found


def reasons_in_code() -> set[str]:
    """Rejection reasons the code can give (the rules engine's and the filters' literals)."""
    text = "".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "functions" / "carsbot" / "core").rglob("*.py")
    )
    return set(re.findall(r"\"([a-z_]+)[\":]", text))


def is_emitted(name: str, service: str, code: set[tuple[str, str]]) -> bool:
    if (name, service) in code:
        return True
    if (
        name.startswith(names.REJECTED_REASON_PREFIX)
        and (names.REJECTED_REASON_PREFIX + "*", service) in code
    ):
        return name.removeprefix(names.REJECTED_REASON_PREFIX) in reasons_in_code()
    return False


def dashboard_widgets() -> list[dict[str, Any]]:
    template = load_template()
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    return list(json.loads(body)["widgets"])


def test_every_widget_metric_emitted_code() -> None:
    code = emitted()
    resources = load_template()["Resources"]
    seen_custom = 0
    for widget in dashboard_widgets():
        assert widget["properties"]["region"] == "${AWS::Region}"
        for metric in widget["properties"]["metrics"]:
            namespace, metric_name, dimension, value = metric[:4]
            title = widget["properties"]["title"]
            if namespace == names.NAMESPACE:
                seen_custom += 1
                assert dimension == "service", (title, metric)
                assert is_emitted(metric_name, value, code), f"{title}: nothing emits {metric_name} ({value})"
            else:
                assert namespace in ("AWS/SQS", "AWS/Lambda"), metric
                reference = re.fullmatch(r"\$\{([A-Za-z0-9]+)(?:\.QueueName)?\}", value)
                assert reference, (title, value)
                logical = reference.group(1)
                expected = "AWS::SQS::Queue" if namespace == "AWS/SQS" else "AWS::Serverless::Function"
                assert resources[logical]["Type"] == expected, (title, logical)
                assert "Condition" not in resources[logical], f"{logical} may not exist in every stage"
    assert seen_custom >= 30


def test_dashboard_covers_what_the_issue_lists() -> None:
    titles = " | ".join(w["properties"]["title"].lower() for w in dashboard_widgets())
    for topic in (
        "posts in",
        "rejected by reason",
        "latency",
        "llm",
        "queue age",
        "dlq",
        "monitor",
        "bot",
        "contact",
        "revenue",
        "alerts",
        "429",
    ):
        assert topic in titles, topic


def test_alarms_names_registry_read_emitted() -> None:
    code = emitted()
    for resource in load_template()["Resources"].values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        metrics = (
            [props]
            if "MetricName" in props
            else [m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m]
        )
        for metric in metrics:
            if metric["Namespace"] != names.NAMESPACE:
                continue
            service = next(d["Value"] for d in metric["Dimensions"] if d["Name"] == "service")
            assert is_emitted(metric["MetricName"], service, code), metric["MetricName"]
    registry = [v for v in vars(names).values() if isinstance(v, names.Metric)]
    assert len(registry) >= 30
    for metric in registry:
        assert is_emitted(metric.name, metric.service, code), (
            f"observability_names.{metric.name}: not emitted"
        )
