"""Reads that one update makes together: the sender's record and FSM item in one request.

aiogram's FSM middleware runs first and asks the storage for the sender's dialog state; the user-record
middleware runs next and needs the sender's record. In a private chat both belong to the same user, so
``DynamoDBStorage`` reads the two items with one BatchGetItem and leaves the record here; the middleware
takes it instead of reading it again. The scope lives exactly as long as one update is handled
(``BotRuntime.feed`` opens it around ``feed_update``); outside a scope (long polling) nothing is kept and
each reads for itself, as before.

Only what this update itself read is kept, never across updates: the cache is a per-update dict in a
context variable, so a record is never older than the update that uses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

USER = "user"  # the sender's record, by user id (left by the FSM storage, taken by the middleware)
_MISSING = object()
_scope: ContextVar[dict[tuple[str, Any], Any] | None] = ContextVar("carsbot_update_scope", default=None)


@contextmanager
def update_scope() -> Iterator[None]:
    """Open a scope for one update (nested scopes are independent)."""
    token = _scope.set({})
    try:
        yield
    finally:
        _scope.reset(token)


def active() -> bool:
    return _scope.get() is not None


def remember(kind: str, key: Any, value: Any) -> None:
    """Keep what was read (``None`` = read and absent) for the rest of this update; no-op outside one."""
    scope = _scope.get()
    if scope is not None:
        scope[(kind, key)] = value


def recall(kind: str, key: Any) -> tuple[bool, Any]:
    """``(True, value)`` when this update already read it (value may be ``None``), else ``(False, None)``."""
    scope = _scope.get()
    if scope is None:
        return False, None
    value = scope.get((kind, key), _MISSING)
    return (False, None) if value is _MISSING else (True, value)


def forget(kind: str, key: Any) -> None:
    scope = _scope.get()
    if scope is not None:
        scope.pop((kind, key), None)
