"""The monitor's container and infrastructure: what template.yaml and monitor/Dockerfile promise."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from carsbot_dev.local.stack import load_template, repo_root

ROOT = repo_root()


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return load_template()["Resources"]  # type: ignore[no-any-return]


def test_service_never_runs_two_tasks(resources: dict[str, Any]) -> None:
    service = resources["MonitorService"]
    props = service["Properties"]
    assert service["Condition"] == "DeployMonitor"
    assert props["DesiredCount"] == 1 and props["LaunchType"] == "FARGATE"
    deployment = props["DeploymentConfiguration"]
    assert deployment["MinimumHealthyPercent"] == 0 and deployment["MaximumPercent"] == 100
    network = props["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "ENABLED"  # reaches Telegram without a NAT gateway
    ingress = resources["MonitorSecurityGroup"]["Properties"].get("SecurityGroupIngress")
    assert not ingress


def test_task_definition(resources: dict[str, Any]) -> None:
    props = resources["MonitorTaskDefinition"]["Properties"]
    assert (props["Cpu"], props["Memory"]) == ("256", "512")
    assert props["RuntimePlatform"]["CpuArchitecture"] == "ARM64"
    (container,) = props["ContainerDefinitions"]
    assert container["HealthCheck"]["Command"] == ["CMD", "carsbot", "monitor", "healthcheck"]
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    env = {item["Name"]: item["Value"] for item in container["Environment"]}
    assert env["CARSBOT_TELEGRAM_SESSION_SECRET"] == {
        "Ref": "TelegramSessionSecret"
    }  # a reference, not a value
    assert env["POWERTOOLS_SERVICE_NAME"] == "carsbot-monitor"
    assert "Secrets" not in container  # the session is read at run time, never injected into the environment
    from carsbot.config import Settings
    from carsbot_monitor.settings import MonitorSettings

    known = {f"CARSBOT_{name.upper()}" for name in Settings.model_fields} | {
        f"CARSBOT_MONITOR_{name.upper()}" for name in MonitorSettings.model_fields
    }
    assert {name for name in env if name.startswith("CARSBOT_")} <= known
    assert resources["MonitorLogGroup"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_task_role_is_least_privilege(resources: dict[str, Any]) -> None:
    statements = resources["MonitorTaskRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    actions = {
        action
        for s in statements
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert "secretsmanager:PutSecretValue" not in actions  # the monitor only reads its session
    assert all(not a.endswith("*") for a in actions)
    assert all(s["Resource"] != "*" for s in statements)


def test_heartbeat_alarm_matches_the_metric(resources: dict[str, Any]) -> None:
    from carsbot_monitor import health

    alarm = resources["MonitorHeartbeatAlarm"]["Properties"]
    assert alarm["MetricName"] == health.HEARTBEAT and alarm["Namespace"] == "carsbot"
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "carsbot-monitor"}]
    assert resources["MonitorSessionAlarm"]["Properties"]["MetricName"] == health.SESSION_INVALID


def test_dockerfile_runs_same_command_non_root() -> None:
    text = (ROOT / "monitor" / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+) AS (\w+)", text, flags=re.M)
    assert [name for _, name in stages] == ["build", "runtime"]
    assert "ARG PYTHON_IMAGE=python:3.12-slim" in text
    runtime = text.split("AS runtime", 1)[1]
    assert "build-essential" not in runtime and "apt-get" not in runtime  # no build tools in the final image
    assert re.search(r"^USER 10001", runtime, flags=re.M)
    assert 'ENTRYPOINT ["carsbot"]' in runtime and 'CMD ["monitor", "run"]' in runtime
    assert 'CMD ["carsbot", "monitor", "healthcheck"]' in runtime


def test_dockerfile_dependencies_agree_pyproject() -> None:
    text = (ROOT / "monitor" / "Dockerfile").read_text()
    pinned = dict(re.findall(r'"([a-z0-9-]+)(?:\[[a-z]+\])?([<>=!][^"]+)"', text))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    declared: dict[str, str] = {}
    for dependency in project:
        match = re.match(r"([a-z0-9-]+)(?:\[[a-z]+\])?(.*)", dependency.lower())
        assert match is not None, dependency
        declared[match.group(1)] = match.group(2)
    assert pinned and set(pinned) <= set(declared)
    for name, spec in pinned.items():
        assert spec == declared[name], name


def test_ignore_file_sends_only_what_image_needs() -> None:
    lines = (ROOT / "monitor" / "Dockerfile.dockerignore").read_text().splitlines()
    assert "**" in lines and "!monitor/carsbot_monitor/**" in lines and "!functions/carsbot/**" in lines
    assert Path(ROOT / "functions" / "carsbot").is_dir()
