"""asyncio helpers of the monitor: waiting on events, abandoning work, ending stubborn tasks, I/O threads.

* :func:`wait_any` — until one of several events is set (or a timeout);
* :func:`unless_set` — await something, but give it up (cancelled, :class:`Interrupted`) once an event
  such as "stop" or "lease lost" is set;
* :func:`cancel_and_wait` — cancel tasks and wait for them, cancelling again any that swallow it;
* :func:`quiet_disconnect` — disconnect a Telethon client, whatever state it is in;
* :class:`BlockingPool` — a small dedicated thread pool for the synchronous SDKs (boto3, pynamodb).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class Interrupted(Exception):
    """The awaited work was abandoned because a stop/lease-loss event was set."""


async def wait_any(*events: asyncio.Event, timeout: float | None = None) -> bool:
    """Wait until any of ``events`` is set (or ``timeout``); returns whether one was set."""
    if any(event.is_set() for event in events):
        return True
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
    return bool(done)


async def unless_set(awaitable: Awaitable[T], *events: asyncio.Event) -> T:
    """The result of ``awaitable``, unless one of ``events`` is set first: then it is cancelled (and
    waited for) and :class:`Interrupted` is raised."""
    task = asyncio.ensure_future(awaitable)
    watcher = asyncio.ensure_future(wait_any(*events))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
        await cancel_and_wait([watcher, task])
    if not task.done() or task.cancelled():
        raise Interrupted()
    return task.result()


async def cancel_and_wait(
    tasks: Sequence[asyncio.Future[Any]], grace: float = 10.0
) -> set[asyncio.Future[Any]]:
    """Cancel ``tasks`` and wait until they end, cancelling again any that carry on (on Python 3.11 a
    cancellation can be lost, e.g. inside ``asyncio.wait_for``). Returns those still running after
    ``grace`` seconds (never waits longer)."""
    pending = {task for task in tasks if not task.done()}
    deadline = time.monotonic() + grace
    while pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(0.5, remaining))
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: no "exception was never retrieved" noise
    return pending


async def quiet_disconnect(client: Any) -> None:
    """Disconnect a Telethon client (sync or async ``disconnect``); errors are ignored."""
    with contextlib.suppress(Exception):
        result = client.disconnect()
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            await result


class BlockingPool:
    """Runs blocking (boto3/pynamodb) calls on a few dedicated threads: bounded concurrency and memory
    (every thread that allocates gets its own malloc arena)."""

    def __init__(self, workers: int, name: str = "monitor-io") -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)

    async def run(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args, **kwargs))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
