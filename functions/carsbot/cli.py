"""The ``carsbot`` console command.

Each sub-command lives in its own module and registers itself lazily, so ``carsbot extract`` does not
pay for importing Telethon or aiogram.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# sub-command -> module that defines ``register(subparsers)``; each handler is ``args.func(args) -> int``.
COMMANDS: dict[str, str] = {
    "extract": "carsbot.commands.extract",
    "eval": "carsbot.commands.evaluate",
    "demo": "carsbot.commands.demo",
    "session": "carsbot_monitor.cli",
    "channels": "carsbot_monitor.cli",
    "monitor": "carsbot_monitor.cli",
}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="carsbot", description="carsbot: used-car listings from Telegram.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = next((arg for arg in argv if not arg.startswith("-")), None)
    modules = [COMMANDS[wanted]] if wanted in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for module_name in modules:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # a command whose module is not installed in this image
            if wanted in COMMANDS:
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
