"""What a shipped entry point imports: the static import closure and the distributions behind it.

Each Lambda function ships the shared ``carsbot`` package, its own handler package and only the third-party
distributions its handler can reach (``functions/<name>/requirements.txt``); the monitor image likewise
(``monitor/Dockerfile``). This module derives those sets from the code, so the tests can check the
requirement files against it and a new function's author can print its requirements::

    python -m carsbot_dev.import_closure bot.app           # the specs of functions/bot/requirements.txt
    python -m carsbot_dev.import_closure bot.app --write   # (re)write that file
    python -m carsbot_dev.import_closure bot.app --why rapidfuzz   # which imports need it

The closure is static (``ast``): it follows every ``import`` in a first-party module, also the lazy ones
inside functions (``aiogram`` is imported on first use, but the function still needs it installed) and
``importlib.import_module("literal")``, and skips ``if TYPE_CHECKING:`` blocks (never run) and the modules
the Lambda runtime provides (``LAMBDA_RUNTIME_MODULES``). Third-party top-level names are mapped to
distributions with ``importlib.metadata.packages_distributions()`` of the environment running this (the dev
virtualenv, which has every runtime dependency installed).
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import tomllib
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

# The Lambda runtime (template.yaml: python3.12 on arm64), for evaluating environment markers.
LAMBDA_MARKERS: dict[str, str] = {
    "python_version": "3.12",
    "python_full_version": "3.12.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "aarch64",
    "os_name": "posix",
}

# Modules the Lambda Python runtime itself provides (not installed in a package): SnapStart's runtime hooks.
LAMBDA_RUNTIME_MODULES = frozenset({"snapshot_restore_py"})


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name (``RapidFuzz`` -> ``rapidfuzz``, ``a_b`` -> ``a-b``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Closure:
    """First-party modules an entry point reaches and the third-party top-level names they import."""

    modules: frozenset[str]
    external: Mapping[str, frozenset[str]]  # top-level import name -> first-party modules importing it
    distributions: Mapping[str, frozenset[str]] = field(default_factory=dict)  # distribution -> names
    unresolved: frozenset[str] = frozenset()  # imported names no installed distribution provides
    via: Mapping[str, str | None] = field(default_factory=dict)  # module -> first importer

    def chain(self, module: str) -> list[str]:
        """How the entry points reach ``module``: ``[entry, ..., module]``."""
        found: list[str] = []
        current: str | None = module
        while current is not None and current not in found:
            found.append(current)
            current = self.via.get(current)
        return found[::-1]

    def why(self, distribution: str) -> list[str]:
        """One import chain per module that imports ``distribution`` (its top-level names)."""
        names = self.distributions.get(canonical(distribution), frozenset({distribution}))
        importers = sorted({m for name in names for m in self.external.get(name, ())})
        return [" -> ".join(self.chain(importer)) for importer in importers]


def _module_file(name: str, roots: Sequence[Path]) -> Path | None:
    relative = Path(*name.split("."))
    for root in roots:
        package = root / relative / "__init__.py"
        if package.is_file():
            return package
        module = (root / relative).with_suffix(".py")
        if module.is_file():
            return module
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Imports(ast.NodeVisitor):
    """Absolute names of everything a module imports (``from a import b`` yields ``a`` and ``a.b``)."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        self.names: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):  # annotations only: never executed
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.names.update(alias.name for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            parts = self.package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1])
            target = f"{base}.{node.module}" if node.module else base
        else:
            target = node.module or ""
        self.names.add(target)
        self.names.update(f"{target}.{alias.name}" for alias in node.names if alias.name != "*")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        first = node.args[0] if node.args else None
        literal = first.value if isinstance(first, ast.Constant) else None
        if called == "import_module" and isinstance(literal, str) and not literal.startswith("."):
            self.names.add(literal)
        self.generic_visit(node)


def first_party(roots: Sequence[Path]) -> set[str]:
    """Top-level packages and modules found in the source roots."""
    names = set()
    for root in roots:
        names |= {p.parent.name for p in root.glob("*/__init__.py")}
        names |= {p.stem for p in root.glob("*.py")}
    return names


def import_closure(entries: Iterable[str], roots: Sequence[Path]) -> Closure:
    """The static closure of ``entries`` (module names) over the first-party code in ``roots``."""
    ours = first_party(roots)
    stdlib = set(sys.stdlib_module_names) | {"__future__"} | LAMBDA_RUNTIME_MODULES
    via: dict[str, str | None] = {}  # module -> the module that first imported it (breadth first)
    external: dict[str, set[str]] = {}
    queue: deque[tuple[str, str | None]] = deque((entry, None) for entry in entries)
    while queue:
        name, importer = queue.popleft()
        if name in via:
            continue
        path = _module_file(name, roots)
        if path is None:  # ``from pkg import function``: pkg.function is not a module
            continue
        via[name] = importer
        parts = name.split(".")
        queue.extend((".".join(parts[:i]), name) for i in range(1, len(parts)))  # parent packages run first
        visitor = _Imports(name, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        for imported in sorted(visitor.names):
            top = imported.split(".")[0]
            if top in ours:
                queue.append((imported, name))
            elif top and top not in stdlib:
                external.setdefault(top, set()).add(name)
    providers = metadata.packages_distributions()
    distributions: dict[str, set[str]] = {}
    unresolved = set()
    for top in external:
        dists = providers.get(top)
        if not dists:
            unresolved.add(top)
        for dist in dists or ():
            distributions.setdefault(canonical(dist), set()).add(top)
    return Closure(
        modules=frozenset(via),
        via=via,
        external={k: frozenset(v) for k, v in external.items()},
        distributions={k: frozenset(v) for k, v in distributions.items()},
        unresolved=frozenset(unresolved),
    )


@cache
def _requires(dist: str) -> tuple[Requirement, ...]:
    return tuple(Requirement(line) for line in metadata.distribution(dist).requires or ())


def installed_with(specs: Iterable[str], markers: Mapping[str, str] = LAMBDA_MARKERS) -> set[str]:
    """Every distribution pip installs for ``specs`` (with extras and markers), from installed metadata."""
    found: set[str] = set()
    queue = [(canonical(req.name), frozenset(req.extras)) for req in map(Requirement, specs)]
    done: set[tuple[str, frozenset[str]]] = set()
    while queue:
        dist, extras = queue.pop()
        if (dist, extras) in done:
            continue
        done.add((dist, extras))
        found.add(dist)
        for req in _requires(dist):
            wanted = req.marker is None or any(
                req.marker.evaluate({**markers, "extra": extra}) for extra in (extras or {""})
            )
            if wanted:
                queue.append((canonical(req.name), frozenset(req.extras)))
    return found


def requirement_lines(path: Path) -> list[str]:
    """The requirement specs of a requirements file (comments and blank lines dropped)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def project_specs(pyproject: Path | None = None) -> dict[str, str]:
    """Distribution name -> spec, from ``[project.dependencies]`` of the shipped ``pyproject.toml``."""
    pyproject = pyproject or repo_root() / "pyproject.toml"
    specs = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    return {canonical(Requirement(spec).name): spec for spec in specs}


def handler_entries(template: Mapping[str, object]) -> dict[str, str]:
    """Function logical id -> handler module (``extract.app``) of every function in a SAM template."""
    found = {}
    resources = template.get("Resources", {})
    assert isinstance(resources, Mapping)
    for logical_id, resource in resources.items():
        if resource.get("Type") == "AWS::Serverless::Function":
            handler = resource.get("Properties", {}).get("Handler", "")
            found[logical_id] = handler.rpartition(".")[0]
    return found


def handler_packages(template: Mapping[str, object]) -> dict[str, list[str]]:
    """Handler package (``extract``) -> its handler modules, over every function of a SAM template."""
    found: dict[str, list[str]] = {}
    for module in handler_entries(template).values():
        found.setdefault(module.split(".")[0], []).append(module)
    return found


def expected_requirements(closure: Closure, specs: Mapping[str, str]) -> dict[str, str]:
    """The requirement specs a package needs for ``closure``: every ``pyproject.toml`` dependency that its
    imported distributions are (or bring in), e.g. ``pymorphy3-dicts-ru`` with ``pymorphy3``."""
    installed = installed_with(closure.distributions)
    return {name: spec for name, spec in sorted(specs.items()) if name in installed}


REQUIREMENTS_HEADER = """\
# Third-party distributions of the {package} function (functions/Makefile installs them in its package):
# what its handler's imports reach, with the specs of pyproject.toml [project.dependencies]
# (tests/unit/test_packaging.py checks both). Regenerate with:
#   python -m carsbot_dev.import_closure {entries} --write
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print the requirement specs of entry point modules.")
    parser.add_argument("entries", nargs="+", help="module names, e.g. extract.app")
    parser.add_argument("--root", action="append", type=Path, help="source root (default: functions/)")
    parser.add_argument(
        "--write", action="store_true", help="write functions/<package>/requirements.txt instead of printing"
    )
    parser.add_argument("--why", metavar="DISTRIBUTION", help="print the import chains that need it")
    args = parser.parse_args(argv)
    closure = import_closure(args.entries, args.root or [repo_root() / "functions"])
    specs = project_specs()
    wanted = expected_requirements(closure, specs)
    if args.why:
        chains = closure.why(args.why)
        print("\n".join(chains) if chains else f"nothing imports {args.why}")
        return 0
    if args.write:
        package = args.entries[0].split(".")[0]
        header = REQUIREMENTS_HEADER.format(package=package, entries=" ".join(args.entries))
        target = repo_root() / "functions" / package / "requirements.txt"
        target.write_text(header + "".join(f"{spec}\n" for spec in wanted.values()))
        print(f"wrote {target.relative_to(repo_root())}", file=sys.stderr)
    else:
        print("\n".join(wanted.values()))
    covered = installed_with(wanted.values())
    missing = sorted(set(closure.distributions) - covered)
    for dist in sorted(set(closure.distributions) - set(specs)):
        how = "installed with the above" if dist in covered else "add it to [project.dependencies]"
        print(f"# {dist} (imported): not in pyproject.toml; {how}", file=sys.stderr)
    for name in sorted(closure.unresolved):
        print(f"# {name}: imported but no installed distribution provides it", file=sys.stderr)
    return 1 if closure.unresolved or missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
