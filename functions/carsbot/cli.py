"""The ``carsbot`` console command.

Sub-commands are plug-ins: each distribution lists its own in the ``carsbot.commands`` entry-point group
(``pyproject.toml`` for the shipped ones, ``dev/pyproject.toml`` for demo/eval), and each module defines
``register(subparsers)``. Only the module of the command asked for is imported, so ``carsbot extract``
does not pay for Telethon or aiogram, and the shipped package never imports the dev package.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

GROUP = "carsbot.commands"


def commands() -> dict[str, str]:
    """Sub-command name -> module, from every installed distribution."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="carsbot", description="carsbot: used-car listings from Telegram.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    known = commands()
    wanted = next((arg for arg in argv if not arg.startswith("-")), None)
    modules = [known[wanted]] if wanted in known else list(dict.fromkeys(known.values()))
    for module_name in modules:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # a command whose module is not installed in this image
            if wanted in known:
                raise SystemExit(f"carsbot: command {wanted!r} is unavailable: {exc}") from exc
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
