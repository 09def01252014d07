"""Packaging guards: the Lambda requirements agree with the package, and handlers stay light to import."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _names(requirements: list[str]) -> dict[str, str]:
    found = {}
    for line in requirements:
        line = line.split("#", 1)[0].strip()
        if line:
            name = re.split(r"[<>=!~\[ ]", line, maxsplit=1)[0].lower().replace("_", "-")
            found[name] = line
    return found


def test_lambda_requirements_match_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    package = _names(project["dependencies"])
    lambdas = _names((ROOT / "functions" / "requirements.txt").read_text().splitlines())
    assert set(package) - set(lambdas) == {"telethon"}  # only the monitor container needs Telethon
    assert set(lambdas) <= set(package)
    for name, spec in lambdas.items():
        assert spec == package[name], f"{name}: requirements.txt {spec!r} != pyproject {package[name]!r}"


def test_handlers_import_no_heavy_sdk() -> None:
    """Cold starts: importing a handler must not pull in aiogram, openai or telethon."""
    probe = (
        "import sys; sys.path.insert(0, 'functions');"
        "import importlib; importlib.import_module(sys.argv[1]);"
        "print(','.join(m for m in ('aiogram', 'openai', 'telethon') if m in sys.modules))"
    )
    env_keys = {"CARSBOT_IDEMPOTENCY_TABLE": "t", "AWS_DEFAULT_REGION": "eu-central-1"}
    for module in ("extract.app", "publish.app"):
        done = subprocess.run(
            [sys.executable, "-c", probe, module],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, **env_keys},
            check=True,
        )
        assert done.stdout.strip() == "", f"{module} imports {done.stdout.strip()} at module level"


def test_domain_core_imports_no_sdk() -> None:
    probe = (
        "import sys, pkgutil, importlib, carsbot.core as core;"
        "[importlib.import_module(m.name) for m in pkgutil.walk_packages(core.__path__, 'carsbot.core.')];"
        "sdks = ('boto3', 'botocore', 'pynamodb', 'aiogram', 'openai', 'telethon', 'aiohttp');"
        "print(','.join(m for m in sdks if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
