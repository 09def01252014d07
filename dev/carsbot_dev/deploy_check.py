"""Offline deploy checks (``make deploy-check``): what the code reads is what the template gives it.

For every Lambda function of template.yaml (and the monitor task), the static import closure of its
handler (``carsbot_dev.import_closure``) is searched for the settings fields it reads
(``settings.posts_queue_url``, ``get_settings().bot_token_secret``...). Then:

1. every field that names a resource (``*_table``, ``*_queue_url``, ``*_bucket``, ``*_secret``) or whose
   default is empty must be set by the template for that function (``CARSBOT_<FIELD>`` in Globals, the
   function's own Environment, or the task definition's container environment);
2. every secret setting read anywhere (``*_secret``) is set from a declared ``AWS::SecretsManager::Secret``,
   and a function that reads one may read it (a ``GetSecretValue`` policy on that secret);
3. every parameter the samconfig.toml environments override exists in the template, and each environment
   names a stage.

Exit code 1 with one line per problem; 0 prints what was checked.

    python -m carsbot_dev.deploy_check
"""

from __future__ import annotations

import ast
import shlex
import sys
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carsbot_dev.import_closure import import_closure
from carsbot_dev.local.stack import load_template, repo_root

RESOURCE_SUFFIXES = ("_table", "_queue_url", "_bucket", "_secret")
MONITOR_ENTRY = "carsbot_monitor.app"


def settings_fields() -> dict[str, Any]:
    """Settings field name -> its default."""
    from carsbot.config import Settings

    return {name: info.default for name, info in Settings.model_fields.items()}


def _is_settings(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return "settings" in node.id.lower()
    if isinstance(node, ast.Attribute):
        return "settings" in node.attr.lower()
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        return name in ("get_settings", "Settings")
    return False


# Binds every model to its table whether the function uses it or not: its names are no reads.
BINDS_EVERYTHING = "carsbot/adapters/db/binding.py"


def fields_read(paths: Iterable[Path], known: Iterable[str]) -> dict[str, set[str]]:
    """Field -> modules that read it: ``<...settings>.<field>``, or its name as a string constant
    (``getattr(settings, "posts_queue_url")``, a mapping of field names)."""
    wanted = set(known)
    found: dict[str, set[str]] = {}
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        dynamic = not path.as_posix().endswith(BINDS_EVERYTHING) and not path.as_posix().endswith("config.py")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in wanted and _is_settings(node.value):
                found.setdefault(node.attr, set()).add(str(path))
            elif dynamic and isinstance(node, ast.Constant) and node.value in wanted:
                found.setdefault(str(node.value), set()).add(str(path))
    return found


def _module_path(name: str, roots: Sequence[Path]) -> Path | None:
    parts = name.split(".")
    for root in roots:
        for candidate in (root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py")):
            if candidate.is_file():
                return candidate
    return None


def required(field_name: str, default: Any) -> bool:
    return field_name.endswith(RESOURCE_SUFFIXES) or default == ""


@dataclass
class Target:
    """A deployed unit: a function or the monitor task."""

    logical_id: str
    entry: str
    environment: dict[str, Any]
    policies: list[Any] = field(default_factory=list)
    is_function: bool = True


def targets(template: Mapping[str, Any]) -> list[Target]:
    resources = template.get("Resources", {})
    globals_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    found = []
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {}) or {}
        if resource.get("Type") == "AWS::Serverless::Function":
            env = {**globals_env, **(props.get("Environment", {}) or {}).get("Variables", {})}
            entry = str(props.get("Handler", "")).rpartition(".")[0]
            found.append(Target(logical_id, entry, env, list(props.get("Policies", []) or [])))
        elif resource.get("Type") == "AWS::ECS::TaskDefinition":
            env = {}
            for container in props.get("ContainerDefinitions", []) or []:
                env.update({e["Name"]: e.get("Value") for e in container.get("Environment", []) or []})
            found.append(Target(logical_id, MONITOR_ENTRY, env, [], is_function=False))
    return found


def _ref(value: Any) -> str | None:
    return str(value["Ref"]) if isinstance(value, Mapping) and "Ref" in value else None


def _may_read_secret(target: Target, secret_logical: str, resources: Mapping[str, Any]) -> bool:
    if not target.is_function:  # the task role is a separate resource: look for any statement on it
        text = str(resources)
        return f"'Ref': '{secret_logical}'" in text
    for policy in target.policies:
        if isinstance(policy, Mapping):
            arn = policy.get("AWSSecretsManagerGetSecretValuePolicy", {})
            if isinstance(arn, Mapping) and _ref(arn.get("SecretArn")) == secret_logical:
                return True
            for statement in policy.get("Statement", []) or []:
                actions = statement.get("Action", [])
                actions = [actions] if isinstance(actions, str) else actions
                targets_ = statement.get("Resource", [])
                targets_ = targets_ if isinstance(targets_, list) else [targets_]
                if "secretsmanager:GetSecretValue" in actions and any(
                    _ref(t) == secret_logical for t in targets_
                ):
                    return True
    return False


def check_template(template: Mapping[str, Any], roots: Sequence[Path]) -> tuple[list[str], list[str]]:
    """``(problems, notes)`` for the functions and the monitor of ``template``."""
    defaults = settings_fields()
    resources = template.get("Resources", {})
    secrets = {k for k, v in resources.items() if v.get("Type") == "AWS::SecretsManager::Secret"}
    problems: list[str] = []
    notes: list[str] = []
    for target in targets(template):
        closure = import_closure([target.entry], roots)
        paths = [p for m in sorted(closure.modules) if (p := _module_path(m, roots)) is not None]
        used = fields_read(paths, defaults)
        for name in sorted(used):
            variable = f"CARSBOT_{name.upper()}"
            value = target.environment.get(variable)
            if value is None:
                if required(name, defaults[name]):
                    where = ", ".join(sorted(Path(p).relative_to(repo_root()).as_posix() for p in used[name]))
                    problems.append(
                        f"{target.logical_id}: reads settings.{name} ({where}) but {variable} is not set"
                    )
                continue
            if name.endswith("_secret"):
                secret = _ref(value)
                if secret is None or secret not in secrets:
                    problems.append(f"{target.logical_id}: {variable} is not a Ref to a declared secret")
                elif not _may_read_secret(target, secret, resources):
                    problems.append(
                        f"{target.logical_id}: reads secret {secret} but has no GetSecretValue on it"
                    )
        notes.append(
            f"{target.logical_id} ({target.entry}): {len(paths)} modules read {len(used)} settings: "
            + ", ".join(sorted(used))
        )
    return problems, notes


def check_samconfig(template: Mapping[str, Any], path: Path) -> tuple[list[str], list[str]]:
    parameters = set(template.get("Parameters", {}))
    config = tomllib.loads(path.read_text())
    problems, notes = [], []
    for env, section in config.items():
        if not isinstance(section, dict) or "deploy" not in section:
            continue
        overrides = dict(
            item.split("=", 1)
            for item in shlex.split(
                str(section["deploy"].get("parameters", {}).get("parameter_overrides", ""))
            )
            if "=" in item
        )
        unknown = sorted(set(overrides) - parameters)
        if unknown:
            problems.append(f"samconfig.toml [{env}]: parameters not in the template: {', '.join(unknown)}")
        allowed = template.get("Parameters", {}).get("Stage", {}).get("AllowedValues", [])
        stage = overrides.get("Stage")
        if not stage:
            problems.append(f"samconfig.toml [{env}]: parameter_overrides names no Stage")
        elif allowed and stage not in allowed:
            problems.append(f"samconfig.toml [{env}]: Stage={stage} is not one of {allowed}")
        stack = section.get("global", {}).get("parameters", {}).get("stack_name")
        notes.append(f"samconfig [{env}]: stack {stack}, stage {stage}, {len(overrides)} overrides")
    return problems, notes


def main(argv: Sequence[str] | None = None) -> int:
    root = repo_root()
    template = load_template(root / "template.yaml")
    roots = [root / "functions", root / "monitor"]
    problems, notes = check_template(template, roots)
    more_problems, more_notes = check_samconfig(template, root / "samconfig.toml")
    for line in notes + more_notes:
        print(f"deploy-check: {line}")
    for line in problems + more_problems:
        print(f"deploy-check: PROBLEM {line}")
    total = len(problems) + len(more_problems)
    print(f"deploy-check: {'ok' if not total else f'{total} problem(s)'}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
