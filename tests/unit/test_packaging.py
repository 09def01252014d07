"""Packaging guards: each function's requirements are what its handler imports, every function is built by
functions/Makefile, and handlers stay light to import."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from packaging.requirements import Requirement

from carsbot_dev.import_closure import (
    canonical,
    expected_requirements,
    handler_packages,
    import_closure,
    installed_with,
    project_specs,
    requirement_lines,
)
from carsbot_dev.local.stack import load_template, repo_root

ROOT = repo_root()
FUNCTIONS = ROOT / "functions"
TEMPLATE = load_template()
PACKAGES = handler_packages(TEMPLATE)


def _functions() -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in TEMPLATE["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _requirements(package: str) -> dict[str, str]:
    lines = requirement_lines(FUNCTIONS / package / "requirements.txt")
    return {canonical(Requirement(line).name): line for line in lines}


def test_every_function_built_own_requirements() -> None:
    functions = _functions()
    assert {"ExtractFunction", "PublishFunction"} <= set(functions)
    assert TEMPLATE["Globals"]["Function"]["CodeUri"] == "functions/"
    for logical_id, resource in functions.items():
        assert resource.get("Metadata", {}).get("BuildMethod") == "makefile", (
            f"{logical_id}: give it `Metadata: BuildMethod: makefile` (README: Adding a function)"
        )
        assert resource["Properties"].get("CodeUri", "functions/") == "functions/", logical_id
        package = resource["Properties"]["Handler"].split(".")[0]
        assert (FUNCTIONS / package / "__init__.py").is_file(), f"{logical_id}: no functions/{package}"
        assert (FUNCTIONS / package / "requirements.txt").is_file(), f"{logical_id}: no requirements.txt"
        # What `sam build` will run for it (dry run): the shared package, its own package, its requirements.
        dry = subprocess.run(
            ["make", "--no-print-directory", "-n", f"build-{logical_id}", "ARTIFACTS_DIR=/nonexistent/out"],
            cwd=FUNCTIONS,
            capture_output=True,
            text=True,
        )
        assert dry.returncode == 0, f"{logical_id}: functions/Makefile has no target for it:\n{dry.stderr}"
        assert f"cp -R carsbot {package} " in dry.stdout, dry.stdout
        assert f"-r {package}/requirements.txt" in dry.stdout, dry.stdout
        assert "--platform manylinux2014_aarch64" in dry.stdout and "--python-version 3.12" in dry.stdout
        assert "--invalidation-mode unchecked-hash" in dry.stdout


def test_makefile_needs_artifacts_dir() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ARTIFACTS_DIR"}
    done = subprocess.run(
        ["make", "-n", "build-ExtractFunction"], cwd=FUNCTIONS, capture_output=True, text=True, env=env
    )
    assert done.returncode != 0 and "ARTIFACTS_DIR is not set" in done.stderr


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_requirements_what_handler_imports(package: str) -> None:
    """<package>/requirements.txt == the pyproject dependencies its handlers' static import closure
    needs: nothing imported is missing (lazy imports count: they run on the first record), nothing unused
    is added."""
    closure = import_closure(PACKAGES[package], [FUNCTIONS])
    assert not closure.unresolved, f"imported but not installed anywhere: {sorted(closure.unresolved)}"
    assert closure.modules >= set(PACKAGES[package])
    assert "carsbot_dev" not in {name.split(".")[0] for name in closure.modules}
    listed = _requirements(package)
    expected = expected_requirements(closure, project_specs())
    regenerate = f"python -m carsbot_dev.import_closure {' '.join(PACKAGES[package])}"
    assert sorted(listed) == sorted(expected), f"{package}/requirements.txt is stale: {regenerate} --write"
    missing = set(closure.distributions) - installed_with(listed.values())
    assert not missing, f"{package} imports {sorted(missing)}: add them to pyproject.toml and {regenerate}"


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_requirement_specs_agree_with_pyproject(package: str) -> None:
    declared = project_specs()
    for name, spec in _requirements(package).items():
        assert name in declared, f"{package}: {name} is not in pyproject.toml [project.dependencies]"
        assert spec == declared[name], f"{package}: {spec!r} != pyproject {declared[name]!r}"


def test_closure_follows_lazy_imports_skips(tmp_path: Any) -> None:
    """The closure the requirement files are checked against: lazy imports count, annotations do not."""
    pkg = tmp_path / "handlerpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "app.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import helper\n"
        "if TYPE_CHECKING:\n    import aiogram\n"
        "def handler():\n    import pydantic\n    return helper\n"
    )
    (pkg / "helper.py").write_text("import importlib, json\nimportlib.import_module('boto3')\n")
    (pkg / "unused.py").write_text("import openai\n")
    closure = import_closure(["handlerpkg.app"], [tmp_path])
    assert closure.modules == {"handlerpkg", "handlerpkg.app", "handlerpkg.helper"}
    assert set(closure.external) == {"pydantic", "boto3"}
    assert set(closure.distributions) == {"pydantic", "boto3"}
    assert closure.why("boto3") == ["handlerpkg.app -> handlerpkg.helper"]  # what --why prints


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
