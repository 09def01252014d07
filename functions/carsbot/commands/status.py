"""``carsbot status [--stage NAME] [--json]``: a stage's health on one screen.

Monitor lease holder and heartbeat age, the session version, channels active/paused/failing, queue and
DLQ depths, last post seen and last published, today's numbers and the alarms in ALARM
(carsbot.ops.status). Exit codes (for cron and CI): 0 all well, 1 something is wrong, 2 setup (stage,
credentials; see carsbot.cli).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

Printer = Callable[[str], None]


def register(subparsers: Any) -> None:
    status = subparsers.add_parser(
        "status", help="a stage's health on one screen (exit 1 when something is wrong)"
    )
    status.add_argument("--json", action="store_true", help="the report as one JSON object")
    status.set_defaults(func=cmd_status)


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "none"


def render(report: Any) -> list[str]:
    from carsbot import observability_names as names

    lines = [
        f"carsbot status: stage {report.stage} (stack {report.stack}, {report.region}) at {_when(report.at)}"
    ]
    for check in report.checks:
        lines.append(f"  {check.name:<9} {'ok' if check.ok else 'PROBLEM':<8} {check.summary}")
        lines += [f"  {'':<9} {'':<8} - {detail}" for detail in check.details]
    seen, published = _when(report.last_post_seen), _when(report.last_published)
    lines.append(f"  {'posts':<9} {'':<8} last seen {seen}; last published {published}")
    labels = {m.name: m.label or m.name for m in names.TODAY}
    today = ", ".join(f"{labels.get(k, k)} {v:g}" for k, v in report.today.items())
    lines.append(f"  {'today':<9} {'':<8} {today}")
    problems = report.problems
    lines.append(
        "status: ok"
        if not problems
        else f"status: {len(problems)} problem(s): {', '.join(c.name for c in problems)}"
    )
    return lines


def cmd_status(args: argparse.Namespace, *, out: Printer = print) -> int:
    from carsbot.ops.stage import require_stack
    from carsbot.ops.status import collect

    report = collect(require_stack())
    if args.json:
        out(json.dumps(report.as_dict(), ensure_ascii=False, default=str))
    else:
        for line in render(report):
            out(line)
    return 1 if report.problems else 0
