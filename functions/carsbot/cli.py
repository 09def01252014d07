"""The ``carsbot`` console command.

Sub-commands are plug-ins: each distribution lists its own in the ``carsbot.commands`` entry-point group
(``pyproject.toml`` for the shipped ones, ``dev/pyproject.toml`` for demo/eval), and each module defines
``register(subparsers)``. Only the module of the command asked for is imported, so ``carsbot extract``
does not pay for Telethon or aiogram, and the shipped package never imports the dev package.

Stages are handled here, once, for every command: ``--stage NAME`` anywhere on the line (or
``CARSBOT_STAGE``) makes ``carsbot.ops.stage`` find that stage's stack and set the ``CARSBOT_*`` settings
(tables, queues, secret names such as ``carsbot/dev/telegram-session``) before the command runs. Admin
commands refuse to guess a stage. AWS failures an operator can fix (no or expired credentials, no region,
an unreachable endpoint, a wrong stage) end in one line on stderr and exit code 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

GROUP = "carsbot.commands"
# Commands that act on a deployed stage's resources: they need --stage / CARSBOT_STAGE (or a fully
# configured environment, as in Lambda, ECS and the local runner).
ADMIN_COMMANDS = frozenset({"channels", "session", "bot", "dlq", "status", "sheets"})
EXIT_SETUP = 2


def commands() -> dict[str, str]:
    """Sub-command name -> module, from every installed distribution."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="carsbot", description="carsbot: used-car listings from Telegram.")
    parser.add_argument(
        "--stage",
        metavar="NAME",
        help="the deployed stage to act on (dev, prod...; default CARSBOT_STAGE); allowed anywhere",
    )
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


def _fail(line: str) -> int:
    print(f"carsbot: {line}", file=sys.stderr)
    return EXIT_SETUP


def prepare_stage(command: str | None, stage: str | None) -> None:
    """Point the settings at ``stage``'s stack (explicit), or at ``CARSBOT_STAGE``'s for admin commands."""
    import os

    from carsbot.ops.stage import CONFIGURED_MARKER, STAGE_ENV, StageError, apply_stage

    if stage:
        apply_stage(stage, override=True)
    elif command in ADMIN_COMMANDS and not os.environ.get(CONFIGURED_MARKER):
        env_stage = os.environ.get(STAGE_ENV)
        if not env_stage:
            raise StageError(f"which stage? pass --stage NAME or set {STAGE_ENV} (e.g. --stage dev)")
        apply_stage(env_stage, override=False)


def main(argv: Sequence[str] | None = None) -> int:
    from carsbot.ops.errors import explain
    from carsbot.ops.stage import StageError, split_stage_argument

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        stage, argv = split_stage_argument(argv)
    except StageError as exc:
        return _fail(str(exc))
    parser = build_parser(argv)
    args = parser.parse_args(argv)  # before any AWS call: --help and usage errors need no credentials
    try:
        prepare_stage(args.command, stage)
        return int(args.func(args) or 0)
    except StageError as exc:
        return _fail(str(exc))
    except Exception as exc:
        line = explain(exc)
        if line is None:
            raise
        return _fail(line)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
