"""Lambda package sizes: what ``sam build`` put in ``.aws-sam/build/<Function>``, beside the old layout.

Run by ``make bench`` (after ``make sam-build``)::

    python -m carsbot_dev.bench_sizes [--build-dir .aws-sam/build]

Each function's package holds the shared ``carsbot`` package, its handler package and the distributions of
its own ``requirements.txt`` (functions/Makefile), plus bytecode compiled for the runtime. The baseline,
measured from the same build, is the old layout: one package with every function's code and every
dependency, without bytecode, which every function shipped. Sizes are unzipped bytes (what Lambda's
250 MiB limit counts, with the layers), in MiB.

What the bytecode buys: the time to import each handler here with its modules' bytecode, beside the same
import compiling every module from source (``-B`` and an empty ``PYTHONPYCACHEPREFIX``), which is what a
cold start pays on Lambda's read-only code directory when the package ships no bytecode.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from carsbot_dev.import_closure import handler_entries, repo_root

LIMIT_BYTES = 262_144_000  # Lambda: 250 MiB unzipped per function, code and layers together
MIB = 1024 * 1024


@dataclass
class PackageSize:
    name: str
    files: dict[str, int] = field(default_factory=dict)  # relative path -> bytes

    @property
    def total(self) -> int:
        return sum(self.files.values())

    @property
    def bytecode(self) -> int:
        return sum(size for path, size in self.files.items() if path.endswith(".pyc"))

    def largest(self, count: int = 3) -> list[tuple[str, int]]:
        """The biggest top-level entries (packages, modules), biggest first."""
        tops: dict[str, int] = {}
        for path, size in self.files.items():
            top = path.split("/", 1)[0]
            tops[top] = tops.get(top, 0) + size
        return sorted(tops.items(), key=lambda item: -item[1])[:count]


def package_size(path: Path) -> PackageSize:
    found = PackageSize(path.name)
    for folder, _dirs, names in os.walk(path):
        for name in names:
            file = Path(folder, name)
            if not file.is_symlink():
                found.files[file.relative_to(path).as_posix()] = file.stat().st_size
    return found


def all_in_one(packages: Iterable[PackageSize]) -> PackageSize:
    """Every function's files in one package without bytecode: what each function shipped before."""
    merged = PackageSize("all-in-one (before)")
    for package in packages:
        for path, size in package.files.items():
            if "__pycache__/" not in path:
                merged.files[path] = max(size, merged.files.get(path, 0))
    return merged


HANDLER_ENV = {"AWS_DEFAULT_REGION": "eu-central-1", "CARSBOT_IDEMPOTENCY_TABLE": "bench"}


def import_seconds(module: str, from_source: bool) -> float | None:
    """Wall time of ``import <module>`` in a fresh interpreter (None when it cannot be imported here)."""
    probe = f"import sys; sys.path.insert(0, {str(repo_root() / 'functions')!r}); import {module}"
    with tempfile.TemporaryDirectory() as empty:
        env = {**os.environ, **HANDLER_ENV}
        flags = []
        if from_source:
            env["PYTHONPYCACHEPREFIX"] = empty  # no bytecode found, none written: compile everything
            flags = ["-B"]
        started = time.perf_counter()
        command = [sys.executable, *flags, "-c", probe]  # this interpreter, a fixed probe
        done = subprocess.run(command, env=env, capture_output=True)  # noqa: S603
        elapsed = time.perf_counter() - started
    return elapsed if done.returncode == 0 else None


def import_report(handlers: dict[str, str]) -> list[str]:
    lines = [
        f"Handler import (cold start), {sys.implementation.name} {sys.version.split()[0]}: s with bytecode"
        " / compiling from source (no bytecode shipped)"
    ]
    for logical_id, module in sorted(handlers.items()):
        import_seconds(module, from_source=False)  # writes the bytecode of the dev tree once
        cached, source = import_seconds(module, False), import_seconds(module, True)
        if cached is None or source is None:
            lines.append(f"  {logical_id:<22}  n/a ({module} does not import outside Lambda)")
            continue
        lines.append(
            f"  {logical_id:<22}{cached:7.2f}{source:10.2f}   +{source - cached:.2f} s per cold start"
        )
    return lines


def _mib(size: int) -> str:
    return f"{size / MIB:7.1f}"


def report(build_dir: Path, functions: Sequence[str]) -> list[str]:
    packages = [package_size(build_dir / name) for name in functions]
    baseline = all_in_one(packages)
    lines = [
        f"Lambda packages in {build_dir} (unzipped MiB; limit {LIMIT_BYTES / MIB:.0f} MiB with layers)",
        f"  {'function':<22}{'MiB':>7}{'bytecode':>10}{'files':>8}{'of limit':>10}  largest",
    ]
    for package in [*packages, baseline]:
        largest = ", ".join(f"{name} {size / MIB:.0f}" for name, size in package.largest())
        lines.append(
            f"  {package.name:<22}{_mib(package.total)}{_mib(package.bytecode):>10}{len(package.files):>8}"
            f"{package.total / LIMIT_BYTES:>10.0%}  {largest}"
        )
    biggest = max(packages, key=lambda p: p.total)
    lines.append(
        f"  before, every function shipped {_mib(baseline.total).strip()} MiB (no bytecode); now the largest"
        f" ({biggest.name}) ships {_mib(biggest.total).strip()} MiB with bytecode,"
        f" {_mib(biggest.total - biggest.bytecode).strip()} MiB without"
    )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print each Lambda function's built package size.")
    parser.add_argument("--build-dir", type=Path, default=repo_root() / ".aws-sam" / "build")
    parser.add_argument("--no-imports", action="store_true", help="sizes only (no handler import timing)")
    args = parser.parse_args(argv)
    from carsbot_dev.local.stack import load_template

    handlers = handler_entries(load_template())
    functions = sorted(handlers)
    missing = [name for name in functions if not (args.build_dir / name).is_dir()]
    if missing:
        print(f"bench_sizes: no package for {', '.join(missing)} in {args.build_dir}: run make sam-build")
        return 1
    print("\n".join(report(args.build_dir, functions)))
    if not args.no_imports:
        print("\n".join(import_report(handlers)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
