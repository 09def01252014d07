"""What ships holds no dev code: every function's `sam build` package and the monitor image.

The Lambda checks read `.aws-sam/build` (`make test` runs `sam build` in its `template` step first); the
image checks rebuild what the Dockerfile installs (its COPY lines, then the same `pip ... --no-deps .`)
without Docker.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

from carsbot_dev.bench_sizes import LIMIT_BYTES, package_size
from carsbot_dev.import_closure import (
    canonical,
    expected_requirements,
    first_party,
    handler_entries,
    import_closure,
    installed_with,
    project_specs,
    requirement_lines,
)
from carsbot_dev.local.stack import load_template, repo_root

ROOT = repo_root()
BUILD = ROOT / ".aws-sam" / "build"
FUNCTIONS = handler_entries(load_template())  # logical id -> handler module
OURS = first_party([ROOT / "functions", ROOT / "monitor", ROOT / "dev"]) | {"tests"}
DEV_TOOLS = {"moto", "samtranslator", "pytest", "_pytest", "hypothesis", "cfnlint", "mypy", "ruff"}
MAGIC_312 = (3531).to_bytes(2, "little") + b"\r\n"  # CPython 3.12's bytecode magic number
EM_AARCH64 = 183
# What functions/Makefile removes after pip: installed as dependencies, imported by nothing shipped.
REMOVED = {"setuptools"}
REMOVED_MODULES = {"setuptools", "pkg_resources", "_distutils_hack"}

built = pytest.mark.skipif(
    not (BUILD / "template.yaml").is_file(), reason="no sam build here: run `make sam-build` (make test does)"
)


@cache
def dev_only_distributions() -> frozenset[str]:
    """Distributions the dev package brings that nothing shipped needs (moto, pytest, samtranslator...)."""
    dev = tomllib.loads((ROOT / "dev" / "pyproject.toml").read_text())["project"]["dependencies"]
    shipped = installed_with(project_specs().values())
    return frozenset(installed_with(d for d in dev if canonical(Requirement(d).name) != "carsbot") - shipped)


def _top_level_names(dist: str) -> set[str]:
    found = metadata.distribution(dist)
    names = (found.read_text("top_level.txt") or "").split()
    for file in found.files or ():
        top = file.parts[0]
        if not top.endswith((".dist-info", ".data")) and top not in ("..", "__pycache__"):
            names.append(top.removesuffix(".py"))
    return set(names)


def _shipped_distributions(package: Path) -> set[str]:
    names = set()
    for info in package.glob("*.dist-info"):
        name = info.name.removesuffix(".dist-info").rsplit("-", 1)[0]
        names.add(canonical(name))
    return names


@built
def test_every_function_has_a_package() -> None:
    assert FUNCTIONS
    for logical_id, handler in FUNCTIONS.items():
        package = BUILD / logical_id
        assert (package / handler.replace(".", "/")).with_suffix(".py").is_file(), (
            f"{logical_id}: no {handler} in {package}: run make sam-build"
        )
        assert (package / "carsbot" / "__init__.py").is_file()


@built
@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_package_holds_no_dev_code(logical_id: str) -> None:
    package = BUILD / logical_id
    tops = {entry.name.removesuffix(".py") for entry in package.iterdir()}
    handler_package = FUNCTIONS[logical_id].split(".")[0]
    assert tops & OURS == {"carsbot", handler_package}, "only the shared package and its own handler"
    assert not tops & DEV_TOOLS
    assert not list(package.rglob("carsbot_dev*")) and not list(package.rglob("conftest.py"))
    dev_only = dev_only_distributions()
    assert {"moto", "aws-sam-translator", "pytest", "hypothesis"} <= dev_only  # the check has teeth
    assert not _shipped_distributions(package) & dev_only
    dev_modules = set().union(*(_top_level_names(dist) for dist in dev_only)) - {"tests", "test"}
    assert not tops & dev_modules, f"dev-only modules shipped: {sorted(tops & dev_modules)}"
    assert not (package / "requirements.txt").exists() and not (package / "Makefile").exists()
    assert not (package / handler_package / "requirements.txt").exists()


@built
@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_package_holds_exactly(logical_id: str) -> None:
    package = BUILD / logical_id
    handler_package = FUNCTIONS[logical_id].split(".")[0]
    specs = requirement_lines(ROOT / "functions" / handler_package / "requirements.txt")
    assert _shipped_distributions(package) == installed_with(specs) - REMOVED
    closure = import_closure([FUNCTIONS[logical_id]], [ROOT / "functions"])
    assert sorted(expected_requirements(closure, project_specs()).values()) == sorted(specs)
    for name in closure.external:  # every third-party module its code imports is in the package
        found = [package / name, package / f"{name}.py", *package.glob(f"{name}.*.so")]
        assert any(path.exists() for path in found), f"{name} is imported but not in {logical_id}"


@built
@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_nothing_shipped_imports_removed(logical_id: str) -> None:
    """The static closure of the handler over the whole package (its dependencies' imports too) never
    reaches what functions/Makefile deletes after pip (``cffi.setuptools_ext`` imports setuptools, but
    only a package's setup.py imports that)."""
    package = BUILD / logical_id
    assert not {path.name for path in package.iterdir()} & REMOVED_MODULES
    closure = import_closure([FUNCTIONS[logical_id]], [package])
    assert FUNCTIONS[logical_id] in closure.modules
    reached = {name: sorted(closure.external[name]) for name in REMOVED_MODULES & set(closure.external)}
    assert not reached, f"shipped modules import what functions/Makefile removes: {reached}"


@built
@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_package_built_runtime(logical_id: str) -> None:
    """Bytecode for CPython 3.12 that is never checked against its source (the code directory is
    read-only, so modules would otherwise be compiled at every cold start), and arm64 binaries."""
    package = BUILD / logical_id
    sources = [p for p in package.rglob("*.py") if "__pycache__" not in p.parts]
    assert sources
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-312.pyc"
        assert pyc.is_file(), f"no bytecode for {source.relative_to(package)}"
    for pyc in package.rglob("*.pyc"):
        header = pyc.read_bytes()[:8]
        assert pyc.name.endswith(".cpython-312.pyc"), pyc
        assert header[:4] == MAGIC_312, f"{pyc.relative_to(package)} was not compiled by Python 3.12"
        assert int.from_bytes(header[4:8], "little") == 0b01, f"{pyc} is not an unchecked hash-based pyc"
    for binary in package.rglob("*.so*"):
        with binary.open("rb") as file:
            head = file.read(20)
        assert head[:4] == b"\x7fELF" and int.from_bytes(head[18:20], "little") == EM_AARCH64, binary
    assert package_size(package).total < LIMIT_BYTES


# ------------------------------------------------------------------------------------------ monitor image
DOCKERFILE = ROOT / "monitor" / "Dockerfile"
IMAGE_SOURCES = {"pyproject.toml", "README.md", "functions/carsbot", "monitor/carsbot_monitor"}


def _stages() -> dict[str, str]:
    parts = re.split(r"^FROM \S+ AS (\w+)\s*$", DOCKERFILE.read_text(), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _copies(stage: str) -> list[list[str]]:
    return [line.split()[1:] for line in _stages()[stage].splitlines() if line.startswith("COPY ")]


def test_image_copies_only_shipped_sources() -> None:
    sources = [arg for args in _copies("build") for arg in args[:-1]]
    assert set(sources) == IMAGE_SOURCES, "the image's build stage copies only the shipped packages"
    assert _copies("runtime") == [["--from=build", "/opt/carsbot", "/opt/carsbot"]]  # the virtualenv only


@pytest.fixture(scope="module")
def image_wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The distribution the Dockerfile installs: its COPY lines into a context, then `pip wheel --no-deps .`
    (same build as its `pip install --no-deps .`)."""
    context = tmp_path_factory.mktemp("image-context")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")  # monitor/Dockerfile.dockerignore
    for *sources, target in _copies("build"):
        for source in sources:
            destination = context / target / (Path(source).name if target.endswith("/") else "")
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, destination, ignore=ignore)
            else:
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / source, destination)
    out = context / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), "."],
        cwd=context,
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("carsbot-*.whl")
    return zipfile.ZipFile(wheel)


def test_image_package_holds_no_dev_code(image_wheel: zipfile.ZipFile) -> None:
    names = image_wheel.namelist()
    tops = {name.split("/", 1)[0] for name in names}
    info = next(top for top in tops if top.endswith(".dist-info"))
    assert tops == {"carsbot", "carsbot_monitor", info}
    assert "carsbot/observability.py" in names and "carsbot_monitor/cli.py" in names
    assert not [name for name in names if "carsbot_dev" in name or "/tests/" in name or "conftest" in name]
    entry_points = image_wheel.read(f"{info}/entry_points.txt").decode()
    assert "carsbot_dev" not in entry_points and "monitor = carsbot_monitor.cli" in entry_points


def test_image_installs_what_the_monitor_imports() -> None:
    """The Dockerfile's third-party set == what `carsbot monitor ...` (its CMD and health check) reaches."""
    text = DOCKERFILE.read_text()
    install = re.search(r"RUN /opt/carsbot/bin/pip install \\\n((?:\s+\"[^\"]+\"(?: \\)?\n)+)", text)
    assert install is not None, "the Dockerfile's third-party pip install"
    installed = re.findall(r'"([^"]+)"', install.group(1))
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    commands: dict[str, Any] = pyproject["entry-points"]["carsbot.commands"]
    assert 'CMD ["monitor", "run"]' in text and 'CMD ["carsbot", "monitor", "healthcheck"]' in text
    entries = [pyproject["scripts"]["carsbot"].split(":")[0], commands["monitor"]]
    closure = import_closure(entries, [ROOT / "functions", ROOT / "monitor"])
    assert not closure.unresolved
    expected = expected_requirements(closure, project_specs())
    assert sorted(installed) == sorted(expected.values())
    assert not set(closure.distributions) - installed_with(installed)
