"""Critical events for the admins' Логи tab: session revoked, DLQ growth, payment rejections, channel lost.

Any component calls ``record(kind, details)``; the events live in one StateTable item (``EVENTS_KEY``,
newest first, capped at ``CAP``) written with an optimistic version check, so concurrent writers never
lose each other's events. The sheets sync mirrors the list into Логи. Never put a secret or a seller
contact in ``details``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import PutError

from carsbot.adapters.db.conditions import is_conditional_failure
from carsbot.adapters.db.models import StateModel

EVENTS_KEY = "events#critical"
CAP = 1000
ATTEMPTS = 5


def recent() -> list[dict[str, Any]]:
    """Newest first: ``[{"at": iso, "kind": str, "details": str}, ...]``."""
    try:
        item = StateModel.get(EVENTS_KEY, consistent_read=True)
    except StateModel.DoesNotExist:
        return []
    return list((item.data or {}).get("events", []))


def record(kind: str, details: str = "", now: datetime | None = None) -> None:
    """Add one event (``kind`` e.g. "channel_lost"; ``details`` in Russian for the admins)."""
    record_many([(kind, details)], now)


def record_many(events: list[tuple[str, str]], now: datetime | None = None) -> None:
    if not events:
        return
    at = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    new = [{"at": at, "kind": kind[:60], "details": details[:300]} for kind, details in events]
    condition: Any
    for _ in range(ATTEMPTS):
        try:
            item = StateModel.get(EVENTS_KEY, consistent_read=True)
            version = int(item.version or 0)
            old = list((item.data or {}).get("events", []))
            condition = StateModel.version == version
        except StateModel.DoesNotExist:
            version, old, condition = 0, [], StateModel.pk.does_not_exist()
        fresh = StateModel(EVENTS_KEY, version=version + 1, data={"events": (new[::-1] + old)[:CAP]})
        try:
            fresh.save(condition=condition)
            return
        except PutError as exc:
            if not is_conditional_failure(exc):
                raise
    raise RuntimeError("the events log kept changing; gave up")
