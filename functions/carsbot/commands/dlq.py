"""``carsbot dlq list|show|redrive|purge [QUEUE] [--stage NAME]``: the stage's dead-letter queues.

* ``list`` — every DLQ with its depth, source queue and consumer;
* ``show QUEUE`` — its messages: when sent, how often received, why they failed (what the consumer
  logged, or Lambda's error attributes) and the body without secrets or seller contacts;
* ``redrive QUEUE`` — back to the source queue (SQS message move task; ``--wait`` follows it);
* ``purge QUEUE`` — delete them all, after a confirmation (``--yes`` to skip it).

QUEUE is the short name shown by ``list`` (``posts``, ``publish``...), the queue's name or logical id.
Exit codes: 0 done, 1 the queue/operation failed, 2 setup (stage, credentials; see carsbot.cli).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

Printer = Callable[[str], None]


def register(subparsers: Any) -> None:
    dlq = subparsers.add_parser(
        "dlq", help="dead-letter queues: list, show why messages failed, redrive, purge"
    )
    sub = dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="every DLQ with its depth")
    listing.set_defaults(func=cmd_list)
    show = sub.add_parser("show", help="messages of a DLQ and why they failed")
    show.add_argument("queue")
    show.add_argument("--max", type=int, default=10, help="messages to show (default 10)")
    show.add_argument("--no-logs", action="store_true", help="do not search the consumer's logs")
    show.set_defaults(func=cmd_show)
    redrive = sub.add_parser("redrive", help="move the messages back to the source queue")
    redrive.add_argument("queue")
    redrive.add_argument("--max-per-second", type=int, help="move rate (default: as fast as SQS allows)")
    redrive.add_argument("--wait", action="store_true", help="wait until the move task has finished")
    redrive.add_argument(
        "--client-side", action="store_true", help="move by receive/send/delete instead of a move task"
    )
    redrive.set_defaults(func=cmd_redrive)
    purge = sub.add_parser("purge", help="delete every message of a DLQ (asks first)")
    purge.add_argument("queue")
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    purge.set_defaults(func=cmd_purge)


def _queue(name: str, out: Printer) -> Any:
    from carsbot.ops.dlq import QueueNotFound, find_queue
    from carsbot.ops.stage import require_stack

    try:
        return find_queue(require_stack(), name)
    except QueueNotFound as exc:
        out(str(exc))
        return None


def cmd_list(args: argparse.Namespace, *, out: Printer = print) -> int:
    from carsbot.ops.dlq import dead_letter_queues
    from carsbot.ops.stage import require_stack

    info = require_stack()
    queues = dead_letter_queues(info)
    out(f"dead-letter queues of {info.name}:")
    out(f"{'QUEUE':<12} {'MESSAGES':>8} {'IN FLIGHT':>9}  {'NAME':<34} FED BY")
    for queue in queues:
        fed_by = queue.source_logical_id or "async invocations"
        consumers = ", ".join(queue.consumers)
        out(
            f"{queue.key:<12} {queue.visible:>8} {queue.in_flight:>9}  {queue.name:<34} "
            f"{fed_by}{' -> ' + consumers if consumers else ''}"
        )
    return 0


def cmd_show(args: argparse.Namespace, *, out: Printer = print) -> int:
    from carsbot.ops.dlq import peek

    queue = _queue(args.queue, out)
    if queue is None:
        return 1
    messages = peek(queue, max_messages=max(1, args.max), with_reasons=not args.no_logs)
    out(f"{queue.name}: {queue.visible} message(s); showing {len(messages)}")
    for message in messages:
        sent = message.sent_at.strftime("%Y-%m-%d %H:%M:%S UTC") if message.sent_at else "?"
        out("")
        out(f"message {message.message_id}  sent {sent}  receives {message.receive_count} (this look too)")
        if message.source_arn:
            out(f"  from: {message.source_arn}")
        if message.reasons:
            for reason in message.reasons:
                out(f"  why:  {reason}")
        else:
            logs = ", ".join(queue.log_groups) or "no consumer log group"
            out(f"  why:  nothing logged about it in the last 14 days ({logs})")
        out(f"  body: {message.body}")
    if messages:
        out("")
        key = queue.key
        out(f"fixed the cause? `carsbot dlq redrive {key}`; handled by hand? `carsbot dlq purge {key}`")
    return 0


def cmd_redrive(args: argparse.Namespace, *, out: Printer = print) -> int:
    from carsbot.ops.dlq import QueueNotFound, move_task_status, redrive

    queue = _queue(args.queue, out)
    if queue is None:
        return 1
    if queue.visible == 0:
        out(f"{queue.name} is empty: nothing to redrive")
        return 0
    try:
        result = redrive(queue, max_per_second=args.max_per_second, client_side=args.client_side)
    except QueueNotFound as exc:
        out(str(exc))
        return 1
    destination = queue.source_url or "?"
    if result.method == "client-side":
        out(f"moved {result.moved} message(s) from {queue.name} to {destination}: {result.note}")
        return 0
    out(f"move task started: {queue.visible} message(s) from {queue.name} to {destination}")
    out(f"task handle: {result.task_handle}")
    if not args.wait:
        out(
            f"follow it with `carsbot dlq list` (the DLQ empties) or `carsbot dlq redrive {queue.key} --wait`"
        )
        return 0
    while True:
        tasks = move_task_status(queue)
        task = tasks[0] if tasks else {}
        status = str(task.get("Status", "UNKNOWN"))
        moved = task.get("ApproximateNumberOfMessagesMoved", 0)
        if status in ("COMPLETED", "CANCELLED", "FAILED"):
            reason = task.get("FailureReason", "")
            out(f"move task {status.lower()}: {moved} message(s) moved {reason}".rstrip())
            return 0 if status == "COMPLETED" else 1
        time.sleep(2)


def cmd_purge(args: argparse.Namespace, *, out: Printer = print, prompt: Callable[[str], str] = input) -> int:
    from carsbot.ops.dlq import purge

    queue = _queue(args.queue, out)
    if queue is None:
        return 1

    def confirm(question: str) -> bool:
        if args.yes:
            return True
        answer = prompt(f"{question} Type the queue's short name ({queue.key}) to confirm: ")
        return answer.strip() == queue.key

    if not purge(queue, confirm=confirm):
        out("not purged")
        return 1
    out(f"purged {queue.name}")
    return 0
